#pragma once
// The attention of a cached denoising step under fp32 compute (issue 16): a few answer rows'
// queries against the frozen prefix cache (bf16 by default, fp32 when asked) and the answer rows.
//
// Why: the former path (legacy_head_chunked) converts the bf16 cache to fp32 with ATen, a fresh
// fp32 copy per head group, layer and step, and runs OpenBLAS once per head. Here, per group of
// heads, every part's keys (then values) are widened exactly into one reused fp32 buffer of a few
// MiB, the scores come from one batched GEMM as K q^T (the long key axis as the GEMM's rows),
// softmax over the keys in fp32, and P V from a second batched GEMM (gemm::batched_matmul:
// oneDNN). Same arithmetic as the former path (fp32 products and sums of exactly widened
// values), a different summation order: results agree to ~1e-6.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "engine/attention/blocked_attention.h"

namespace shirg::attention {

// Whether the LLaDA step uses this kernel where it applies (default: yes). Process-wide, for
// benchmarks that time before/after in one process (bench_stages --step-attention). Thread-safe.
void set_cached_step_enabled(bool on);
bool cached_step_enabled();

// True when cached_step_attention takes these inputs and is the faster path: enabled, q fp32 on
// the CPU, every part fp32 or bf16 on the CPU, no mask, and gemm::batched_matmul_native() (oneDNN
// built in).
bool cached_step_attention_applies(const at::Tensor& q, const std::vector<KvPart>& parts,
                                   const at::Tensor& mask);

// softmax(scale q k^T) v over the concatenation of `parts` (no mask). q: [H, Tq, hd] fp32;
// parts: k, v [H, Tk_i, hd] fp32 or bf16, any strides. Returns [H, Tq, hd] fp32, contiguous.
// max_heads_per_group <= 0 picks the group from an 8 MiB budget per widened buffer (tests pass
// small groups). Throws std::invalid_argument for inputs check_attention_inputs rejects or that
// cached_step_attention_applies refuses (dtype, device, a mask).
at::Tensor cached_step_attention(const at::Tensor& q, const std::vector<KvPart>& parts,
                                 double scale, int64_t max_heads_per_group = 0);

}  // namespace shirg::attention
