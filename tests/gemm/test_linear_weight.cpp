// engine/gemm/linear_weight.h: plain and packed linear weights against float64 references; odd
// shapes, 0 .. 300 rows, 3-D inputs, bf16, bad input, the layouts (auto / aten / packed), many
// threads at once, and that a row's result does not depend on the other rows of the call (the
// batched denoising step relies on it). Also registered with ONEDNN_MAX_CPU_ISA=AVX2, where
// oneDNN offers no blocked layout: auto must keep LibTorch's path there.
#include <ATen/ATen.h>
#include "tests/common/catch.h"

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/gemm/linear_weight.h"

using shirg::gemm::LinearWeight;
using shirg::gemm::WeightLayout;

namespace {

// (Helpers of the packed cases, which a build without oneDNN leaves out: [[maybe_unused]].)
[[maybe_unused]] at::Tensor reference64(const at::Tensor& x, const at::Tensor& w) {
  return at::matmul(x.to(at::kDouble), w.to(at::kDouble).t());
}

[[maybe_unused]] double max_rel_err(const at::Tensor& got, const at::Tensor& want) {
  auto g = got.to(at::kDouble);
  return ((g - want).abs().max() / want.abs().max().clamp_min(1e-30)).item<double>();
}

[[maybe_unused]] bool isa_capped_to_avx2() {
  const char* v = std::getenv("ONEDNN_MAX_CPU_ISA");
  return v != nullptr && std::string(v) == "AVX2";
}

// Packs with kPacked; on a CPU where oneDNN has no matmul for the dtype (bf16 without AVX-512)
// the refusal must say so and auto must keep the weight plain. Returns whether it packed.
[[maybe_unused]] bool try_pack(const LinearWeight& plain, LinearWeight& out) {
  try {
    out = plain.packed(WeightLayout::kPacked);
    return true;
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("oneDNN") != std::string::npos);
    CHECK_FALSE(plain.packed(WeightLayout::kAuto).is_packed());
    return false;
  }
}

}  // namespace

TEST_CASE("layout names parse and print", "[gemm]") {
  CHECK(shirg::gemm::parse_weight_layout("auto") == WeightLayout::kAuto);
  CHECK(shirg::gemm::parse_weight_layout("aten") == WeightLayout::kPlain);
  CHECK(shirg::gemm::parse_weight_layout("packed") == WeightLayout::kPacked);
  CHECK(std::string(shirg::gemm::to_string(WeightLayout::kPacked)) == "packed");
  CHECK_THROWS_AS(shirg::gemm::parse_weight_layout("fast"), std::invalid_argument);
#if SHIRG_WITH_ONEDNN
  CHECK(shirg::gemm::packing_available());
#else
  CHECK_FALSE(shirg::gemm::packing_available());
#endif
}

TEST_CASE("a plain weight is at::linear", "[gemm]") {
  at::manual_seed(1);
  auto w = at::randn({24, 40});
  LinearWeight l(w);
  CHECK_FALSE(l.is_packed());
  CHECK(l.sizes() == std::vector<int64_t>{24, 40});
  CHECK(l.numel() == 960);
  CHECK(l.nbytes() == 960 * 4);
  CHECK(l.implementation() == "at::linear");
  auto x = at::randn({5, 40});
  CHECK(at::equal(l.forward(x), at::linear(x, w)));
  CHECK(l.plain().is_same(w));
  CHECK(l.packed(WeightLayout::kPlain).plain().is_same(w));
  LinearWeight empty;
  CHECK_FALSE(empty.defined());
  CHECK(empty.numel() == 0);
  CHECK_FALSE(empty.packed(WeightLayout::kPacked).defined());
}

#if SHIRG_WITH_ONEDNN

TEST_CASE("packed fp32 matches float64 for odd shapes and any row count", "[gemm]") {
  at::manual_seed(2);
  for (auto [out, in] : std::vector<std::pair<int64_t, int64_t>>{{48, 32}, {100, 70}, {130, 257}}) {
    auto w = at::randn({out, in});
    LinearWeight packed = LinearWeight(w).packed(WeightLayout::kPacked);
    REQUIRE(packed.is_packed());
    CHECK(packed.sizes() == std::vector<int64_t>{out, in});
    CHECK(packed.dtype() == at::kFloat);
    CHECK(packed.device().is_cpu());
    CHECK(packed.nbytes() >= out * in * 4);
    CHECK(packed.implementation() != "at::linear");
    CHECK(at::equal(packed.to_plain(), w));  // the reorder is lossless
    CHECK_THROWS_AS(packed.plain(), std::logic_error);
    for (int64_t rows : {0, 1, 7, 32, 33, 300}) {
      INFO("out " << out << " in " << in << " rows " << rows);
      auto x = at::randn({rows, in});
      auto y = packed.forward(x);
      REQUIRE(y.sizes() == at::IntArrayRef({rows, out}));
      CHECK(y.scalar_type() == at::kFloat);
      if (rows > 0) CHECK(max_rel_err(y, reference64(x, w)) < 1e-5);
    }
    // [..., in] inputs, and a non-contiguous one.
    auto x3 = at::randn({2, 5, in});
    auto y3 = packed.forward(x3);
    REQUIRE(y3.sizes() == at::IntArrayRef({2, 5, out}));
    CHECK(max_rel_err(y3, reference64(x3, w)) < 1e-5);
    auto xt = at::randn({in, 9}).t();
    CHECK(max_rel_err(packed.forward(xt), reference64(xt, w)) < 1e-5);
  }
}

