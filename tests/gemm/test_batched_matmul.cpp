// gemm::batched_matmul against float64 products of the same inputs: fp32 and bf16, odd sizes,
// transposed and sliced operands, an output that is a view into a larger tensor, empty sizes,
// threads calling at once, and the messages for shapes and dtypes that do not fit.
#include <ATen/ATen.h>
#include "tests/common/catch.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/gemm/batched_matmul.h"

using shirg::gemm::batched_matmul;

namespace {

at::Tensor rand3(int64_t b, int64_t m, int64_t n, uint64_t seed, at::ScalarType dt) {
  auto gen = at::detail::createCPUGenerator(seed);
  return at::randn({b, m, n}, gen, at::kFloat).to(dt);
}

double max_rel_err(const at::Tensor& y, const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor ref = at::bmm(a.to(at::kDouble), b.to(at::kDouble));
  const double scale = std::max(1.0, ref.abs().max().item<double>());
  return (y.to(at::kDouble) - ref).abs().max().item<double>() / scale;
}

}  // namespace

namespace {

void check_odd_sizes(at::ScalarType dt) {
  for (auto [b, m, k, n] : std::vector<std::array<int64_t, 4>>{
           {1, 1, 1, 1}, {3, 5, 7, 9}, {6, 32, 128, 1322}, {6, 1322, 128, 32}, {2, 33, 65, 17}}) {
    const at::Tensor a = rand3(b, m, k, 1, dt), w = rand3(b, k, n, 2, dt);
    const at::Tensor y = at::empty({b, m, n}, a.options());
    batched_matmul(a, w, y);
    // fp32: products and sums in fp32; bf16: exact products, fp32 sums, one rounding of y.
    const double tol = dt == at::kFloat ? 1e-5 : 1e-2;
    INFO(c10::toString(dt) << " " << b << "x" << m << "x" << k << "x" << n);
    CHECK(max_rel_err(y, a, w) < tol);
  }
}

}  // namespace

TEST_CASE("batched_matmul equals the float64 product in fp32 at odd sizes") {
  check_odd_sizes(at::kFloat);
}

// Tagged: not run with oneDNN capped to AVX2 by ONEDNN_MAX_CPU_ISA, where LibTorch's own bf16 bmm
// (the fallback) still asks oneDNN for its AVX-512 bf16 kernel, which the cap withholds.
TEST_CASE("batched_matmul equals the float64 product in bf16 at odd sizes", "[bf16]") {
  check_odd_sizes(at::kBFloat16);
}

TEST_CASE("batched_matmul reads transposed and sliced operands and writes into a view") {
  const at::Tensor kt = rand3(4, 300, 64, 3, at::kFloat);  // K [B, Tk, hd]
  const at::Tensor q = rand3(4, 32, 64, 4, at::kFloat);
  // K q^T with q^T a transposed view, into a slice of a larger output.
  const at::Tensor big = at::full({6, 300, 32}, 7.0f);
  const at::Tensor y = big.narrow(0, 1, 4);
  batched_matmul(kt, q.transpose(1, 2), y);
  CHECK(max_rel_err(y, kt, q.transpose(1, 2)) < 1e-5);
  CHECK(big.select(0, 0).eq(7.0f).all().item<bool>());  // outside the view: untouched
  CHECK(big.select(0, 5).eq(7.0f).all().item<bool>());
  // A transposed first operand and an output transposed in memory.
  const at::Tensor p = rand3(4, 300, 32, 5, at::kFloat).transpose(1, 2);  // [4, 32, 300]
  const at::Tensor v = rand3(4, 300, 64, 6, at::kFloat).narrow(2, 0, 48);
  const at::Tensor yt = at::empty({4, 48, 32}).transpose(1, 2);
  batched_matmul(p, v, yt);
  CHECK(max_rel_err(yt, p, v) < 1e-5);
  // Broadcast (stride 0) operands go through ATen and are still right.
  const at::Tensor w1 = rand3(1, 64, 16, 7, at::kFloat).expand({4, 64, 16});
  const at::Tensor y2 = at::empty({4, 32, 16});
  batched_matmul(q, w1, y2);
  CHECK(max_rel_err(y2, q, w1) < 1e-5);
}

// Not tagged [bf16]: under ONEDNN_MAX_CPU_ISA=AVX2 oneDNN has no bf16 matmul and the fallback
// multiplies in fp32, which the cap does not touch: both paths are checked.
TEST_CASE("batched_matmul writes bf16 products into an fp32 output without rounding them") {
  const at::Tensor a = rand3(6, 32, 128, 20, at::kBFloat16),
                   b = rand3(6, 128, 333, 21, at::kBFloat16);
  const at::Tensor y = at::empty({6, 32, 333});
  batched_matmul(a, b, y);
  // Exact products, fp32 sums: fp32's error, far below one bf16 rounding of y (~4e-3).
  CHECK(max_rel_err(y, a, b) < 1e-5);
  // Into a strided view, with a transposed second operand (the step attention's q K^T).
  const at::Tensor k = rand3(6, 333, 128, 22, at::kBFloat16);
  const at::Tensor big = at::full({6, 32, 400}, 3.0f);
  batched_matmul(a, k.transpose(1, 2), big.narrow(2, 50, 333));
  CHECK(max_rel_err(big.narrow(2, 50, 333), a, k.transpose(1, 2)) < 1e-5);
  CHECK(big.narrow(2, 0, 50).eq(3.0f).all().item<bool>());
  CHECK(big.narrow(2, 383, 17).eq(3.0f).all().item<bool>());
}

