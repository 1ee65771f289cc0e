// The LLaDA forward with the prefix cache against the uncached Prefix-DLM forward, the 16-bit
// cache against the fp32 cache, the attention kernel, and input checking.
#include <ATen/ATen.h>
#include "tests/common/catch.h"

#include <cmath>
#include <iostream>
#include <utility>

#include "engine/llada/llada.h"
#include "engine/sampler/sampler.h"
#include "tests/llada/random_llada.h"

using namespace shirg;
using shirg::kv::CacheDType;

namespace {

float max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kFloat) - b.to(at::kFloat)).abs().max().item<float>();
}

at::Tensor ids_tensor(std::vector<int64_t> v) {
  return at::tensor(v, at::kLong);
}

// A generation through the sampler with `logits`.
at::Tensor run_generation(const sampler::LogitsFn& logits, int64_t mask, int64_t vocab,
                          Remasking rule, TransferSchedule sch, double temperature) {
  GenerationOptions o;
  o.gen_length = 16;
  o.block_length = 8;
  o.steps = 8;
  o.remasking = rule;
  o.schedule = sch;
  o.temperature = temperature;
  o.seed = 11;
  sampler::SamplerIds s;
  s.mask = mask;
  s.vocab_limit = vocab - 1;
  s.stop_early = false;
  return sampler::generate(o, s, logits, nullptr).ids;
}

struct Fixture {
  testing::RandomLlada m = testing::make_random_llada({});
  int64_t mask() const { return m.cfg.vocab_size - 1; }
};

}  // namespace

TEST_CASE("cached run equals the uncached Prefix-DLM run (fp32)", "[llada]") {
  Fixture f;
  const auto& w = f.m.w;
  const auto& cfg = f.m.cfg;
  for (uint64_t seed : {1, 2, 3}) {
    auto prefix = testing::random_prefix(23, cfg.d_model, seed);
    auto cache = llada::prefill(w, cfg, prefix, CacheDType::kFp32);
    REQUIRE(cache.prefix_len() == 23);
    auto answer = at::full({16}, f.mask(), at::kLong);
    answer[3] = 17;
    answer[9] = 200;
    auto cached = llada::answer_logits(w, cfg, cache, answer);
    auto full = llada::prefix_dlm_logits(w, cfg, prefix, answer);
    REQUIRE(cached.sizes() == at::IntArrayRef({16, cfg.vocab_size}));
    CHECK(cached.scalar_type() == at::kFloat);
    const float d = max_abs_diff(cached, full);
    INFO("max |cached - uncached| logit difference " << d);
    CHECK(d < 1e-4);
    CHECK(cached.abs().max().item<float>() > 1.0f);  // logits are not degenerate

    sampler::LogitsFn c = [&](const at::Tensor& ids) {
      return llada::answer_logits(w, cfg, cache, ids);
    };
    sampler::LogitsFn u = [&](const at::Tensor& ids) {
      return llada::prefix_dlm_logits(w, cfg, prefix, ids);
    };
    for (auto rule : {Remasking::kLowConfidence, Remasking::kMargin, Remasking::kEntropy}) {
      for (auto sch : {TransferSchedule::kUniform, TransferSchedule::kShift}) {
        auto a = run_generation(c, f.mask(), cfg.vocab_size, rule, sch, 0);
        auto b = run_generation(u, f.mask(), cfg.vocab_size, rule, sch, 0);
        CHECK(at::equal(a, b));
      }
    }
    CHECK(at::equal(run_generation(c, f.mask(), cfg.vocab_size, Remasking::kLowConfidence,
                                   TransferSchedule::kUniform, 0.7),
                    run_generation(u, f.mask(), cfg.vocab_size, Remasking::kLowConfidence,
                                   TransferSchedule::kUniform, 0.7)));
  }
}

