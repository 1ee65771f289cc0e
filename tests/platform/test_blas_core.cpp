// blas_core.h: which OpenBLAS kernel set a CPU should run, and what the start-up logs say.
#include "tests/common/catch_torch.h"

#include <cstdlib>
#include <string>

#include "engine/platform/blas_core.h"

using namespace shirg;

namespace {
CpuIsa isa(bool avx2, bool avx512, bool bf16) {
  CpuIsa i;
  i.avx2_fma = avx2;
  i.avx512 = avx512;
  i.avx512_bf16 = bf16;
  return i;
}
}  // namespace

TEST_CASE("generic SSE/AVX kernels on an AVX2 or AVX512 CPU are replaced by its level's set") {
  CHECK(better_openblas_core("Prescott", isa(true, true, true)) == "Cooperlake");
  CHECK(better_openblas_core("Prescott", isa(true, true, false)) == "SkylakeX");
  CHECK(better_openblas_core("Prescott", isa(true, false, false)) == "Haswell");
  CHECK(better_openblas_core("Nehalem", isa(true, true, false)) == "SkylakeX");
  CHECK(better_openblas_core("Sandybridge", isa(true, false, false)) == "Haswell");
  CHECK(better_openblas_core("BARCELONA", isa(true, false, false)) == "Haswell");  // any case
  CHECK(better_openblas_core("Opteron(SSE3)", isa(true, true, true)) == "Cooperlake");
}

TEST_CASE("an informed choice, a CPU without AVX2 and an unknown name are left alone") {
  CHECK(better_openblas_core("Cooperlake", isa(true, true, true)).empty());
  CHECK(better_openblas_core("SkylakeX", isa(true, true, true)).empty());
  CHECK(
      better_openblas_core("Zen", isa(true, true, false)).empty());  // e.g. Zen 4: OpenBLAS's call
  CHECK(better_openblas_core("Haswell", isa(true, true, false)).empty());
  CHECK(better_openblas_core("Prescott", isa(false, false, false)).empty());  // nothing better
  CHECK(better_openblas_core("Sandybridge", isa(false, false, false)).empty());
  CHECK(better_openblas_core("SomeFutureCore", isa(true, true, true)).empty());
  CHECK(better_openblas_core("", isa(true, true, true)).empty());  // not OpenBLAS
}

TEST_CASE("the CPU's level agrees with what the compiler's CPUID view reports") {
  const CpuIsa i = detect_cpu_isa();
  if (i.avx512_bf16) CHECK(i.avx512);  // no AVX512-BF16 CPU lacks the AVX512 base
  CHECK(i.avx2_fma == (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")));
}

TEST_CASE("this process's OpenBLAS reports a core name, and the note says who set it") {
  // Debian's LibTorch links OpenBLAS (scripts/install-deps.sh); the name is one OpenBLAS prints.
  CHECK_FALSE(openblas_core_name().empty());
  const char* set = std::getenv("OPENBLAS_CORETYPE");
  if (set == nullptr || *set == '\0') {
    CHECK(openblas_core_note().empty());
  } else {
    CHECK(openblas_core_note().find(std::string("OPENBLAS_CORETYPE=") + set) == 0);
  }
}
