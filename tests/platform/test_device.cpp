// --device and --kernels: resolving the device (here, where no GPU is visible or LibTorch has no
// CUDA, every CUDA spelling is refused with one clear line), the kernel-set names, and how memory
// exhaustion is recognised.
#include "tests/common/catch_torch.h"

#include <c10/util/Exception.h>

#include <new>
#include <stdexcept>
#include <string>

#include "engine/platform/device.h"
#include "engine/platform/device_memory.h"
#include "engine/platform/kernels.h"

using namespace shirg;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("device flag: cpu, auto, and the CUDA spellings", "[device]") {
  CHECK(resolve_device("cpu") == at::Device(at::kCPU));
  const int gpus = cuda_device_count();
  CHECK(resolve_device("auto") == (gpus > 0 ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU)));
  for (const char* bad : {"gpu", "CUDA", "cuda:", "cuda:x", "cuda:-1", "cuda:123456", ""})
    CHECK_THROWS_WITH(resolve_device(bad),
                      ContainsSubstring("--device must be auto, cpu, cuda or cuda:N"));
  if (gpus == 0) {
    for (const char* spec : {"cuda", "cuda:0", "cuda:3"}) {
      INFO(spec);
      CHECK_THROWS_AS(resolve_device(spec), DeviceError);
      CHECK_THROWS_WITH(resolve_device(spec),
                        ContainsSubstring(std::string("--device ") + spec + ": ") &&
                            ContainsSubstring("--device cpu"));
    }
  } else {
    CHECK(resolve_device("cuda") == at::Device(at::kCUDA, 0));
    CHECK_THROWS_WITH(resolve_device("cuda:" + std::to_string(gpus)),
                      ContainsSubstring("CUDA device(s) are visible"));
  }
  synchronize(at::kCPU);  // a no-op on the CPU
}

TEST_CASE("kernels flag: the names", "[device]") {
  CHECK(parse_kernels("auto") == Kernels::kAuto);
  CHECK(parse_kernels("generic") == Kernels::kGeneric);
  CHECK(std::string(kernels_name(Kernels::kGeneric)) == "generic");
  CHECK_THROWS_WITH(parse_kernels("fast"),
                    ContainsSubstring("kernels must be auto or generic, got 'fast'"));
}

TEST_CASE("out-of-memory errors are recognised, other errors are not", "[device]") {
  CHECK(is_out_of_memory(c10::OutOfMemoryError(c10::SourceLocation{"f", "f.cpp", 1}, "CUDA oom")));
  CHECK(is_out_of_memory(std::bad_alloc()));
  CHECK_FALSE(is_out_of_memory(std::runtime_error("no")));
  CHECK_FALSE(is_out_of_memory(c10::Error(c10::SourceLocation{"f", "f.cpp", 1}, "other")));
}

TEST_CASE("the CPU's memory: total and free known, GPU-only figures not", "[device]") {
  const DeviceMemory m = read_device_memory(at::kCPU);
  CHECK(m.total > 0);
  CHECK(m.free > 0);
  CHECK(m.free <= m.total);
  CHECK(m.allocated == -1);
  CHECK(m.reserved == -1);
  CHECK(device_memory_source(at::kCPU)().total == m.total);
}
