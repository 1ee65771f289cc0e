#pragma once
// The per-request prefix KV cache of the LLaDA language model ("Prefix-DLM").
// Built once from the prefix (visual tokens + prompt) by shirg::llada::prefill and immutable
// afterwards: every denoising step reads it, nothing writes it. Owned by one request.
// Contracts: per layer K and V are [n_heads, P, head_dim], contiguous, in the cache dtype
// (bf16 by default, fp32 for comparison); K is stored AFTER RoPE (positions 0..P-1).
// Copying a PrefixCache is shallow (tensors share storage), which is safe because it is
// immutable.
#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kvcache/cache_dtype.h"

namespace shirg::kv {

at::ScalarType to_scalar_type(CacheDType d);
int64_t element_size(CacheDType d);                                 // 2 or 4
const char* cache_dtype_name(CacheDType d);                         // "bf16" | "fp32"
std::optional<CacheDType> parse_cache_dtype(const std::string& s);  // "bf16"/"fp32", else nullopt

// The bytes a cache of `prefix_len` tokens takes: 2 (K, V) x n_layers x prefix_len x width
// (n_heads x head_dim) x element_size(dtype). PrefixCache::bytes() of a built cache equals it
// (tested); admission control uses it before the prefill.
int64_t cache_bytes_for(int64_t n_layers, int64_t prefix_len, int64_t width, CacheDType dtype);

class PrefixCache {
 public:
  PrefixCache() = default;  // empty: n_layers() == 0, prefix_len() == 0

  int64_t prefix_len() const { return prefix_len_; }
  int64_t n_layers() const { return static_cast<int64_t>(keys_.size()); }
  int64_t n_heads() const { return n_heads_; }
  int64_t head_dim() const { return head_dim_; }
  const at::Tensor& keys(int64_t layer) const;    // [n_heads, P, head_dim], RoPE applied
  const at::Tensor& values(int64_t layer) const;  // [n_heads, P, head_dim]
  // Bytes held: exactly 2 * n_layers * P * (n_heads * head_dim) * element_size(dtype).
  int64_t bytes() const;
  CacheDType dtype() const { return dtype_; }
  bool empty() const { return keys_.empty(); }
  std::string describe() const;  // "32 layers x 1290 tokens, bf16, 676.3 MB"

 private:
  friend class PrefixCacheBuilder;
  std::vector<at::Tensor> keys_, values_;
  int64_t prefix_len_ = 0, n_heads_ = 0, head_dim_ = 0;
  CacheDType dtype_ = CacheDType::kBf16;
};

// Fills a PrefixCache layer by layer (in order), converting to the cache dtype as it goes so
// the full-precision keys of a layer can be dropped right away.
class PrefixCacheBuilder {
 public:
  PrefixCacheBuilder(int64_t n_layers, CacheDType dtype);
  // k, v: [n_heads, P, head_dim] in any floating dtype, same shape for every layer.
  // Throws std::invalid_argument on a shape mismatch or when all layers were already added.
  void add_layer(const at::Tensor& k, const at::Tensor& v);
  int64_t layers_added() const { return static_cast<int64_t>(cache_.keys_.size()); }
  // Throws std::logic_error unless exactly n_layers layers were added. Leaves the builder empty.
  PrefixCache finish();

 private:
  int64_t n_layers_;
  PrefixCache cache_;
};

}  // namespace shirg::kv
