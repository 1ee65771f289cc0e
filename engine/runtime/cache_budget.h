#pragma once
// The prefix-cache budget of admission by memory (ExecutorConfig::cache_budget_bytes) from
// --cache-budget-mib and the memory of the device the caches live on.
#include <cstdint>
#include <string>

#include "engine/platform/device_memory.h"

namespace shirg {

struct CacheBudget {
  int64_t bytes = 0;   // 0 = no limit
  std::string reason;  // for the start-up log: how it was chosen
};

// mib >= 0: that many MiB (0 = no limit). mib = -1: half of the device's free memory now (call
// it after the model is loaded): the GPU's free memory on CUDA, MemAvailable / the cgroup's room
// on the CPU; no limit when `memory` cannot tell.
CacheBudget choose_cache_budget(int64_t mib, const DeviceMemorySource& memory);

}  // namespace shirg
