#pragma once
// The memory of the device the model runs on: what admission by prefix-cache bytes and the
// /metrics gauges read. A DeviceMemorySource is a function so tests can stand in for a GPU.
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>

namespace shirg {

// Bytes; -1 where the source does not know.
struct DeviceMemory {
  int64_t total = -1;      // CUDA: the GPU's memory; CPU: physical memory or the cgroup limit
  int64_t free = -1;       // CUDA: free on the GPU (all processes); CPU: available_memory_bytes()
  int64_t allocated = -1;  // CUDA: in live tensors of this process (LibTorch's caching allocator)
  int64_t reserved = -1;   // CUDA: held by the caching allocator (allocated + cached blocks)
  int64_t peak_allocated = -1;  // CUDA: the most `allocated` since reset_peak_device_memory
};

using DeviceMemorySource = std::function<DeviceMemory()>;

// Reads the device's memory now. CUDA figures need a build with SHIRG_WITH_CUDA; without it a
// CUDA device reports -1 everywhere.
DeviceMemory read_device_memory(const at::Device& device);
DeviceMemorySource device_memory_source(const at::Device& device);

// Starts a new peak for DeviceMemory::peak_allocated (no-op on the CPU).
void reset_peak_device_memory(const at::Device& device);

// After an out-of-memory error: returns the caching allocator's unused CUDA blocks to the driver
// (no-op on the CPU and without SHIRG_WITH_CUDA).
void release_cached_device_memory(const at::Device& device);

}  // namespace shirg
