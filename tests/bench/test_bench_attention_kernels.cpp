// bench_attention's online-softmax kernels (bench/attention: the blocked kernel built from ATen
// ops and the fused CPU kernel) against a plain float64 softmax computed from the same inputs:
// fp32 and bf16, odd sizes, one block and many blocks, several key parts, a 16-bit cache under
// fp32 compute, strided inputs, additive masks, bad input. The benchmark compares them with the
// product's attention, so they must compute the same thing.
#include <ATen/ATen.h>
#include "tests/common/catch.h"

#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "bench/attention/blocked_attention.h"
#include "bench/attention/fused_cpu_attention.h"

using shirg::attention::blocked_attention;
using shirg::attention::BlockSizes;
using shirg::attention::fused_cpu_attention;
using shirg::attention::KvPart;
using shirg::attention::reference_attention;

namespace {

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

// Full-matrix attention in dt: scores and P.V GEMMs in dt, softmax in fp32 over the full score
// matrix (the product's chunked path). Gives the bf16 error level to compare against.
at::Tensor old_path(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
  const auto dt = q.scalar_type();
  auto s = at::bmm(q * scale, k.transpose(1, 2)).to(at::kFloat);
  return at::bmm(at::softmax(s, -1).to(dt), v);
}

struct Inputs {
  at::Tensor q, k, v;
};

Inputs make(int64_t n, int64_t tq, int64_t tk, int64_t hd, at::ScalarType dt, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto r = [&](std::vector<int64_t> s) { return at::randn(s, gen, at::kFloat).to(dt); };
  // Scaled so that the scores spread over several units (a peaked, not flat, softmax).
  return {r({n, tq, hd}) * 2.0, r({n, tk, hd}), r({n, tk, hd})};
}

const std::vector<BlockSizes> kSizes = {
    {0, 0, 0},         // defaults
    {64, 4096, 4096},  // one block: every head, every row, every key at once
    {1, 1, 1},         // one head, one row, one key per block
    {2, 5, 7},         // many blocks that do not divide the sizes
    {3, 16, 13},
};

// Both kernels share one contract; every test below runs each of them.
using Attend = at::Tensor (*)(const at::Tensor&, const std::vector<KvPart>&, const at::Tensor&,
                              double, BlockSizes);
const std::vector<std::pair<const char*, Attend>> kKernels = {{"blocked", blocked_attention},
                                                              {"fused", fused_cpu_attention}};

}  // namespace

TEST_CASE("attention equals the float64 softmax in fp32 (odd sizes, any blocks)", "[attention]") {
  for (const auto& [kernel, attend] : kKernels) {
    INFO("kernel " << kernel);
    for (auto [n, tq, tk, hd] : std::vector<std::array<int64_t, 4>>{
             {3, 37, 53, 24}, {5, 1, 1, 8}, {1, 1, 29, 16}, {4, 31, 1, 6}, {7, 64, 128, 72}}) {
      auto in = make(n, tq, tk, hd, at::kFloat, 1 + n + tq);
      const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
      auto want = plain64(in.q, {{in.k, in.v}}, {}, scale);
      for (const auto& bs : kSizes) {
        auto got = attend(in.q, {{in.k, in.v}}, {}, scale, bs);
        REQUIRE(got.scalar_type() == at::kFloat);
        REQUIRE(got.sizes() == in.q.sizes());
        INFO("n " << n << " tq " << tq << " tk " << tk << " hd " << hd << " blocks " << bs.heads
                  << "/" << bs.q_rows << "/" << bs.k_rows);
        CHECK(max_abs_diff(got, want) < 1e-5);
      }
      CHECK(max_abs_diff(reference_attention(in.q, {{in.k, in.v}}, {}, scale), want) < 1e-5);
    }
  }
}

TEST_CASE("attention in bf16 is as close to float64 as the plain bf16 path", "[attention]") {
  for (const auto& [kernel, attend] : kKernels) {
    INFO("kernel " << kernel);
    for (auto [n, tq, tk, hd] :
         std::vector<std::array<int64_t, 4>>{{3, 37, 53, 24}, {4, 129, 300, 72}, {2, 1, 17, 128}}) {
      auto in = make(n, tq, tk, hd, at::kBFloat16, 7 + tk);
      const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
      auto want = plain64(in.q, {{in.k, in.v}}, {}, scale);
      const double old_err = max_abs_diff(old_path(in.q, in.k, in.v, scale), want);
      for (const auto& bs : kSizes) {
        auto got = attend(in.q, {{in.k, in.v}}, {}, scale, bs);
        REQUIRE(got.scalar_type() == at::kBFloat16);
        REQUIRE(got.sizes() == in.q.sizes());
        const double err = max_abs_diff(got, want);
        INFO("n " << n << " tq " << tq << " tk " << tk << " blocks " << bs.heads << "/" << bs.q_rows
                  << "/" << bs.k_rows << ": error " << err << ", plain bf16 " << old_err);
        // bf16 scores and probabilities: a few bf16 ulps of outputs of magnitude ~1.
        CHECK(err < 3e-2);
        CHECK(err <= 1.5 * old_err + 4e-3);
      }
    }
  }
}

