#pragma once
// Full-score attention computed in chunks small enough for the CPU's caches and its allocator:
// what LLaDA's prefill and SigLIP run on the CPU (engine/attention/attention.h chooses it).
//
// Per group of heads (and, when one head's scores alone exceed the budget, per block of query
// rows) it forms the scores of every part in the compute dtype (q's dtype: the GEMM accumulates
// in fp32 and rounds once), takes the softmax in fp32 (mask added in fp32) and rounds the
// probabilities once to the compute dtype, then sums P V over the parts. Parts in another dtype
// than q (a bf16 cache under fp32 compute) are converted per head group, at most a few MiB at a
// time. Plain ATen ops: it runs on any device, but its budgets are the CPU's.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "engine/attention/kv_part.h"

namespace shirg::attention {

// softmax(scale * q k^T + mask) v over the concatenation of `parts` (kv_part.h's contract).
// Returns [N, Tq, hd] in q's dtype. max_heads_per_chunk > 0 forces the head group (tests).
at::Tensor chunked_attention(const at::Tensor& q, const std::vector<KvPart>& parts,
                             const at::Tensor& mask, double scale, int64_t max_heads_per_chunk = 0);

// softmax over the last dim of scores in their own dtype, computed in fp32 and rounded once: the
// values of softmax(scores, -1, kFloat).to(dtype). On the CPU a bf16 tensor goes through ATen's
// bf16 kernel, which accumulates in fp32 (no fp32 tensor of the scores: 17.4 vs 21.8 ms on
// SigLIP's [16, 682, 2304] chunk, AMD EPYC, 2 threads); tested equal. Other dtypes: that formula.
at::Tensor softmax_rounded_once(const at::Tensor& scores);

}  // namespace shirg::attention
