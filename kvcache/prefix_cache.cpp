#include "kvcache/prefix_cache.h"

#include <ATen/ATen.h>

#include <cstdio>
#include <stdexcept>
#include <utility>

namespace shirg::kv {

at::ScalarType to_scalar_type(CacheDType d) {
  return d == CacheDType::kBf16 ? at::kBFloat16 : at::kFloat;
}

int64_t element_size(CacheDType d) {
  return d == CacheDType::kBf16 ? 2 : 4;
}

const char* cache_dtype_name(CacheDType d) {
  return d == CacheDType::kBf16 ? "bf16" : "fp32";
}

std::optional<CacheDType> parse_cache_dtype(const std::string& s) {
  if (s == "bf16") return CacheDType::kBf16;
  if (s == "fp32") return CacheDType::kFp32;
  return std::nullopt;
}

const at::Tensor& PrefixCache::keys(int64_t layer) const {
  if (layer < 0 || layer >= n_layers()) throw std::out_of_range("PrefixCache::keys: bad layer");
  return keys_[static_cast<size_t>(layer)];
}

const at::Tensor& PrefixCache::values(int64_t layer) const {
  if (layer < 0 || layer >= n_layers()) throw std::out_of_range("PrefixCache::values: bad layer");
  return values_[static_cast<size_t>(layer)];
}

int64_t cache_bytes_for(int64_t n_layers, int64_t prefix_len, int64_t width, CacheDType dtype) {
  return 2 * n_layers * prefix_len * width * element_size(dtype);
}

int64_t PrefixCache::bytes() const {
  int64_t total = 0;
  for (size_t i = 0; i < keys_.size(); ++i) {
    total += static_cast<int64_t>(keys_[i].nbytes() + values_[i].nbytes());
  }
  return total;
}

std::string PrefixCache::describe() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%lld layers x %lld tokens, %s, %.1f MB",
                static_cast<long long>(n_layers()), static_cast<long long>(prefix_len_),
                cache_dtype_name(dtype_), static_cast<double>(bytes()) / 1e6);
  return buf;
}

PrefixCacheBuilder::PrefixCacheBuilder(int64_t n_layers, CacheDType dtype) : n_layers_(n_layers) {
  if (n_layers <= 0) throw std::invalid_argument("PrefixCacheBuilder: n_layers must be > 0");
  cache_.dtype_ = dtype;
  cache_.keys_.reserve(static_cast<size_t>(n_layers));
  cache_.values_.reserve(static_cast<size_t>(n_layers));
}

void PrefixCacheBuilder::add_layer(const at::Tensor& k, const at::Tensor& v) {
  if (layers_added() >= n_layers_) {
    throw std::invalid_argument("PrefixCacheBuilder: all layers already added");
  }
  if (!k.defined() || !v.defined() || k.dim() != 3 || k.sizes() != v.sizes() ||
      !at::isFloatingType(k.scalar_type()) || !at::isFloatingType(v.scalar_type())) {
    throw std::invalid_argument(
        "PrefixCacheBuilder: K and V must be floating [n_heads, P, head_dim] of equal shape");
  }
  if (layers_added() == 0) {
    cache_.n_heads_ = k.size(0);
    cache_.prefix_len_ = k.size(1);
    cache_.head_dim_ = k.size(2);
  } else if (k.size(0) != cache_.n_heads_ || k.size(1) != cache_.prefix_len_ ||
             k.size(2) != cache_.head_dim_) {
    throw std::invalid_argument("PrefixCacheBuilder: layer shape differs from layer 0");
  }
  const auto st = to_scalar_type(cache_.dtype_);
  // .contiguous() after .to(): a fresh, densely packed tensor owned by the cache.
  cache_.keys_.push_back(k.to(st).contiguous());
  cache_.values_.push_back(v.to(st).contiguous());
}

PrefixCache PrefixCacheBuilder::finish() {
  if (layers_added() != n_layers_) {
    throw std::logic_error("PrefixCacheBuilder::finish: " + std::to_string(layers_added()) +
                           " of " + std::to_string(n_layers_) + " layers added");
  }
  PrefixCache out = std::move(cache_);
  cache_ = PrefixCache();
  return out;
}

}  // namespace shirg::kv
