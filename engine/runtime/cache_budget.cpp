#include "engine/runtime/cache_budget.h"

#include <algorithm>

#include "engine/platform/memory.h"

namespace shirg {

CacheBudget choose_cache_budget(int64_t mib, const DeviceMemorySource& memory) {
  if (mib > 0) return {mib << 20, "--cache-budget-mib " + std::to_string(mib)};
  if (mib == 0) return {0, "no limit (--cache-budget-mib 0)"};
  const int64_t free = memory ? memory().free : -1;
  if (free < 0) return {0, "no limit (the device's free memory is unknown)"};
  const int64_t budget = std::max<int64_t>(1, free / 2);  // 0 would mean "no limit"
  return {budget, format_gib(budget) + ": half of the device's " + format_gib(free) + " free"};
}

}  // namespace shirg
