// The prefix KV cache container: builder rules, dtype conversion, byte size formula.
#include "tests/common/catch_torch.h"

#include "kvcache/prefix_cache.h"

using shirg::kv::CacheDType;
using shirg::kv::PrefixCache;
using shirg::kv::PrefixCacheBuilder;

namespace {

PrefixCache build(CacheDType dt, int64_t layers, int64_t heads, int64_t p, int64_t hd) {
  PrefixCacheBuilder b(layers, dt);
  for (int64_t l = 0; l < layers; ++l) {
    b.add_layer(at::randn({heads, p, hd}), at::randn({heads, p, hd}));
  }
  return b.finish();
}

}  // namespace

TEST_CASE("cache bytes follow 2 x layers x P x d_model x element size", "[kvcache]") {
  const int64_t layers = 3, heads = 4, p = 37, hd = 16, d = heads * hd;
  auto bf = build(CacheDType::kBf16, layers, heads, p, hd);
  auto fp = build(CacheDType::kFp32, layers, heads, p, hd);
  CHECK(bf.bytes() == 2 * layers * p * d * 2);
  CHECK(fp.bytes() == 2 * layers * p * d * 4);
  CHECK(fp.bytes() == 2 * bf.bytes());
  // The formula admission control uses before a cache exists.
  CHECK(cache_bytes_for(layers, p, d, CacheDType::kBf16) == bf.bytes());
  CHECK(cache_bytes_for(layers, p, d, CacheDType::kFp32) == fp.bytes());
  CHECK(bf.prefix_len() == p);
  CHECK(bf.n_layers() == layers);
  CHECK(bf.keys(0).scalar_type() == at::kBFloat16);
  CHECK(fp.values(2).scalar_type() == at::kFloat);
  CHECK(bf.keys(1).sizes() == at::IntArrayRef({heads, p, hd}));
  CHECK(bf.keys(1).is_contiguous());
}

TEST_CASE("the cache stores converted copies and not views of the inputs", "[kvcache]") {
  auto k = at::randn({2, 5, 8});
  auto v = at::randn({2, 5, 8});
  PrefixCacheBuilder b(1, CacheDType::kBf16);
  b.add_layer(k, v);
  auto c = b.finish();
  CHECK(at::allclose(c.keys(0).to(at::kFloat), k, 0, 1e-2));
  // bf16 rounding: relative error <= 2^-8.
  CHECK((c.keys(0).to(at::kFloat) - k).abs().max().item<float>() <=
        k.abs().max().item<float>() / 256.0f);
  PrefixCacheBuilder b2(1, CacheDType::kFp32);
  auto kt = at::randn({5, 2, 8}).transpose(0, 1);  // non-contiguous input
  b2.add_layer(kt, kt);
  auto c2 = b2.finish();
  CHECK(c2.keys(0).is_contiguous());
  CHECK(at::equal(c2.keys(0), kt));
}

TEST_CASE("builder rejects bad shapes and incomplete caches", "[kvcache]") {
  CHECK_THROWS_AS(PrefixCacheBuilder(0, CacheDType::kBf16), std::invalid_argument);
  PrefixCacheBuilder b(2, CacheDType::kBf16);
  CHECK_THROWS_AS(b.add_layer(at::randn({2, 5}), at::randn({2, 5})), std::invalid_argument);
  CHECK_THROWS_AS(b.add_layer(at::randn({2, 5, 8}), at::randn({2, 6, 8})), std::invalid_argument);
  CHECK_THROWS_AS(b.add_layer(at::ones({2, 5, 8}, at::kLong), at::ones({2, 5, 8}, at::kLong)),
                  std::invalid_argument);
  b.add_layer(at::randn({2, 5, 8}), at::randn({2, 5, 8}));
  CHECK_THROWS_AS(b.add_layer(at::randn({2, 4, 8}), at::randn({2, 4, 8})), std::invalid_argument);
  CHECK_THROWS_AS(b.finish(), std::logic_error);
  b.add_layer(at::randn({2, 5, 8}), at::randn({2, 5, 8}));
  CHECK_THROWS_AS(b.add_layer(at::randn({2, 5, 8}), at::randn({2, 5, 8})), std::invalid_argument);
  auto c = b.finish();
  CHECK(c.n_layers() == 2);
  CHECK_THROWS_AS(c.keys(2), std::out_of_range);
  CHECK_THROWS_AS(c.values(-1), std::out_of_range);
  CHECK(PrefixCache().empty());
  CHECK(PrefixCache().bytes() == 0);
}

TEST_CASE("cache dtype names round-trip", "[kvcache]") {
  CHECK(shirg::kv::parse_cache_dtype("bf16") == CacheDType::kBf16);
  CHECK(shirg::kv::parse_cache_dtype("fp32") == CacheDType::kFp32);
  CHECK_FALSE(shirg::kv::parse_cache_dtype("fp16").has_value());
  CHECK(std::string(shirg::kv::cache_dtype_name(CacheDType::kBf16)) == "bf16");
  CHECK(shirg::kv::element_size(CacheDType::kFp32) == 4);
}
