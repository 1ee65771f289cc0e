#include "bench/attention/blocked_attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

namespace shirg::attention {
namespace {

// Defaults: a [heads, q_rows, k_rows] fp32 score block is 4 x 256 x 512 x 4 B = 2 MiB, the
// bf16 probabilities 1 MiB, the fp32 accumulator 4 x 256 x hd x 4 B (512 KiB at hd 128).
constexpr int64_t kHeads = 4, kQRows = 256, kKRows = 512;
// LibTorch 1.13's CPU bmm sends products of fewer multiply-adds (rows x cols x contraction) than
// this to a plain loop; in bf16 that measured several times less accurate (test_blocked_attention,
// 1-row/1-key blocks), so such tiny blocks (tails, tiny inputs) run their two GEMMs in fp32.
constexpr int64_t kTinyGemm = 400;

// Running state of the online softmax for one [g, bq] block of query rows.
struct Online {
  at::Tensor m;    // [g, bq, 1] fp32 row max so far (-inf before any key)
  at::Tensor l;    // [g, bq, 1] fp32 row sum of exp(s - m)
  at::Tensor acc;  // [g, bq, hd] fp32 sum of exp(s - m) v
};

// Folds one key block into the state. qs: [g, bq, hd] scaled queries (compute dtype dt);
// k, v: [g, bk, hd] in dt; mask: undefined or [bq, bk] fp32.
void fold(Online& st, const at::Tensor& qs, const at::Tensor& k, const at::Tensor& v,
          const at::Tensor& mask) {
  const auto dt = qs.scalar_type();
  const bool fp32 = dt == at::kFloat || qs.size(1) * k.size(1) * qs.size(2) < kTinyGemm;
  // Contiguous operands: LibTorch's CPU bf16 bmm takes the oneDNN path only for contiguous or
  // last-two-dims-transposed operands and otherwise falls back to a loop ~10x slower (measured);
  // the block views here are strided, so they are copied (a few hundred KiB per block).
  const at::Tensor vf = fp32 ? v.to(at::kFloat).contiguous() : v.contiguous();
  // [g, bq, bk] scores; in dt unless fp32 (the GEMM accumulates in fp32 either way).
  at::Tensor s =
      fp32 ? at::bmm(qs.to(at::kFloat).contiguous(), k.to(at::kFloat).contiguous().transpose(1, 2))
           : at::bmm(qs.contiguous(), k.contiguous().transpose(1, 2));
  if (mask.defined()) s = s.to(at::kFloat).add_(mask);  // rare path (the uncached reference)
  const at::Tensor m_new = at::maximum(st.m, s.amax(-1, /*keepdim=*/true).to(at::kFloat));
  // With a mask, rows whose keys so far are all masked keep m = -inf: subtract 0 there so exp()
  // gives 0, not NaN. Without a mask every score is finite.
  const at::Tensor m_use =
      mask.defined() ? at::where(at::isinf(m_new), at::zeros({}, m_new.options()), m_new) : m_new;
  // p = exp(s - m) in fp32 (the subtraction reads s in its own dtype: no conversion pass).
  at::Tensor p = at::sub(s, m_use);
  if (p.scalar_type() != at::kFloat) p = p.to(at::kFloat);
  p.exp_();
  const at::Tensor alpha = at::exp(st.m - m_use);  // [g, bq, 1]; 0 on the first block
  st.l.mul_(alpha).add_(p.sum(-1, /*keepdim=*/true));
  st.acc.mul_(alpha);
  if (fp32) {
    st.acc.baddbmm_(p, vf);  // accumulates in place
  } else {
    st.acc.add_(at::bmm(p.to(dt), vf));  // add_ casts the dt partial on the fly
  }
  st.m = m_new;
}

}  // namespace

at::Tensor blocked_attention(const at::Tensor& q, const std::vector<KvPart>& parts,
                             const at::Tensor& mask, double scale, BlockSizes sizes) {
  check_attention_inputs(q, parts, mask);
  const auto dt = q.scalar_type();
  const int64_t n = q.size(0), tq = q.size(1), hd = q.size(2);
  const int64_t g_max = std::min(n, sizes.heads > 0 ? sizes.heads : kHeads);
  const int64_t bq_max = sizes.q_rows > 0 ? sizes.q_rows : kQRows;
  const int64_t bk_max = sizes.k_rows > 0 ? sizes.k_rows : kKRows;
  const auto f32 = q.options().dtype(at::kFloat);
  at::Tensor out = at::empty({n, tq, hd}, q.options());
  if (tq == 0) return out;

  for (int64_t h0 = 0; h0 < n; h0 += g_max) {
    const int64_t g = std::min(g_max, n - h0);
    // The head group's keys/values in dt: a view unless the cache dtype differs.
    std::vector<KvPart> kv;
    for (const auto& p : parts) {
      at::Tensor k = p.k.narrow(0, h0, g), v = p.v.narrow(0, h0, g);
      kv.push_back({k.scalar_type() == dt ? k : k.to(dt), v.scalar_type() == dt ? v : v.to(dt)});
    }
    const at::Tensor qg = q.narrow(0, h0, g) * scale;
    for (int64_t q0 = 0; q0 < tq; q0 += bq_max) {
      const int64_t bq = std::min(bq_max, tq - q0);
      const at::Tensor qs = qg.narrow(1, q0, bq);
      Online st{at::full({g, bq, 1}, -std::numeric_limits<float>::infinity(), f32),
                at::zeros({g, bq, 1}, f32), at::zeros({g, bq, hd}, f32)};
      int64_t col = 0;
      for (const auto& p : kv) {
        const int64_t tk = p.k.size(1);
        for (int64_t k0 = 0; k0 < tk; k0 += bk_max) {
          const int64_t bk = std::min(bk_max, tk - k0);
          const at::Tensor mb =
              mask.defined() ? mask.narrow(0, q0, bq).narrow(1, col + k0, bk) : at::Tensor();
          fold(st, qs, p.k.narrow(1, k0, bk), p.v.narrow(1, k0, bk), mb);
        }
        col += tk;
      }
      // out = acc / l, written in dt straight into the output block (division casts on store).
      at::Tensor dst = out.narrow(0, h0, g).narrow(1, q0, bq);
      at::div_out(dst, st.acc, st.l);
    }
  }
  return out;
}

at::Tensor reference_attention(const at::Tensor& q, const std::vector<KvPart>& parts,
                               const at::Tensor& mask, double scale) {
  check_attention_inputs(q, parts, mask);
  std::vector<at::Tensor> ks, vs;
  for (const auto& p : parts) {
    ks.push_back(p.k.to(at::kFloat));
    vs.push_back(p.v.to(at::kFloat));
  }
  at::Tensor s = at::bmm(q.to(at::kFloat) * scale, at::cat(ks, 1).transpose(1, 2));
  if (mask.defined()) s = s + mask;
  return at::bmm(at::softmax(s, -1), at::cat(vs, 1)).to(q.scalar_type());
}

}  // namespace shirg::attention