TEST_CASE("the prefix never sees the answer: its cache does not depend on the answer", "[llada]") {
  Fixture f;
  auto prefix = testing::random_prefix(10, f.m.cfg.d_model, 4);
  auto cache = llada::prefill(f.m.w, f.m.cfg, prefix, CacheDType::kFp32);
  auto a1 = at::full({6}, f.mask(), at::kLong);
  auto a2 = a1.clone();
  a2[2] = 5;
  // Changing an answer token changes the answer logits (it is attended to) ...
  CHECK(max_abs_diff(llada::answer_logits(f.m.w, f.m.cfg, cache, a1),
                     llada::answer_logits(f.m.w, f.m.cfg, cache, a2)) > 1e-3);
  // ... and the uncached reference agrees for both.
  CHECK(max_abs_diff(llada::answer_logits(f.m.w, f.m.cfg, cache, a2),
                     llada::prefix_dlm_logits(f.m.w, f.m.cfg, prefix, a2)) < 1e-4);
  // The answer continues the prefix's positions: a shorter prefix (same rows) differs.
  auto cache9 = llada::prefill(f.m.w, f.m.cfg, prefix.narrow(0, 1, 9), CacheDType::kFp32);
  CHECK(max_abs_diff(llada::answer_logits(f.m.w, f.m.cfg, cache9, a1),
                     llada::prefix_dlm_logits(f.m.w, f.m.cfg, prefix.narrow(0, 1, 9), a1)) < 1e-4);
}

TEST_CASE("16-bit cache versus fp32 cache: logit difference and identical tokens", "[llada]") {
  Fixture f;
  const auto& w = f.m.w;
  const auto& cfg = f.m.cfg;
  float worst = 0;
  for (uint64_t seed : {21, 22, 23, 24}) {
    auto prefix = testing::random_prefix(31, cfg.d_model, seed);
    auto c16 = llada::prefill(w, cfg, prefix, CacheDType::kBf16);
    auto c32 = llada::prefill(w, cfg, prefix, CacheDType::kFp32);
    CHECK(c16.bytes() * 2 == c32.bytes());
    CHECK(c16.bytes() == 2 * cfg.n_layers * 31 * cfg.d_model * 2);
    auto answer = at::full({16}, f.mask(), at::kLong);
    const float d = max_abs_diff(llada::answer_logits(w, cfg, c16, answer),
                                 llada::answer_logits(w, cfg, c32, answer));
    worst = std::max(worst, d);
    CHECK(d > 0);     // the caches really differ
    CHECK(d < 0.1f);  // bf16 rounding of K/V only
    sampler::LogitsFn l16 = [&](const at::Tensor& ids) {
      return llada::answer_logits(w, cfg, c16, ids);
    };
    sampler::LogitsFn l32 = [&](const at::Tensor& ids) {
      return llada::answer_logits(w, cfg, c32, ids);
    };
    CHECK(at::equal(run_generation(l16, f.mask(), cfg.vocab_size, Remasking::kLowConfidence,
                                   TransferSchedule::kUniform, 0),
                    run_generation(l32, f.mask(), cfg.vocab_size, Remasking::kLowConfidence,
                                   TransferSchedule::kUniform, 0)));
  }
  std::cout << "[llada] bf16 vs fp32 prefix cache (fp32 compute): max |logit difference| = "
            << worst << "\n";
}

TEST_CASE("bf16 compute: cached equals uncached within bf16 tolerance", "[llada]") {
  Fixture f;
  auto wb = testing::cast_llada(f.m.w, at::kBFloat16);
  auto prefix = testing::random_prefix(17, f.m.cfg.d_model, 9).to(at::kBFloat16);
  auto cache = llada::prefill(wb, f.m.cfg, prefix, CacheDType::kBf16);
  auto answer = at::full({8}, f.mask(), at::kLong);
  auto cached = llada::answer_logits(wb, f.m.cfg, cache, answer);
  auto full = llada::prefix_dlm_logits(wb, f.m.cfg, prefix, answer);
  auto ref32 = llada::prefix_dlm_logits(f.m.w, f.m.cfg, prefix.to(at::kFloat), answer);
  const float d = max_abs_diff(cached, full), d32 = max_abs_diff(cached, ref32);
  std::cout << "[llada] bf16 compute: max |cached - uncached| = " << d
            << ", max |bf16 - fp32| = " << d32 << " (logit std " << ref32.std().item<float>()
            << ")\n";
  CHECK(d < 0.25f);
  CHECK(d32 < 0.5f);
  CHECK(cached.argmax(1).eq(ref32.argmax(1)).to(at::kFloat).mean().item<float>() >= 0.75f);
}

