// configure_cpu_threads(): LibTorch thread count, BLAS flavour detection, and the pthread-OpenBLAS
// guard. SHIRG_EXPECT_BLAS (set by tests/platform/CMakeLists.txt for the pthread run) names the
// flavour this process must detect.
#include "tests/common/catch_torch.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include "engine/platform/cpu_threads.h"

using namespace shirg;

TEST_CASE("configure_cpu_threads sets the LibTorch thread count") {
  CHECK(configure_cpu_threads(1).torch_threads == 1);
  CHECK(at::get_num_threads() == 1);
  CHECK(configure_cpu_threads(2).torch_threads == 2);
  CHECK(configure_cpu_threads(0).torch_threads >= 1);  // 0 = all hardware threads
}

TEST_CASE("the detected BLAS flavour is the one loaded in this process") {
  const BlasFlavour f = detect_blas_flavour();
  auto get_parallel = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
  if (get_parallel == nullptr) {
    CHECK(f == BlasFlavour::kOther);
  } else {
    const int p = get_parallel();
    CHECK(f == (p == 0   ? BlasFlavour::kOpenblasSerial
                : p == 1 ? BlasFlavour::kOpenblasPthread
                         : BlasFlavour::kOpenblasOpenmp));
  }
  if (const char* want = std::getenv("SHIRG_EXPECT_BLAS"); want != nullptr && *want != '\0')
    CHECK(std::string(blas_flavour_name(f)) == want);
}

TEST_CASE("a pthread OpenBLAS is run single-threaded, the OpenMP one is left alone") {
  const char* env = std::getenv("OPENBLAS_NUM_THREADS");
  const bool env_set = env != nullptr && *env != '\0';
  const CpuThreadSetup s = configure_cpu_threads(2);
  INFO(s.describe());
  switch (s.blas) {
    case BlasFlavour::kOpenblasPthread:
      CHECK_FALSE(s.warning.empty());
      if (!env_set) CHECK(s.blas_threads == 1);
      break;
    case BlasFlavour::kOpenblasOpenmp:
    case BlasFlavour::kOpenblasSerial:
      CHECK(s.warning.empty());
      CHECK(s.blas_threads >= 1);
      break;
    case BlasFlavour::kOther:
      CHECK_FALSE(s.warning.empty());
      CHECK(s.blas_threads == -1);
      break;
  }
  // Matmuls still give the right answer whatever the flavour and thread count.
  const at::Tensor a = at::arange(0, 256 * 192, at::kFloat).reshape({256, 192}) / 1000.0;
  const at::Tensor b = at::ones({192, 128});
  const at::Tensor ref = a.sum(1, /*keepdim=*/true).expand({256, 128});
  CHECK(at::allclose(at::matmul(a, b), ref, 1e-4, 1e-3));
}

TEST_CASE("describe() names the thread counts and the flavour") {
  const CpuThreadSetup s = configure_cpu_threads(1);
  const std::string d = s.describe();
  CHECK(d.find("torch threads 1") != std::string::npos);
  CHECK(d.find(blas_flavour_name(s.blas)) != std::string::npos);
}
