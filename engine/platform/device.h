#pragma once
// The device the engine runs on (`--device`), resolved once at start-up, and how memory
// exhaustion on it is recognised.
#include <c10/core/Device.h>

#include <exception>
#include <stdexcept>
#include <string>

namespace shirg {

// A --device value that cannot be used here. what() is one line a person understands.
class DeviceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "auto": the first CUDA device LibTorch sees, else the CPU; "cpu"; "cuda" (= cuda:0); "cuda:N".
// Throws DeviceError for an unknown spelling, for cuda with a LibTorch built without CUDA, for
// cuda when no GPU is visible, and for a cuda:N beyond the visible devices.
at::Device resolve_device(const std::string& spec);

// CUDA devices LibTorch sees (0 for a CPU-only LibTorch or without a GPU).
int cuda_device_count();

// Waits until the work queued on `device` has run (CUDA runs kernels asynchronously: a stage's
// wall time is known only after this). No-op on the CPU.
void synchronize(const at::Device& device);

// True for an exhaustion of memory: LibTorch's out-of-memory error (CUDA, and the CPU allocator
// where it raises it) or std::bad_alloc.
bool is_out_of_memory(const std::exception& e);

}  // namespace shirg