TEST_CASE("packed weights give the plain weights' logits and tokens", "[llada]") {
  Fixture f;
  const auto& cfg = f.m.cfg;
  const int matrices = 4 * static_cast<int>(cfg.n_layers) + 1;
  auto prefix = testing::random_prefix(29, cfg.d_model, 4);
  auto answer = at::full({16}, f.mask(), at::kLong);
  answer[2] = 40;
  for (auto dtype : {at::kFloat, at::kBFloat16}) {
    const LladaW plain = dtype == at::kFloat ? f.m.w : testing::cast_llada(f.m.w, dtype);
    LladaW packed = plain;
    const int n = llada::pack_weights(packed, gemm::WeightLayout::kAuto);
    INFO(c10::toString(dtype) << ", oneDNN ISA " << gemm::onednn_isa() << ", packed " << n);
    if (gemm::onednn_isa().rfind("avx512_core", 0) == 0) CHECK(n == matrices);
    if (n == 0) continue;  // this CPU: no blocked layout (checked in tests/gemm)
    CHECK(packed.blocks[0].wqkv.is_packed());
    CHECK(packed.lm_head.is_packed());
    CHECK(at::equal(packed.blocks[1].w_down.to_plain(), plain.blocks[1].w_down.plain()));
    CHECK_NOTHROW(llada::validate(packed, cfg));
    const auto cache_dt = dtype == at::kFloat ? CacheDType::kFp32 : CacheDType::kBf16;
    auto x = prefix.to(dtype);
    auto cp = llada::prefill(plain, cfg, x, cache_dt);
    auto cq = llada::prefill(packed, cfg, x, cache_dt);
    const auto lp = llada::answer_logits(plain, cfg, cp, answer);
    const auto lq = llada::answer_logits(packed, cfg, cq, answer);
    const float d = max_abs_diff(lp, lq);
    std::cout << "[llada] " << c10::toString(dtype) << " packed vs plain: max |logit diff| " << d
              << "\n";
    CHECK(d < (dtype == at::kFloat ? 1e-4f : 0.25f));
    if (dtype == at::kFloat) {
      auto gen = [&](const LladaW& w, const kv::PrefixCache& c) {
        return run_generation(
            [&](const at::Tensor& ids) { return llada::answer_logits(w, cfg, c, ids); }, f.mask(),
            cfg.vocab_size, Remasking::kLowConfidence, TransferSchedule::kUniform, 0.0);
      };
      CHECK(at::equal(gen(plain, cp), gen(packed, cq)));
    }
  }
  // bf16-stored matrices under fp32 compute keep their upcast path.
  LladaW mixed = testing::cast_llada(f.m.w, at::kBFloat16);
  mixed.compute_dtype = at::kFloat;
  CHECK(llada::pack_weights(mixed, gemm::WeightLayout::kAuto) == 0);
  CHECK(llada::pack_weights(mixed, gemm::WeightLayout::kPlain) == 0);
  CHECK_THROWS_WITH(
      llada::pack_weights(mixed, gemm::WeightLayout::kPacked),
      Catch::Matchers::ContainsSubstring("cannot pack BFloat16 LLaDA weights for Float compute"));
}

