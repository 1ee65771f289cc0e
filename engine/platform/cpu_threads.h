#pragma once
// CPU thread set-up shared by every program that runs the model (server, offline tool, benches).
//
// LibTorch runs its intra-op work on an OpenMP pool and calls the system BLAS (libblas.so.3) for
// matmuls. Debian ships OpenBLAS in three flavours: OpenMP (shares LibTorch's pool: the right
// one), pthread (its own pool: both pools spin on the same cores; measured 2-3x slower denoising
// steps on 2 cores) and serial. configure_cpu_threads() sets LibTorch's thread count and, when it
// finds the pthread flavour, runs OpenBLAS single-threaded unless OPENBLAS_NUM_THREADS is set.
#include <string>

namespace shirg {

enum class BlasFlavour { kOpenblasOpenmp, kOpenblasPthread, kOpenblasSerial, kOther };
const char* blas_flavour_name(BlasFlavour f);  // "openblas-openmp" | ... | "other"

struct CpuThreadSetup {
  int torch_threads = 0;  // at::get_num_threads() after the call
  BlasFlavour blas = BlasFlavour::kOther;
  int blas_threads = -1;       // OpenBLAS's thread count after the call; -1 when not OpenBLAS
  std::string blas_config;     // openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Zen"
  std::string blas_core_note;  // openblas_core_note() (blas_core.h): who set OPENBLAS_CORETYPE
  std::string malloc_note;     // malloc_tuning_note() (malloc_tuning.h)
  std::string warning;  // non-empty: something the operator should read (log it as a warning)
  std::string describe() const;  // one line for start-up logs
};

// threads <= 0 means all hardware threads. Call once, before the first tensor operation.
CpuThreadSetup configure_cpu_threads(int threads);

// The OpenBLAS flavour linked into this process (dlsym of openblas_get_parallel).
BlasFlavour detect_blas_flavour();

}  // namespace shirg