TEST_CASE(
    "several key parts equal one concatenated part, also with a bf16 cache under fp32 compute",
    "[attention]") {
  for (const auto& [kernel, attend] : kKernels) {
    INFO("kernel " << kernel);
    auto a = make(4, 23, 41, 16, at::kFloat, 3);
    auto b = make(4, 23, 9, 16, at::kFloat, 4);
    const double scale = 0.25;
    auto want = plain64(a.q, {{a.k, a.v}, {b.k, b.v}}, {}, scale);
    for (const auto& bs : kSizes) {
      CHECK(max_abs_diff(attend(a.q, {{a.k, a.v}, {b.k, b.v}}, {}, scale, bs), want) < 1e-5);
    }
    // The first part stored in bf16 (the prefix cache): same as upcasting it first.
    auto kb = a.k.to(at::kBFloat16), vb = a.v.to(at::kBFloat16);
    auto up = plain64(a.q, {{kb.to(at::kFloat), vb.to(at::kFloat)}, {b.k, b.v}}, {}, scale);
    for (const auto& bs : kSizes) {
      auto got = attend(a.q, {{kb, vb}, {b.k, b.v}}, {}, scale, bs);
      REQUIRE(got.scalar_type() == at::kFloat);
      CHECK(max_abs_diff(got, up) < 1e-5);
    }
  }
}

TEST_CASE("an additive mask hides columns, also whole leading key blocks of a row", "[attention]") {
  for (const auto& [kernel, attend] : kKernels) {
    INFO("kernel " << kernel);
    auto in = make(3, 19, 27, 8, at::kFloat, 5);
    const double scale = 0.35;
    const float inf = std::numeric_limits<float>::infinity();
    auto mask = at::zeros({19, 27});
    mask.narrow(0, 0, 6).narrow(1, 0, 12).fill_(-inf);   // rows 0-5 see keys 12.. only
    mask.narrow(0, 6, 13).narrow(1, 20, 7).fill_(-inf);  // the others never see keys 20..
    auto want = plain64(in.q, {{in.k, in.v}}, mask, scale);
    for (const auto& bs : kSizes) {
      INFO("blocks " << bs.heads << "/" << bs.q_rows << "/" << bs.k_rows);
      auto got = attend(in.q, {{in.k, in.v}}, mask, scale, bs);
      CHECK_FALSE(at::isnan(got).any().item<bool>());
      CHECK(max_abs_diff(got, want) < 1e-5);
    }
    // Masked columns have no influence at all.
    auto v2 = in.v.clone();
    v2.narrow(1, 20, 7).fill_(1e6);
    auto got = attend(in.q, {{in.k, v2}}, mask, scale, {2, 4, 5});
    CHECK(max_abs_diff(got.narrow(1, 6, 13), want.narrow(1, 6, 13)) < 1e-5);
    // The same mask in bf16 compute.
    auto qb = in.q.to(at::kBFloat16), kb = in.k.to(at::kBFloat16), vb = in.v.to(at::kBFloat16);
    auto want_b = plain64(qb, {{kb, vb}}, mask, scale);
    CHECK(max_abs_diff(attend(qb, {{kb, vb}}, mask, scale, {1, 4, 5}), want_b) < 3e-2);
  }
}