TEST_CASE("bad inputs give clear errors", "[llada]") {
  Fixture f;
  const auto& w = f.m.w;
  auto cfg = f.m.cfg;
  auto prefix = testing::random_prefix(5, cfg.d_model, 1);
  auto cache = llada::prefill(w, cfg, prefix, CacheDType::kBf16);
  CHECK_THROWS_AS(llada::answer_logits(w, cfg, cache, ids_tensor({1, 2, 999})),
                  std::invalid_argument);
  CHECK_THROWS_AS(llada::answer_logits(w, cfg, cache, ids_tensor({-1})), std::invalid_argument);
  CHECK_THROWS_AS(llada::answer_logits(w, cfg, cache, at::zeros({3}, at::kFloat)),
                  std::invalid_argument);
  CHECK_THROWS_AS(llada::answer_logits(w, cfg, kv::PrefixCache(), ids_tensor({1})),
                  std::invalid_argument);
  CHECK_THROWS_AS(llada::prefill(w, cfg, at::randn({5, cfg.d_model + 1}), CacheDType::kBf16),
                  std::invalid_argument);
  CHECK_THROWS_AS(llada::prefill(w, cfg, at::randn({0, cfg.d_model}), CacheDType::kBf16),
                  std::invalid_argument);
  CHECK_THROWS_AS(llada::embed_tokens(w, {0, 256}), std::invalid_argument);
  auto bad_cfg = cfg;
  bad_cfg.n_heads = 5;
  CHECK_THROWS_AS(llada::prefill(w, bad_cfg, prefix, CacheDType::kBf16), std::invalid_argument);
  bad_cfg = cfg;
  bad_cfg.n_layers = 3;
  CHECK_THROWS_AS(llada::prefill(w, bad_cfg, prefix, CacheDType::kBf16), std::invalid_argument);
  auto bad_w = w;
  bad_w.blocks[1].w_down = at::randn({cfg.d_model, cfg.mlp_hidden_size + 1});
  try {
    llada::validate(bad_w, cfg);
    FAIL("validate accepted a mis-shaped weight");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("blocks.1.w_down") != std::string::npos);
  }
}

TEST_CASE("input assembly places visual tokens before their prompt positions", "[llada]") {
  Fixture f;
  const auto& w = f.m.w;
  auto visual = at::randn({4, f.m.cfg.d_model});
  auto x = llada::splice_visual(w, {5, 6, 7}, {{2, visual}});
  REQUIRE(x.sizes() == at::IntArrayRef({7, f.m.cfg.d_model}));
  CHECK(at::equal(x.narrow(0, 0, 2), llada::embed_tokens(w, {5, 6})));
  CHECK(at::equal(x.narrow(0, 2, 4), visual));
  CHECK(at::equal(x.narrow(0, 6, 1), llada::embed_tokens(w, {7})));
  CHECK(at::equal(llada::splice_visual(w, {}, {{0, visual}}), visual));
  // Two images: each before its position, in order; one at the very end.
  auto second = at::randn({3, f.m.cfg.d_model});
  auto two = llada::splice_visual(w, {5, 6, 7}, {{1, visual}, {3, second}});
  REQUIRE(two.size(0) == 10);
  CHECK(at::equal(two.narrow(0, 0, 1), llada::embed_tokens(w, {5})));
  CHECK(at::equal(two.narrow(0, 1, 4), visual));
  CHECK(at::equal(two.narrow(0, 5, 2), llada::embed_tokens(w, {6, 7})));
  CHECK(at::equal(two.narrow(0, 7, 3), second));
  CHECK_THROWS_WITH(llada::splice_visual(w, {5, 6}, {{3, visual}}),
                    Catch::Matchers::ContainsSubstring("ascend within [0, 2]"));
  CHECK_THROWS_WITH(llada::splice_visual(w, {5, 6}, {{2, visual}, {1, visual}}),
                    Catch::Matchers::ContainsSubstring("ascend"));
  CHECK_THROWS_WITH(llada::splice_visual(w, {5}, {{0, at::randn({4, 3})}}),
                    Catch::Matchers::ContainsSubstring("[N, d_model]"));
}

