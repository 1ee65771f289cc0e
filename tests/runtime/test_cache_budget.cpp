// The prefix-cache budget of admission by memory: --cache-budget-mib as given, or half of the
// model device's free memory, read through a DeviceMemorySource (a stand-in GPU here).
#include "tests/common/catch.h"

#include "engine/runtime/cache_budget.h"

using namespace shirg;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("the prefix-cache budget follows the flag or the device's free memory") {
  const DeviceMemorySource gpu = [] {
    DeviceMemory m;
    m.total = int64_t{80} << 30;
    m.free = int64_t{60} << 30;  // after a 16 GiB model and the allocator's cache
    m.allocated = int64_t{16} << 30;
    m.reserved = int64_t{18} << 30;
    return m;
  };
  const CacheBudget half = choose_cache_budget(-1, gpu);
  CHECK(half.bytes == int64_t{30} << 30);
  CHECK_THAT(half.reason, ContainsSubstring("half of the device's 60.0 GiB free"));
  CHECK(choose_cache_budget(512, gpu).bytes == int64_t{512} << 20);
  CHECK(choose_cache_budget(0, gpu).bytes == 0);  // no limit
  const DeviceMemorySource unknown = [] { return DeviceMemory{}; };
  const CacheBudget none = choose_cache_budget(-1, unknown);
  CHECK(none.bytes == 0);
  CHECK_THAT(none.reason, ContainsSubstring("unknown"));
  CHECK(choose_cache_budget(-1, {}).bytes == 0);
  // A full device: a budget of one byte (every request refused), never "no limit".
  const DeviceMemorySource full = [] {
    DeviceMemory m;
    m.free = 0;
    return m;
  };
  CHECK(choose_cache_budget(-1, full).bytes == 1);
}
