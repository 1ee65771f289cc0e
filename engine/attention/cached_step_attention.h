#pragma once
// The CPU attention of a cached denoising step: a few answer rows' queries against the frozen
// prefix cache (bf16 by default, fp32 when asked) and the answer rows. attention.h chooses it.
//
// fp32 queries: per group of heads, every part's keys (then values) are widened exactly into one
// reused fp32 buffer of a few MiB, the scores come from one batched GEMM as K q^T (the long key
// axis as the GEMM's rows), softmax over the keys in fp32, and P V from a second batched GEMM
// (gemm::batched_matmul: oneDNN). No fp32 copy of the cache is made per step: ATen's conversion
// would allocate one per head group, layer and step.
//
// bf16 queries (bf16 compute; the parts must be bf16 too): the scores q K^T come from one batched
// GEMM per part straight into fp32 (bf16 products are exact in fp32), softmax in fp32, the
// probabilities are rounded once to bf16 for P V, whose parts are summed in fp32 (the GEMM's
// accumulate mode) and rounded once. Nothing is widened or gathered: the GEMMs read the cache in
// place. One rounding of the scores fewer than chunked_attention: closer to the float64 result.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "engine/attention/kv_part.h"

namespace shirg::attention {

// True when cached_step_attention takes these inputs: no mask, gemm::batched_matmul_native()
// (oneDNN built in), and on the CPU either q fp32 with every part fp32 or bf16, or q bf16 with
// every part bf16.
bool cached_step_attention_applies(const at::Tensor& q, const std::vector<KvPart>& parts,
                                   const at::Tensor& mask);

// softmax(scale q k^T) v over the concatenation of `parts` (no mask). q: [H, Tq, hd] fp32 or bf16;
// parts: k, v [H, Tk_i, hd] (fp32 or bf16 under fp32 q; bf16 under bf16 q), any strides. Returns
// [H, Tq, hd] in q's dtype, contiguous. max_heads_per_group <= 0 picks the group from an 8 MiB
// budget per buffer (fp32: a widened buffer; bf16: the fp32 scores); tests pass small groups.
// Throws std::invalid_argument for inputs check_attention_inputs rejects or that
// cached_step_attention_applies refuses (dtype, device, a mask).
at::Tensor cached_step_attention(const at::Tensor& q, const std::vector<KvPart>& parts,
                                 double scale, int64_t max_heads_per_group = 0);

}  // namespace shirg::attention