TEST_CASE(
    "fp32 compute over bf16-stored matrices equals fp32 compute over the same rounded weights",
    "[llada]") {
  // vocab 5000 > 4096 rows: the LM head is upcast in two chunks.
  testing::RandomLladaSpec spec;
  spec.vocab = 5000;
  const testing::RandomLlada m = testing::make_random_llada(spec);
  LladaW stored = testing::cast_llada(m.w, at::kBFloat16);
  stored.compute_dtype = at::kFloat;
  const LladaW rounded = testing::cast_llada(testing::cast_llada(m.w, at::kBFloat16), at::kFloat);
  REQUIRE(stored.wte.scalar_type() == at::kBFloat16);
  REQUIRE(rounded.wte.scalar_type() == at::kFloat);

  const at::Tensor prefix = testing::random_prefix(19, m.cfg.d_model, 5);
  const auto c_stored = llada::prefill(stored, m.cfg, prefix, CacheDType::kFp32);
  const auto c_rounded = llada::prefill(rounded, m.cfg, prefix, CacheDType::kFp32);
  auto answer = at::full({12}, m.cfg.vocab_size - 1, at::kLong);
  answer[2] = 4500;  // a row in the second upcast chunk
  const at::Tensor a = llada::answer_logits(stored, m.cfg, c_stored, answer);
  const at::Tensor b = llada::answer_logits(rounded, m.cfg, c_rounded, answer);
  REQUIRE(a.sizes() == b.sizes());
  CHECK(a.scalar_type() == at::kFloat);
  CHECK(max_abs_diff(a, b) < 1e-4);
  CHECK(max_abs_diff(llada::prefix_dlm_logits(stored, m.cfg, prefix, answer),
                     llada::prefix_dlm_logits(rounded, m.cfg, prefix, answer)) < 1e-4);
  // Embeddings come back in the compute dtype.
  CHECK(llada::embed_tokens(stored, {1, 2, 4999}).scalar_type() == at::kFloat);

  // bf16 compute over fp32 matrices is not a supported combination.
  LladaW odd = m.w;
  odd.compute_dtype = at::kBFloat16;
  CHECK_THROWS_WITH(llada::prefill(odd, m.cfg, prefix, CacheDType::kBf16),
                    Catch::Matchers::ContainsSubstring("not supported"));
}

namespace {
// Per (prefix length, answer length): the cache of a random prefix in `dtype` and an all-mask
// answer whose first token is first_token + i (a different answer per request).
struct StepInputs {
  std::vector<kv::PrefixCache> caches;
  std::vector<at::Tensor> answers;
};
StepInputs make_step_inputs(const LladaW& w, const LladaConfig& cfg, at::ScalarType dtype,
                            int64_t mask, const std::vector<std::pair<int64_t, int64_t>>& shapes,
                            uint64_t seed, int64_t first_token) {
  StepInputs in;
  for (size_t i = 0; i < shapes.size(); ++i) {
    auto prefix = testing::random_prefix(shapes[i].first, cfg.d_model, seed + i).to(dtype);
    in.caches.push_back(llada::prefill(w, cfg, prefix, CacheDType::kBf16));
    auto a = at::full({shapes[i].second}, mask, at::kLong);
    a[0] = first_token + static_cast<int64_t>(i);
    in.answers.push_back(a);
  }
  return in;
}
}  // namespace

