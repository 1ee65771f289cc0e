#include "engine/platform/device.h"

#include <ATen/Context.h>
#include <c10/util/Exception.h>
#include <torch/cuda.h>

#include <cstdlib>
#include <new>

namespace shirg {
namespace {

std::string visible_devices_note() {
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  return v ? std::string(" (CUDA_VISIBLE_DEVICES=") + v + ")" : std::string();
}

}  // namespace

int cuda_device_count() {
  if (!at::hasCUDA()) return 0;
  return static_cast<int>(torch::cuda::device_count());
}

void synchronize(const at::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

at::Device resolve_device(const std::string& spec) {
  if (spec == "cpu") return at::Device(at::kCPU);
  if (spec == "auto") return cuda_device_count() > 0 ? at::Device(at::kCUDA, 0) : at::kCPU;
  int index = 0;
  if (spec == "cuda") {
    index = 0;
  } else if (spec.rfind("cuda:", 0) == 0 && spec.size() > 5 && spec.size() <= 8 &&
             spec.find_first_not_of("0123456789", 5) == std::string::npos) {
    index = std::stoi(spec.substr(5));
  } else {
    throw DeviceError("--device must be auto, cpu, cuda or cuda:N, got '" + spec + "'");
  }
  if (!at::hasCUDA())
    throw DeviceError("--device " + spec +
                      ": this build's LibTorch has no CUDA support; use --device cpu or a CUDA "
                      "build (docs/deploy.md)");
  const int n = cuda_device_count();
  if (n == 0)
    throw DeviceError("--device " + spec + ": no CUDA device is visible" + visible_devices_note() +
                      "; use --device cpu or --device auto");
  if (index >= n)
    throw DeviceError("--device " + spec + ": only " + std::to_string(n) +
                      " CUDA device(s) are visible" + visible_devices_note());
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
}

bool is_out_of_memory(const std::exception& e) {
  return dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr ||
         dynamic_cast<const std::bad_alloc*>(&e) != nullptr;
}

}  // namespace shirg