TEST_CASE("bad shapes and dtypes give clear errors", "[attention]") {
  for (const auto& [kernel, attend] : kKernels) {
    INFO("kernel " << kernel);
    auto in = make(2, 3, 4, 8, at::kFloat, 6);
    auto bad = [&](const at::Tensor& q, std::vector<KvPart> parts, const at::Tensor& mask) {
      CHECK_THROWS_AS(attend(q, parts, mask, 1.0, {}), std::invalid_argument);
    };
    bad(in.q.view({6, 8}), {{in.k, in.v}}, {});                     // q not 3-D
    bad(in.q.to(at::kLong), {{in.k, in.v}}, {});                    // q not floating
    bad(in.q, {}, {});                                              // no parts
    bad(in.q, {{in.k.narrow(0, 0, 1), in.v.narrow(0, 0, 1)}}, {});  // head count
    bad(in.q, {{in.k.narrow(2, 0, 4), in.v.narrow(2, 0, 4)}}, {});  // head_dim
    bad(in.q, {{in.k, in.v.narrow(1, 0, 2)}}, {});                  // k/v lengths
    bad(in.q, {{in.k.narrow(1, 0, 0), in.v.narrow(1, 0, 0)}}, {});  // no keys
    bad(in.q, {{in.k, in.v}}, at::zeros({3, 5}));                   // mask columns
    bad(in.q, {{in.k, in.v}}, at::zeros({3, 4}, at::kDouble));      // mask dtype
    bad(in.q, {{in.k, at::Tensor()}}, {});                          // undefined v
  }
}

TEST_CASE("the fused CPU kernel reads strided views and takes only fp32/bf16 CPU tensors",
          "[attention]") {
  // q, k, v as the LLaDA layer makes them: [T, N, hd] projections viewed as [N, T, hd].
  auto gen = at::detail::createCPUGenerator(11);
  const int64_t n = 4, tq = 21, tk = 45, hd = 16;
  auto q = at::randn({tq, n, hd}, gen).transpose(0, 1);
  auto k = at::randn({tk, n, hd}, gen).transpose(0, 1);
  auto v = at::randn({tk, n, hd}, gen).transpose(0, 1);
  REQUIRE_FALSE(q.is_contiguous());
  const double scale = 0.3;
  auto want = plain64(q, {{k, v}}, {}, scale);
  CHECK(max_abs_diff(fused_cpu_attention(q, {{k, v}}, {}, scale, {0, 8, 16}), want) < 1e-5);
  // hd not the innermost stride (a transposed copy): converted, same result.
  auto k_t = k.transpose(1, 2).contiguous().transpose(1, 2);
  REQUIRE(k_t.stride(2) != 1);
  CHECK(max_abs_diff(fused_cpu_attention(q, {{k_t, v}}, {}, scale), want) < 1e-5);
  // bf16 strided views (the bf16 path widens per head).
  auto qb = q.to(at::kBFloat16), kb = k.to(at::kBFloat16), vb = v.to(at::kBFloat16);
  CHECK(max_abs_diff(fused_cpu_attention(qb, {{kb, vb}}, {}, scale),
                     plain64(qb, {{kb, vb}}, {}, scale)) < 2e-2);

  CHECK(shirg::attention::fused_cpu_supported(q, {{k, v}}));
  CHECK(shirg::attention::fused_cpu_supported(qb, {{kb, v}}));
  CHECK_FALSE(shirg::attention::fused_cpu_supported(q.to(at::kHalf), {{k, v}}));
  CHECK_FALSE(shirg::attention::fused_cpu_supported(q, {{k.to(at::kDouble), v}}));
  CHECK_THROWS_AS(fused_cpu_attention(q.to(at::kDouble), {{k, v}}, {}, scale),
                  std::invalid_argument);
}

TEST_CASE("the fused CPU kernel matches the blocked one at LLaDA-like sizes, bf16 no less exact",
          "[attention]") {
  // 2 heads of 128 over a 600-key prefix in 2 parts (cache + answer rows), 200 query rows: several
  // query and key blocks of the defaults.
  for (auto dt : {at::kFloat, at::kBFloat16}) {
    INFO("dtype " << c10::toString(dt));
    auto a = make(2, 200, 570, 128, dt, 21);
    auto b = make(2, 200, 30, 128, dt, 22);
    const double scale = 1.0 / std::sqrt(128.0);
    auto want = plain64(a.q, {{a.k, a.v}, {b.k, b.v}}, {}, scale);
    const double err =
        max_abs_diff(fused_cpu_attention(a.q, {{a.k, a.v}, {b.k, b.v}}, {}, scale), want);
    const double blocked_err =
        max_abs_diff(blocked_attention(a.q, {{a.k, a.v}, {b.k, b.v}}, {}, scale), want);
    INFO("fused error " << err << ", blocked error " << blocked_err);
    CHECK(err < (dt == at::kFloat ? 1e-5 : 2e-2));
    CHECK(err <= blocked_err + 1e-6);
  }
}
