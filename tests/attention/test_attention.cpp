// The attention entry point (engine/attention/attention.h) and the two implementations it runs
// besides the cached-step kernel: chunked_attention (the CPU's) and generic_attention (what CUDA
// runs, and the CPU under --kernels generic). Each against a float64 softmax of the same inputs:
// fp32 and bf16, odd sizes, several key parts, a bf16 cache under fp32 compute, masks, forced
// head groups; the choice table; bad input.
#include <ATen/ATen.h>
#include "tests/common/catch.h"

#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/attention/attention.h"
#include "engine/attention/cached_step_attention.h"
#include "engine/attention/chunked_attention.h"
#include "engine/attention/generic_attention.h"
#include "engine/gemm/batched_matmul.h"

namespace att = shirg::attention;
using att::KvPart;
using shirg::Kernels;

namespace {

at::Tensor rnd(std::vector<int64_t> shape, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return at::randn(shape, gen, at::kFloat);
}

// softmax(scale q k^T + mask) v in float64 over the concatenated parts.
at::Tensor plain64(const at::Tensor& q, const std::vector<KvPart>& parts, const at::Tensor& mask,
                   double scale) {
  std::vector<at::Tensor> ks, vs;
  for (const auto& p : parts) {
    ks.push_back(p.k.to(at::kDouble));
    vs.push_back(p.v.to(at::kDouble));
  }
  at::Tensor s = at::bmm(q.to(at::kDouble), at::cat(ks, 1).transpose(1, 2)) * scale;
  if (mask.defined()) s = s + mask.to(at::kDouble);
  return at::bmm(at::softmax(s, -1), at::cat(vs, 1));
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

struct Inputs {
  at::Tensor q;
  std::vector<KvPart> parts;
};

// q [n, tq, hd] (scores spread over several units) over parts of the given lengths.
Inputs make(int64_t n, int64_t tq, std::vector<int64_t> lengths, int64_t hd, at::ScalarType dt,
            uint64_t seed) {
  Inputs in{rnd({n, tq, hd}, seed).mul_(2.0).to(dt), {}};
  for (int64_t len : lengths) {
    seed += 2;
    in.parts.push_back({rnd({n, len, hd}, seed).to(dt), rnd({n, len, hd}, seed + 1).to(dt)});
  }
  return in;
}

using Attend = at::Tensor (*)(const at::Tensor&, const std::vector<KvPart>&, const at::Tensor&,
                              double);
at::Tensor chunked(const at::Tensor& q, const std::vector<KvPart>& p, const at::Tensor& m,
                   double s) {
  return att::chunked_attention(q, p, m, s);
}
at::Tensor chunked_one_head(const at::Tensor& q, const std::vector<KvPart>& p, const at::Tensor& m,
                            double s) {
  return att::chunked_attention(q, p, m, s, 1);
}
const std::vector<std::pair<const char*, Attend>> kImplementations = {
    {"chunked", chunked},
    {"chunked, one head per group", chunked_one_head},
    {"generic", att::generic_attention}};

}  // namespace

TEST_CASE("chunked and generic attention equal the float64 softmax (fp32, bf16, parts, masks)",
          "[attention]") {
  for (const auto& [name, attend] : kImplementations) {
    INFO(name);
    for (auto [n, tq, tk, hd] : std::vector<std::array<int64_t, 4>>{
             {3, 37, 53, 24}, {5, 1, 1, 8}, {1, 1, 29, 16}, {4, 31, 1, 6}, {7, 64, 128, 72}}) {
      INFO("n " << n << " tq " << tq << " tk " << tk << " hd " << hd);
      const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
      const Inputs in = make(n, tq, {tk}, hd, at::kFloat, 1 + n + tq);
      const at::Tensor got = attend(in.q, in.parts, {}, scale);
      REQUIRE(got.scalar_type() == at::kFloat);
      REQUIRE(got.sizes() == in.q.sizes());
      CHECK(max_abs_diff(got, plain64(in.q, in.parts, {}, scale)) < 1e-5);
      // bf16: scores and probabilities rounded once each, a few bf16 ulps of outputs ~1.
      const Inputs b = make(n, tq, {tk}, hd, at::kBFloat16, 1 + n + tq);
      const at::Tensor got_b = attend(b.q, b.parts, {}, scale);
      REQUIRE(got_b.scalar_type() == at::kBFloat16);
      CHECK(max_abs_diff(got_b, plain64(b.q, b.parts, {}, scale)) < 3e-2);
    }
    // Several parts (a prefix cache and the answer rows) equal one concatenated part.
    const Inputs two = make(4, 23, {41, 9}, 16, at::kFloat, 3);
    CHECK(max_abs_diff(attend(two.q, two.parts, {}, 0.25), plain64(two.q, two.parts, {}, 0.25)) <
          1e-5);
    // The first part in bf16 under fp32 compute: the same as widening it first.
    std::vector<KvPart> mixed = two.parts;
    mixed[0] = {mixed[0].k.to(at::kBFloat16), mixed[0].v.to(at::kBFloat16)};
    std::vector<KvPart> widened = {{mixed[0].k.to(at::kFloat), mixed[0].v.to(at::kFloat)},
                                   mixed[1]};
    const at::Tensor got_mixed = attend(two.q, mixed, {}, 0.25);
    CHECK(got_mixed.scalar_type() == at::kFloat);
    CHECK(max_abs_diff(got_mixed, plain64(two.q, widened, {}, 0.25)) < 1e-5);
    // An additive mask hides columns (the uncached reference's prefix rows), in both dtypes.
    const float inf = std::numeric_limits<float>::infinity();
    at::Tensor mask = at::zeros({23, 50});
    mask.narrow(0, 0, 6).narrow(1, 41, 9).fill_(-inf);
    mask.narrow(0, 6, 17).narrow(1, 0, 12).fill_(-inf);
    const at::Tensor want = plain64(two.q, two.parts, mask, 0.25);
    const at::Tensor got_masked = attend(two.q, two.parts, mask, 0.25);
    CHECK_FALSE(at::isnan(got_masked).any().item<bool>());
    CHECK(max_abs_diff(got_masked, want) < 1e-5);
    std::vector<KvPart> parts_b;
    for (const auto& p : two.parts)
      parts_b.push_back({p.k.to(at::kBFloat16), p.v.to(at::kBFloat16)});
    const at::Tensor qb = two.q.to(at::kBFloat16);
    CHECK(max_abs_diff(attend(qb, parts_b, mask, 0.25), plain64(qb, parts_b, mask, 0.25)) < 3e-2);
  }
}

TEST_CASE("chunked attention splits query rows when one head's scores exceed its budget",
          "[attention]") {
  // 1 head x 2,900 rows x 6,000 keys x 4 B = 70 MB of fp32 scores: more than the 64 MiB budget.
  const Inputs in = make(1, 2900, {6000}, 8, at::kFloat, 9);
  const at::Tensor got = att::chunked_attention(in.q, in.parts, {}, 0.3);
  CHECK(max_abs_diff(got, plain64(in.q, in.parts, {}, 0.3)) < 1e-5);
}

TEST_CASE("softmax_rounded_once: bf16 equals the fp32 softmax rounded once; fp32 unchanged",
          "[attention]") {
  at::manual_seed(3);
  // Rows of several lengths, including ones that do not fill a vector register, and large logits.
  for (int64_t cols : {1, 7, 64, 1290, 2304}) {
    const at::Tensor s = at::randn({3, 5, cols}) * 6;
    INFO("cols " << cols);
    const at::Tensor b = s.to(at::kBFloat16);
    const at::Tensor got = att::softmax_rounded_once(b);
    CHECK(got.scalar_type() == at::kBFloat16);
    CHECK(at::equal(got, at::softmax(b, -1, at::kFloat).to(at::kBFloat16)));
    CHECK(at::equal(att::softmax_rounded_once(s), at::softmax(s, -1)));
  }
}

TEST_CASE("attend chooses by kernel set, device, dtype and shape, and runs what it chose",
          "[attention]") {
  const bool native = shirg::gemm::batched_matmul_native();
  // A cached step: 4 answer rows against a 30-key prefix and the 4 answer rows.
  const Inputs step = make(2, 4, {30, 4}, 8, at::kFloat, 5);
  const auto step_impl = att::choose_implementation(step.q, step.parts, {}, Kernels::kAuto);
  CHECK(step_impl == (native ? att::Implementation::kCachedStep : att::Implementation::kChunked));
  CHECK(att::choose_implementation(step.q, step.parts, {}, Kernels::kGeneric) ==
        att::Implementation::kGeneric);
  // Self-attention over one sequence (SigLIP, the prefill): as many queries as keys.
  const Inputs self = make(2, 12, {12}, 8, at::kFloat, 6);
  CHECK(att::choose_implementation(self.q, self.parts, {}, Kernels::kAuto) ==
        att::Implementation::kChunked);
  // A mask (the uncached reference) never goes to the cached-step kernel.
  CHECK(att::choose_implementation(step.q, step.parts, at::zeros({4, 34}), Kernels::kAuto) ==
        att::Implementation::kChunked);
  // bf16 queries over an fp32 part: the cached-step kernel does not take them.
  CHECK(att::choose_implementation(step.q.to(at::kBFloat16), step.parts, {}, Kernels::kAuto) ==
        att::Implementation::kChunked);
  CHECK(std::string(att::implementation_name(att::Implementation::kGeneric)) == "generic");

  const at::Tensor want = plain64(step.q, step.parts, {}, 0.35);
  for (Kernels k : {Kernels::kAuto, Kernels::kGeneric})
    CHECK(max_abs_diff(att::attend(step.q, step.parts, {}, 0.35, k), want) < 1e-5);
  if (native)
    CHECK(at::equal(att::attend(step.q, step.parts, {}, 0.35, Kernels::kAuto),
                    att::cached_step_attention(step.q, step.parts, 0.35)));
  CHECK(at::equal(att::attend(self.q, self.parts, {}, 0.35, Kernels::kGeneric),
                  att::generic_attention(self.q, self.parts, {}, 0.35)));
}

TEST_CASE("bad attention inputs get clear errors from every implementation", "[attention]") {
  const Inputs in = make(2, 3, {4}, 8, at::kFloat, 6);
  const at::Tensor k = in.parts[0].k, v = in.parts[0].v;
  for (Kernels kernels : {Kernels::kAuto, Kernels::kGeneric}) {
    INFO(shirg::kernels_name(kernels));
    auto bad = [&](const at::Tensor& q, std::vector<KvPart> parts, const at::Tensor& mask,
                   const char* says) {
      CHECK_THROWS_WITH(att::attend(q, parts, mask, 1.0, kernels),
                        Catch::Matchers::ContainsSubstring(says));
    };
    bad(in.q.view({6, 8}), {{k, v}}, {}, "q must be a floating [N, Tq, hd]");
    bad(in.q.to(at::kLong), {{k, v}}, {}, "q must be a floating");
    bad(in.q, {}, {}, "no key/value parts");
    bad(in.q, {{k.narrow(0, 0, 1), v.narrow(0, 0, 1)}}, {}, "k and v must be floating");
    bad(in.q, {{k.narrow(2, 0, 4), v.narrow(2, 0, 4)}}, {}, "k and v must be floating");
    bad(in.q, {{k, v.narrow(1, 0, 2)}}, {}, "k and v must be floating");
    bad(in.q, {{k.narrow(1, 0, 0), v.narrow(1, 0, 0)}}, {}, "no keys");
    bad(in.q, {{k, v}}, at::zeros({3, 5}), "mask must be fp32 [Tq, Tk] = [3, 4]");
    bad(in.q, {{k, v}}, at::zeros({3, 4}, at::kDouble), "mask must be fp32");
    bad(in.q, {{k, at::Tensor()}}, {}, "k and v must be floating");
  }
}
