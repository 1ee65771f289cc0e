#pragma once
// Blocked softmax attention with the online softmax (flash-attention style), built from ATen ops
// so it runs on any device LibTorch supports. A benchmark-only kernel: measured ~7x slower than
// the product's chunked_attention on the CPU (docs/benchmarks.md), kept for bench_attention.
//
// Per head group and query block it walks the keys block by block, keeping a running row max m,
// row sum l and an fp32 output accumulator: the full [Tq, Tk] score matrix never exists, and
// every intermediate (scores, probabilities, partial outputs) is a few MiB at most, so it stays
// in the CPU caches. GEMMs run in the compute dtype (q's dtype); max, exp, sums and the output
// accumulator are fp32. Dtype conversions are fused into the elementwise ops that need them
// (no separate full-tensor .to() passes).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "engine/attention/kv_part.h"

namespace shirg::attention {

// Block sizes; 0 picks the default. Exposed for tests (one block, many blocks) and benchmarks.
struct BlockSizes {
  int64_t heads = 0;   // heads per group (the GEMM batch)
  int64_t q_rows = 0;  // query rows per block
  int64_t k_rows = 0;  // key rows per block
};

// softmax(scale * q k^T + mask) v over the concatenation of `parts` along the key axis.
// q: [N, Tq, hd] floating (N = batch x heads), the compute dtype. Each part: k, v [N, Tk_i, hd]
// with sum Tk_i >= 1. mask: undefined or an additive fp32 [Tq, sum Tk_i] (0 / -inf), the same for
// every head. A row whose keys are all masked yields NaN (as the plain softmax does).
// Returns [N, Tq, hd] in q's dtype, contiguous. Throws std::invalid_argument on bad shapes.
at::Tensor blocked_attention(const at::Tensor& q, const std::vector<KvPart>& parts,
                             const at::Tensor& mask, double scale, BlockSizes sizes = {});

// The plain reference: full scores in fp32 (inputs upcast), one softmax. Tests and benchmarks.
at::Tensor reference_attention(const at::Tensor& q, const std::vector<KvPart>& parts,
                               const at::Tensor& mask, double scale);

}  // namespace shirg::attention