TEST_CASE("batched_matmul adds into y in fp32 and in bf16 -> fp32") {
  for (auto dt : {at::kFloat, at::kBFloat16}) {
    INFO(c10::toString(dt));
    const at::Tensor a1 = rand3(3, 32, 100, 30, dt), b1 = rand3(3, 100, 64, 31, dt);
    const at::Tensor a2 = rand3(3, 32, 7, 32, dt), b2 = rand3(3, 7, 64, 33, dt);
    // y = a1 b1 + a2 b2, written as a view of a transposed buffer.
    const at::Tensor y = at::empty({3, 64, 32}).transpose(1, 2);
    batched_matmul(a1, b1, y);
    batched_matmul(a2, b2, y, shirg::gemm::Accumulate::kAdd);
    const at::Tensor ref = at::bmm(a1.to(at::kDouble), b1.to(at::kDouble)) +
                           at::bmm(a2.to(at::kDouble), b2.to(at::kDouble));
    const double scale = std::max(1.0, ref.abs().max().item<double>());
    CHECK((y.to(at::kDouble) - ref).abs().max().item<double>() / scale < 1e-5);
    // K = 0 adds nothing.
    const at::Tensor before = y.clone();
    batched_matmul(at::empty({3, 32, 0}, dt), at::empty({3, 0, 64}, dt), y,
                   shirg::gemm::Accumulate::kAdd);
    CHECK(y.equal(before));
  }
}

TEST_CASE("batched_matmul handles empty sizes and other dtypes") {
  const at::Tensor y = at::full({2, 3, 4}, 5.0f);
  batched_matmul(at::empty({2, 3, 0}), at::empty({2, 0, 4}), y);  // K = 0: a sum of nothing
  CHECK(y.eq(0.0f).all().item<bool>());
  const at::Tensor none = at::empty({0, 3, 4});
  batched_matmul(at::empty({0, 3, 2}), at::empty({0, 2, 4}), none);
  const at::Tensor a = rand3(2, 5, 6, 8, at::kDouble), b = rand3(2, 6, 7, 9, at::kDouble);
  const at::Tensor yd = at::empty({2, 5, 7}, at::kDouble);
  batched_matmul(a, b, yd);  // float64 is not oneDNN's: ATen
  CHECK(max_rel_err(yd, a, b) < 1e-12);
}

TEST_CASE("batched_matmul is right from several threads at once") {
  // Each thread multiplies its own operands (a scratchpad shared between calls would mix them).
  // Compared with float64, not bit for bit: the BLAS behind the fallback may block differently
  // when called from several threads.
  constexpr int kThreads = 4, kReps = 5;
  std::vector<double> err(kThreads * kReps, 1.0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&err, i] {
      const at::Tensor a = rand3(8, 32, 128, 10 + 2 * i, at::kFloat),
                       b = rand3(8, 128, 700, 11 + 2 * i, at::kFloat);
      for (int r = 0; r < kReps; ++r) {
        const at::Tensor y = at::empty({8, 32, 700});
        batched_matmul(a, b, y);
        err[i * kReps + r] = max_rel_err(y, a, b);
      }
    });
  for (auto& t : threads) t.join();
  for (double e : err) CHECK(e < 1e-5);
}

TEST_CASE("batched_matmul names shapes and dtypes that do not fit") {
  const at::Tensor a = at::zeros({2, 3, 4}), b = at::zeros({2, 4, 5});
  CHECK_THROWS_AS(batched_matmul(a, b, at::empty({2, 3, 6})), std::invalid_argument);
  CHECK_THROWS_WITH(batched_matmul(a, at::zeros({2, 3, 5}), at::empty({2, 3, 5})),
                    Catch::Matchers::ContainsSubstring("a [2, 3, 4], b [2, 3, 5], y [2, 3, 5]"));
  CHECK_THROWS_WITH(batched_matmul(a, b, at::empty({2, 3, 6})),
                    Catch::Matchers::ContainsSubstring("y [B, M, N]"));
  CHECK_THROWS_WITH(batched_matmul(a, at::zeros({3, 4, 5}), at::empty({2, 3, 5})),
                    Catch::Matchers::ContainsSubstring("b [3, 4, 5]"));
  CHECK_THROWS_WITH(batched_matmul(a.view({6, 4}), b, at::empty({2, 3, 5})),
                    Catch::Matchers::ContainsSubstring("a [6, 4]"));
  CHECK_THROWS_WITH(batched_matmul(a, b.to(at::kBFloat16), at::empty({2, 3, 5})),
                    Catch::Matchers::ContainsSubstring("one floating dtype"));
  CHECK_THROWS_WITH(batched_matmul(a.to(at::kLong), b.to(at::kLong), at::empty({2, 3, 5})),
                    Catch::Matchers::ContainsSubstring("one floating dtype"));
  // Only bf16 operands may write into an fp32 y; not the other way round.
  CHECK_THROWS_WITH(batched_matmul(a, b, at::empty({2, 3, 5}, at::kBFloat16)),
                    Catch::Matchers::ContainsSubstring("fp32 under bf16 a and b"));
  CHECK_THROWS_AS(batched_matmul(a.to(at::kDouble), b.to(at::kDouble), at::empty({2, 3, 5})),
                  std::invalid_argument);
  CHECK_THROWS_WITH(batched_matmul(a, at::Tensor(), at::empty({2, 3, 5})),
                    Catch::Matchers::ContainsSubstring("b undefined"));
}
