#pragma once
// The LLaDA masked-diffusion language model (bidirectional transformer) with the per-request
// prefix KV cache ("Prefix-DLM", LaViDa).
//
// Math (LaViDa's LLaDA modelling code; docs/architecture.md): per block
//   h = x + attn_out(attn(RoPE(q), RoPE(k), v))  on RMSNorm(x)       (no causal mask)
//   x = h + ff_out(silu(ff_proj(n)) * up_proj(n))  with n = RMSNorm(h)
// then RMSNorm(ln_f) and the untied LM head. head_dim = d_model / n_heads; RoPE in split-half
// ("rotate_half") form with theta from the config.
// Precision: matmuls in the compute dtype (LladaW::compute_dtype: bf16 or fp32; fp32 compute may
// run over bf16-stored matrices, upcast per row chunk); the residual stream, RMSNorm, RoPE and
// softmax in fp32; logits returned in fp32.
// Positions: prefix rows 0..P-1, answer rows P..P+L-1.
// Attention runs through attention::attend with LladaW::kernels (engine/attention/attention.h).
// All functions are pure (no global state) and thread-safe; tensors follow the weights' device:
// inputs on another device (answer ids, prefix embeddings) are moved there.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/config/model_config.h"
#include "engine/weights/weights.h"
#include "kvcache/prefix_cache.h"

namespace shirg::llada {

// Throws std::invalid_argument with every problem found (shapes, dtypes, config values such as
// n_kv_heads != n_heads or d_model % n_heads != 0). Called by prefill / prefix_dlm_logits.
void validate(const LladaW& w, const LladaConfig& cfg);

// Packs the block matrices and the LM head for the CPU GEMM (gemm::LinearWeight::packed with
// `layout`) where they are stored in the compute dtype; bf16-stored matrices under fp32 compute
// keep their upcast path (kAuto: left plain; kPacked: std::runtime_error). Call once, before the
// model is shared. Returns the number of matrices packed.
int pack_weights(LladaW& w, gemm::WeightLayout layout);

// Token embeddings [T, D] in the compute dtype. Throws std::invalid_argument for an id outside
// [0, wte rows).
at::Tensor embed_tokens(const LladaW& w, const std::vector<int64_t>& ids);

// Visual tokens [N, D] (any float dtype, any device) placed before ids[pos] of a prompt.
struct VisualInsert {
  int64_t pos = 0;
  at::Tensor tokens;
};

// The prefix embeddings [T + sum N, D] in the compute dtype on the weights' device: the prompt's
// token embeddings with each insert's visual tokens placed before ids[pos] (pos == T: at the
// end). Throws std::invalid_argument unless the positions ascend within [0, T] and every insert
// is [N >= 0, d_model].
at::Tensor splice_visual(const LladaW& w, const std::vector<int64_t>& ids,
                         const std::vector<VisualInsert>& inserts);

// Runs the prefix [P, D] (compute dtype) through every layer with bidirectional attention among
// the prefix rows and keeps K (after RoPE) and V per layer. No LM head on prefix rows.
// `after_layer` (optional) runs after every layer: a cancellation point; whatever it throws
// ends the prefill and propagates.
kv::PrefixCache prefill(const LladaW& w, const LladaConfig& cfg, const at::Tensor& prefix,
                        kv::CacheDType dtype, const std::function<void()>& after_layer = {});

// Logits [L, V] fp32 of the answer tokens `answer_ids` [L] int64; they attend to
// [prefix; answer] with no mask (the prefix from `cache`, never recomputed or copied).
at::Tensor answer_logits(const LladaW& w, const LladaConfig& cfg, const kv::PrefixCache& cache,
                         const at::Tensor& answer_ids);

// One request's rows in a batched denoising step: its frozen prefix cache, its answer ids and
// the answer positions whose logits are wanted.
struct AnswerRows {
  const kv::PrefixCache* cache = nullptr;  // not owned; must outlive the call
  at::Tensor answer_ids;                   // [L] int64
  // Positions in [0, L) whose logits are returned, in this order (the sampler's logit_rows():
  // the still-masked positions of the current block); empty = all L. The last layer's attention
  // queries, output projection and MLP and the LM head then run on these rows only: the other
  // rows' keys and values are still computed, so the wanted rows' logits are unchanged.
  std::vector<int64_t> logit_rows;
};

// One denoising step for several requests at once (continuous batching): the linear layers and
// the LM head run on the stacked answer rows of every request (one GEMM per weight), attention
// runs per request against its own cache (prefix lengths and answer lengths may differ; nothing
// is padded). Returns each request's logits [L_r, V] fp32 (or [logit_rows.size(), V]), in batch
// order. Each result equals
// answer_logits() of that request alone up to the GEMM's summation order (fp32: ~1e-6).
std::vector<at::Tensor> answer_logits_batch(const LladaW& w, const LladaConfig& cfg,
                                            const std::vector<AnswerRows>& batch);

// Uncached reference: the full sequence [prefix; answer] every call, prefix rows blocked from
// seeing the answer rows (the semantics the cache is exact for) -> [L, V] fp32.
at::Tensor prefix_dlm_logits(const LladaW& w, const LladaConfig& cfg, const at::Tensor& prefix,
                             const at::Tensor& answer_ids);

}  // namespace shirg::llada
