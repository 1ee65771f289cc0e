#pragma once
// OpenBLAS's kernel choice, and the fix when it picks generic kernels.
//
// Debian's OpenBLAS is a DYNAMIC_ARCH build: when the library loads it picks its kernels from the
// CPU's CPUID vendor/family/model. A virtual CPU reporting a model OpenBLAS 0.3.21 does not know
// (this project's virtualised Intel Xeon machines: start-up log "... DYNAMIC_ARCH ... Prescott")
// gets the generic Prescott (SSE3) kernels, and every fp32 matmul LibTorch sends to BLAS runs 2-4x
// slower (docs/benchmarks.md, "OpenBLAS's kernel choice"). Only OPENBLAS_CORETYPE, read when the
// library loads, overrides the choice, so the programs re-execute themselves once with it set.
#include <string>

namespace shirg {

// The x86 instruction-set levels OpenBLAS's kernel sets are written for.
struct CpuIsa {
  bool avx2_fma = false;     // avx2 and fma (Haswell kernels)
  bool avx512 = false;       // avx512 f, bw, dq, vl (SkylakeX kernels)
  bool avx512_bf16 = false;  // with avx512_bf16 (Cooperlake kernels)
};
CpuIsa detect_cpu_isa();

// openblas_get_corename() of the OpenBLAS in this process, e.g. "Cooperlake"; "" when the BLAS is
// not OpenBLAS.
std::string openblas_core_name();

// The OPENBLAS_CORETYPE this CPU should run when `picked` is a kernel set below the CPU's level
// (an SSE-only or AVX-only set on an AVX2 or AVX512 CPU); "" when `picked` is at the CPU's level
// or above, or is a name this table does not know (left alone).
std::string better_openblas_core(const std::string& picked, const CpuIsa& isa);

// Re-executes /proc/self/exe with the same argv and OPENBLAS_CORETYPE=better_openblas_core(picked,
// isa) when that is non-empty, unless OPENBLAS_CORETYPE is set already (the operator's choice, or
// the re-executed process) or SHIRG_OPENBLAS_REEXEC=0. Sets SHIRG_OPENBLAS_PICKED=picked for
// openblas_core_note(). Returns only when nothing is to be done or execv failed (then it prints
// why on stderr and the program goes on with the generic kernels).
void reexec_with_openblas_core(char** argv, const std::string& picked, const CpuIsa& isa);

// What the programs call first in main(), before any thread starts:
// reexec_with_openblas_core(argv, openblas_core_name(), detect_cpu_isa()).
void reexec_with_better_openblas_core(char** argv);

// For start-up logs: "" when OpenBLAS kept its own choice, else e.g. "OPENBLAS_CORETYPE=Cooperlake
// (set by shirg: OpenBLAS had picked Prescott)" or "OPENBLAS_CORETYPE=Haswell (set by the
// operator)".
std::string openblas_core_note();

}  // namespace shirg
