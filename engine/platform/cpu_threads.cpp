#include "engine/platform/cpu_threads.h"

#include "engine/platform/blas_core.h"
#include "engine/platform/malloc_tuning.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace shirg {
namespace {

// OpenBLAS's C entry points, looked up at run time: LibTorch links libopenblas.so.0 on Debian, but
// another BLAS (reference, MKL, a CUDA build's) may be there instead.
template <typename Fn>
Fn openblas_symbol(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
}
using GetIntFn = int (*)();
using SetIntFn = void (*)(int);
using GetConfigFn = char* (*)();

}  // namespace

const char* blas_flavour_name(BlasFlavour f) {
  switch (f) {
    case BlasFlavour::kOpenblasOpenmp:
      return "openblas-openmp";
    case BlasFlavour::kOpenblasPthread:
      return "openblas-pthread";
    case BlasFlavour::kOpenblasSerial:
      return "openblas-serial";
    case BlasFlavour::kOther:
      return "other";
  }
  return "other";
}

BlasFlavour detect_blas_flavour() {
  auto get_parallel = openblas_symbol<GetIntFn>("openblas_get_parallel");
  if (!get_parallel) return BlasFlavour::kOther;
  switch (get_parallel()) {  // OpenBLAS: 0 sequential, 1 pthreads, 2 OpenMP
    case 0:
      return BlasFlavour::kOpenblasSerial;
    case 1:
      return BlasFlavour::kOpenblasPthread;
    case 2:
      return BlasFlavour::kOpenblasOpenmp;
    default:
      return BlasFlavour::kOther;
  }
}

CpuThreadSetup configure_cpu_threads(int threads) {
  CpuThreadSetup s;
  const int n =
      threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
  s.torch_threads = at::get_num_threads();
  s.blas = detect_blas_flavour();
  if (auto cfg = openblas_symbol<GetConfigFn>("openblas_get_config")) s.blas_config = cfg();
  s.blas_core_note = openblas_core_note();
  s.malloc_note = malloc_tuning_note();

  auto get_threads = openblas_symbol<GetIntFn>("openblas_get_num_threads");
  auto set_threads = openblas_symbol<SetIntFn>("openblas_set_num_threads");
  if (s.blas == BlasFlavour::kOpenblasPthread && set_threads) {
    const char* env = std::getenv("OPENBLAS_NUM_THREADS");
    if (env != nullptr && *env != '\0') {  // the operator chose; say what that costs
      s.warning =
          "OpenBLAS is the pthread flavour and OPENBLAS_NUM_THREADS is set: its pool may "
          "compete with LibTorch's OpenMP pool (install libopenblas0-openmp)";
    } else {
      set_threads(1);
      s.warning =
          "OpenBLAS is the pthread flavour, whose thread pool competes with LibTorch's "
          "OpenMP pool; running it single-threaded (install libopenblas0-openmp and select "
          "it with update-alternatives for multi-threaded matmuls)";
    }
  } else if (s.blas == BlasFlavour::kOther) {
    s.warning =
        "the BLAS behind LibTorch is not OpenBLAS; if it is the reference BLAS "
        "(libblas3), fp32 matmuls run 30-50x slower (scripts/install-deps.sh fixes this)";
  }
  if (get_threads) s.blas_threads = get_threads();
  return s;
}

std::string CpuThreadSetup::describe() const {
  std::string d =
      "torch threads " + std::to_string(torch_threads) + ", blas " + blas_flavour_name(blas);
  if (blas_threads >= 0) d += " (" + std::to_string(blas_threads) + " threads)";
  if (!blas_config.empty()) d += ", " + blas_config;
  if (!blas_core_note.empty()) d += ", " + blas_core_note;
  if (!malloc_note.empty()) d += ", " + malloc_note;
  return d;
}

}  // namespace shirg
