#include "engine/attention/chunked_attention.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace shirg::attention {
namespace {

// fp32 scores of one chunk (heads x rows x keys x 4 B) stay within this.
constexpr int64_t kScoreBudgetBytes = int64_t{64} << 20;
// Parts converted to q's dtype: one head group's converted keys stay within this.
constexpr int64_t kConvertBudgetBytes = int64_t{2} << 20;

}  // namespace

at::Tensor softmax_rounded_once(const at::Tensor& scores) {
  const auto dt = scores.scalar_type();
  if (scores.is_cpu() && dt == at::kBFloat16) return at::softmax(scores, -1);
  return at::softmax(scores, -1, at::kFloat).to(dt);
}

at::Tensor chunked_attention(const at::Tensor& q, const std::vector<KvPart>& parts,
                             const at::Tensor& mask, double scale, int64_t max_heads_per_chunk) {
  const int64_t tk = check_attention_inputs(q, parts, mask);
  const auto dt = q.scalar_type();
  const int64_t h = q.size(0), tq = q.size(1), hd = q.size(2);
  bool convert = false;
  for (const auto& p : parts)
    convert = convert || p.k.scalar_type() != dt || p.v.scalar_type() != dt;
  // Heads per group from the score budget (and the conversion budget); query rows per block
  // when a single head's scores exceed the budget.
  const int64_t head_scores = tq * tk * 4;
  int64_t heads = std::max<int64_t>(1, kScoreBudgetBytes / std::max<int64_t>(1, head_scores));
  if (convert) heads = std::min(heads, std::max<int64_t>(1, kConvertBudgetBytes / (tk * hd * 4)));
  if (max_heads_per_chunk > 0) heads = max_heads_per_chunk;
  heads = std::min(heads, h);
  const int64_t rows =
      std::clamp<int64_t>(kScoreBudgetBytes / std::max<int64_t>(1, heads * tk * 4), 16, tq);

  at::Tensor out = at::empty({h, tq, hd}, q.options());
  for (int64_t h0 = 0; h0 < h; h0 += heads) {
    const int64_t n = std::min(heads, h - h0);
    std::vector<at::Tensor> keys, values;
    for (const auto& p : parts) {
      at::Tensor k = p.k.narrow(0, h0, n), v = p.v.narrow(0, h0, n);
      keys.push_back(k.scalar_type() == dt ? k.transpose(1, 2) : k.to(dt).transpose(1, 2));
      values.push_back(v.scalar_type() == dt ? v : v.to(dt));
    }
    for (int64_t r0 = 0; r0 < tq; r0 += rows) {
      const int64_t m = std::min(rows, tq - r0);
      const at::Tensor qs = q.narrow(0, h0, n).narrow(1, r0, m) * scale;
      std::vector<at::Tensor> scores;
      for (const auto& kt : keys) scores.push_back(at::matmul(qs, kt));
      const at::Tensor s = scores.size() == 1 ? scores[0] : at::cat(scores, 2);
      const at::Tensor prob = mask.defined()
                                  ? at::softmax(s.to(at::kFloat) + mask.narrow(0, r0, m), -1).to(dt)
                                  : softmax_rounded_once(s);
      at::Tensor o;
      int64_t off = 0;
      for (const auto& v : values) {
        const at::Tensor part = at::matmul(prob.narrow(2, off, v.size(1)), v);
        o = o.defined() ? o + part : part;
        off += v.size(1);
      }
      out.narrow(0, h0, n).narrow(1, r0, m).copy_(o);
    }
  }
  return out;
}

}  // namespace shirg::attention