TEST_CASE("packed bf16 matches float64 of the bf16 values", "[gemm]") {
  at::manual_seed(3);
  auto w = at::randn({96, 200}).to(at::kBFloat16);
  LinearWeight packed;
  if (!try_pack(LinearWeight(w), packed)) return;  // the refusal was checked
  CHECK(packed.dtype() == at::kBFloat16);
  CHECK(at::equal(packed.to_plain(), w));
  for (int64_t rows : {1, 32, 65}) {
    auto x = at::randn({rows, 200}).to(at::kBFloat16);
    auto y = packed.forward(x);
    CHECK(y.scalar_type() == at::kBFloat16);
    // fp32 accumulation rounded once to bf16: within bf16's relative step of the exact value.
    CHECK(max_rel_err(y, reference64(x, w)) < 8e-3);
  }
}

// Where auto packs (a blocked layout: oneDNN's brgemm). oneDNN's plain-layout GEMM (AVX2) does
// not keep rows independent, one more reason auto leaves that case to LibTorch.
TEST_CASE("a row's result does not depend on the other rows of the call", "[gemm]") {
  at::manual_seed(4);
  for (auto dt : {at::kFloat, at::kBFloat16}) {
    auto w = at::randn({160, 320}).to(dt);
    LinearWeight packed = LinearWeight(w).packed(WeightLayout::kAuto);
    if (!packed.is_packed()) {
      CHECK(shirg::gemm::onednn_isa().rfind("avx512_core", 0) != 0);  // only without brgemm
      continue;
    }
    auto x = at::randn({4 * 32 + 5, 320}).to(dt);
    auto all = packed.forward(x);
    for (int64_t r0 : {0, 32, 96}) {
      INFO(c10::toString(dt) << " rows from " << r0);
      CHECK(at::equal(all.narrow(0, r0, 32), packed.forward(x.narrow(0, r0, 32))));
    }
    CHECK(at::equal(all.narrow(0, 128, 5), packed.forward(x.narrow(0, 128, 5))));
  }
}

TEST_CASE("packed forward from many threads at once", "[gemm]") {
  at::manual_seed(5);
  auto w = at::randn({256, 128});
  LinearWeight packed = LinearWeight(w).packed(WeightLayout::kPacked);
  auto x = at::randn({40, 128});
  auto want = packed.forward(x);
  std::vector<at::Tensor> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) got[t] = packed.forward(x);
    });
  for (auto& t : threads) t.join();
  for (const auto& g : got) CHECK(at::equal(g, want));
}

TEST_CASE("packed forward refuses input it cannot run, with the reason", "[gemm]") {
  LinearWeight packed = LinearWeight(at::randn({8, 16})).packed(WeightLayout::kPacked);
  auto message_of = [&](const at::Tensor& x) {
    try {
      packed.forward(x);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message_of(at::randn({3, 16}, at::kDouble)).find("expected a CPU Float input [..., 16]") !=
        std::string::npos);
  CHECK(message_of(at::randn({3, 15})).find("[3, 15]") != std::string::npos);
  CHECK(message_of(at::randn({})).find("expected") != std::string::npos);
}

TEST_CASE("what cannot be packed: auto keeps it plain, packed says why", "[gemm]") {
  for (const auto& w :
       {at::ones({4, 4}, at::kInt), at::randn({4, 4}).to(at::kHalf), at::randn({4, 4, 2})}) {
    LinearWeight l(w);
    CHECK_FALSE(l.packed(WeightLayout::kAuto).is_packed());
    CHECK_THROWS_WITH(l.packed(WeightLayout::kPacked),
                      Catch::Matchers::ContainsSubstring("cannot pack"));
  }
}

TEST_CASE("auto packs exactly where oneDNN offers a blocked layout", "[gemm]") {
  // This CPU: AVX-512 gives oneDNN's brgemm matmul with a blocked weight layout; capped to AVX2
  // (the test's second registration) oneDNN would run the plain layout through its own GEMM,
  // which measured slower than LibTorch's (docs/benchmarks.md), so auto keeps at::linear.
  auto l = LinearWeight(at::randn({64, 64})).packed(WeightLayout::kAuto);
  const std::string isa = shirg::gemm::onednn_isa();
  INFO("oneDNN ISA " << isa);
  if (isa_capped_to_avx2()) CHECK(isa == "avx2");
  if (isa.rfind("avx512_core", 0) == 0) {
    CHECK(l.is_packed());
    CHECK(l.implementation().find("brg") != std::string::npos);
  } else {
    CHECK_FALSE(l.is_packed());
    CHECK(l.implementation() == "at::linear");
  }
}

#endif  // SHIRG_WITH_ONEDNN
