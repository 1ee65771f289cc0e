#pragma once
// Fused online-softmax attention for CPU tensors: the flash-attention loop written against raw
// pointers, with no ATen dispatch inside it. A benchmark-only kernel: with the programs' malloc
// tuning the product's chunked_attention measured 1.1-1.5x faster in both dtypes
// (docs/benchmarks.md, "glibc malloc and large temporaries"); kept for bench_attention.
//
// Per head (one task of at::parallel_for) and per block of query rows it walks the keys block by
// block: one single-threaded cblas_sgemm for the scores, one pass over the score block in the L2
// cache (mask, row max, exp, row sum, rescale of the accumulator: fused, vectorised), one
// cblas_sgemm that accumulates P.V into an fp32 accumulator. GEMMs and all softmax arithmetic are
// fp32; bf16 inputs (q, a bf16 prefix cache) are widened to fp32 once per head into per-thread
// buffers, so bf16 results are at least as accurate as the bf16 paths (exact widening, fp32
// products and sums, one rounding of the output). No [Tq, Tk] matrix and no allocation per block.
//
// Why not ATen ops per block (blocked_attention): ~12 dispatches per block measured ~7x slower
// than the full-matrix chunked path on the development CPU (docs/benchmarks.md).
#include <ATen/core/Tensor.h>

#include <vector>

#include "bench/attention/blocked_attention.h"

namespace shirg::attention {

// True when fused_cpu_attention accepts these inputs: every tensor on the CPU, q and every part
// fp32 or bf16 (other dtypes and devices go to blocked_attention).
bool fused_cpu_supported(const at::Tensor& q, const std::vector<KvPart>& parts);

// Same contract as blocked_attention (shapes, mask, NaN for fully masked rows, result in q's dtype,
// contiguous; std::invalid_argument on bad shapes, also for inputs fused_cpu_supported rejects).
// sizes.heads is ignored (one head per task); q_rows / k_rows set the blocks (tests, benches).
at::Tensor fused_cpu_attention(const at::Tensor& q, const std::vector<KvPart>& parts,
                               const at::Tensor& mask, double scale, BlockSizes sizes = {});

}  // namespace shirg::attention
