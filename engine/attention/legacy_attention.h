#pragma once
// The two attention paths this project used before the blocked kernel (issue 16), kept as the
// "before" of the benchmarks (same run, interleaved) and as a cross-check in the tests. Both
// materialise full score rows: [heads, Tq, Tk] per chunk, in the compute dtype, then an fp32 copy
// for the softmax and a compute-dtype copy of the probabilities.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "engine/attention/blocked_attention.h"

namespace shirg::attention {

// The former llada::attend: head chunks whose fp32 scores stay under 64 MiB (and parts in another
// dtype converted per chunk of at most 2 MiB of keys). Same contract as blocked_attention.
at::Tensor legacy_head_chunked(const at::Tensor& q, const std::vector<KvPart>& parts,
                               const at::Tensor& mask, double scale,
                               int64_t max_heads_per_chunk = 0);

// softmax over the last dim of scores in their own dtype, computed in fp32 and rounded once: the
// values of softmax(scores, -1, kFloat).to(dtype). On the CPU a bf16 tensor goes through ATen's
// bf16 kernel, which accumulates in fp32 (no fp32 tensor of the scores: 17.4 vs 21.8 ms on
// SigLIP's [16, 682, 2304] chunk, AMD EPYC, 2 threads); tested equal. Other dtypes: that formula.
at::Tensor softmax_rounded_once(const at::Tensor& scores);

// The former SigLIP attention of one image: q, k, v [H, N, hd] in the compute dtype, query-row
// chunks whose probabilities, counted as fp32, stay under 96 MiB. Returns [H, N, hd] in q's dtype.
at::Tensor legacy_row_chunked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                              double scale);

// Which kernel llada::attend and the SigLIP encoder run. Process-wide; for benchmarks that time
// before/after in one process. Default kLegacy: with the programs' malloc tuning
// (engine/platform/malloc_tuning.h) the former paths measured 1.1-1.5x faster than the fused CPU
// kernel (fused_cpu_attention.h) in both dtypes, alone and inside the SigLIP and LLaDA layers
// (AMD EPYC, docs/benchmarks.md "glibc malloc and large temporaries"); the fused kernel's earlier
// 5-6x lead was the former paths' page-faulted score rows. kFused: the fused kernel for fp32/bf16
// CPU tensors, else the blocked ATen kernel; kBlocked forces the ATen kernel (measured ~7x slower
// than kLegacy on CPU). Thread-safe to read and set.
enum class Kernel { kFused, kBlocked, kLegacy };
void set_kernel(Kernel k);
Kernel kernel();

}  // namespace shirg::attention
