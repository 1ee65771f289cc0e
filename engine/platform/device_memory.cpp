#include "engine/platform/device_memory.h"

#include <fstream>
#include <sstream>
#include <string>

#include "engine/platform/memory.h"

#ifdef SHIRG_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

namespace shirg {
namespace {

int64_t physical_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  int64_t kib = -1;
  while (in >> key >> kib >> unit)
    if (key == "MemTotal:") return kib * 1024;
  return -1;
}

DeviceMemory cpu_memory() {
  DeviceMemory m;
  m.total = physical_memory_bytes();
  if (auto avail = available_memory_bytes()) m.free = *avail;
  return m;
}

#ifdef SHIRG_WITH_CUDA
DeviceMemory cuda_memory(const at::Device& device) {
  DeviceMemory m;
  const c10::cuda::CUDAGuard guard(device.index());
  size_t free = 0, total = 0;
  if (cudaMemGetInfo(&free, &total) == cudaSuccess) {
    m.free = static_cast<int64_t>(free);
    m.total = static_cast<int64_t>(total);
  }
  // Index 0 of every statistic array is StatType::AGGREGATE (all pools), in every LibTorch.
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
  m.allocated = stats.allocated_bytes[0].current;
  m.reserved = stats.reserved_bytes[0].current;
  m.peak_allocated = stats.allocated_bytes[0].peak;
  return m;
}
#endif

}  // namespace

DeviceMemory read_device_memory(const at::Device& device) {
  if (device.is_cpu()) return cpu_memory();
#ifdef SHIRG_WITH_CUDA
  if (device.is_cuda()) return cuda_memory(device);
#endif
  return {};
}

DeviceMemorySource device_memory_source(const at::Device& device) {
  return [device] { return read_device_memory(device); };
}

void reset_peak_device_memory(const at::Device& device) {
#ifdef SHIRG_WITH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#else
  (void)device;
#endif
}

void release_cached_device_memory(const at::Device& device) {
#ifdef SHIRG_WITH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::emptyCache();
#else
  (void)device;
#endif
}

}  // namespace shirg