TEST_CASE("a batched step equals each request's step alone (different prefix and answer lengths)",
          "[llada]") {
  Fixture f;
  const auto& cfg = f.m.cfg;
  for (auto [dtype, layout] : {std::pair{at::kFloat, gemm::WeightLayout::kPlain},
                               std::pair{at::kBFloat16, gemm::WeightLayout::kPlain},
                               std::pair{at::kFloat, gemm::WeightLayout::kAuto},
                               std::pair{at::kBFloat16, gemm::WeightLayout::kAuto}}) {
    LladaW w = dtype == at::kFloat ? f.m.w : testing::cast_llada(f.m.w, dtype);
    const int packed = llada::pack_weights(w, layout);
    INFO("packed matrices " << packed);
    auto [caches, answers] =
        make_step_inputs(w, cfg, dtype, f.mask(), {{23, 16}, {7, 8}, {41, 32}, {1, 4}}, 10, 3);
    std::vector<llada::AnswerRows> rows;
    for (size_t i = 0; i < caches.size(); ++i) rows.push_back({&caches[i], answers[i], {}});
    const auto batched = llada::answer_logits_batch(w, cfg, rows);
    REQUIRE(batched.size() == caches.size());
    for (size_t i = 0; i < caches.size(); ++i) {
      const auto alone = llada::answer_logits(w, cfg, caches[i], answers[i]);
      REQUIRE(batched[i].sizes() == alone.sizes());
      const float d = max_abs_diff(batched[i], alone);
      INFO("request " << i << " " << c10::toString(dtype) << ": max |batched - alone| " << d);
      // fp32: the same arithmetic up to the GEMM's blocking; bf16: one bf16 rounding of the
      // activations may differ (documented tolerance, docs/architecture.md). Packed weights
      // (oneDNN's brgemm) compute each row independently of the others: identical.
      CHECK(d < (dtype == at::kFloat ? 1e-4f : 0.25f));
      if (dtype == at::kFloat) CHECK(at::equal(batched[i].argmax(1), alone.argmax(1)));
    }
  }
  CHECK(llada::answer_logits_batch(f.m.w, cfg, {}).empty());
  CHECK_THROWS_AS(llada::answer_logits_batch(f.m.w, cfg, {{nullptr, ids_tensor({1}), {}}}),
                  std::invalid_argument);
}

TEST_CASE("a step on some logit rows returns exactly those rows of the full step", "[llada]") {
  Fixture f;
  const auto& cfg = f.m.cfg;
  for (auto dtype : {at::kFloat, at::kBFloat16}) {
    const LladaW w = dtype == at::kFloat ? f.m.w : testing::cast_llada(f.m.w, dtype);
    auto [caches, answers] =
        make_step_inputs(w, cfg, dtype, f.mask(), {{23, 16}, {7, 8}, {41, 32}}, 20, 7);
    // Per request: some rows, all rows (empty), one row.
    const std::vector<std::vector<int64_t>> wanted = {{1, 2, 5, 15}, {}, {31}};
    std::vector<llada::AnswerRows> all, some;
    for (size_t i = 0; i < caches.size(); ++i) {
      all.push_back({&caches[i], answers[i], {}});
      some.push_back({&caches[i], answers[i], wanted[i]});
    }
    const auto full = llada::answer_logits_batch(w, cfg, all);
    const auto part = llada::answer_logits_batch(w, cfg, some);
    REQUIRE(part.size() == 3);
    for (size_t i = 0; i < caches.size(); ++i) {
      at::Tensor expect = full[i];
      if (!wanted[i].empty()) expect = full[i].index_select(0, at::tensor(wanted[i], at::kLong));
      REQUIRE(part[i].sizes() == expect.sizes());
      const float d = max_abs_diff(part[i], expect);
      INFO("request " << i << " " << c10::toString(dtype) << ": max |some rows - full| " << d);
      CHECK(d < (dtype == at::kFloat ? 1e-4f : 0.25f));
      if (dtype == at::kFloat) CHECK(at::equal(part[i].argmax(1), expect.argmax(1)));
    }
    // Alone, too (the one-request path).
    const auto one = llada::answer_logits_batch(w, cfg, {some[0]});
    CHECK(max_abs_diff(one[0], part[0]) < (dtype == at::kFloat ? 1e-4f : 0.25f));
  }
  kv::PrefixCache c =
      llada::prefill(f.m.w, cfg, testing::random_prefix(5, cfg.d_model, 3), CacheDType::kBf16);
  CHECK_THROWS_WITH(
      llada::answer_logits_batch(f.m.w, cfg, {{&c, at::full({4}, f.mask(), at::kLong), {4}}}),
      Catch::Matchers::ContainsSubstring("outside the answer"));
}
