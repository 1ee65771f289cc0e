#include "engine/attention/legacy_attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <atomic>

namespace shirg::attention {
namespace {

constexpr int64_t kScoreBudgetBytes = int64_t{64} << 20;
constexpr int64_t kConvertBudgetBytes = int64_t{2} << 20;
constexpr int64_t kRowBudgetElements = int64_t{24} << 20;  // fp32 elements (96 MiB)

std::atomic<Kernel> g_kernel{Kernel::kLegacy};

}  // namespace

void set_kernel(Kernel k) {
  g_kernel.store(k);
}

Kernel kernel() {
  return g_kernel.load();
}

at::Tensor legacy_head_chunked(const at::Tensor& q, const std::vector<KvPart>& parts,
                               const at::Tensor& mask, double scale, int64_t max_heads_per_chunk) {
  const auto dt = q.scalar_type();
  const int64_t h = q.size(0), tq = q.size(1), hd = q.size(2);
  int64_t tk = 0;
  bool convert = false;
  for (const auto& p : parts) {
    tk += p.k.size(1);
    convert = convert || p.k.scalar_type() != dt || p.v.scalar_type() != dt;
  }
  int64_t chunk = std::max<int64_t>(1, kScoreBudgetBytes / std::max<int64_t>(1, tq * tk * 4));
  if (convert) chunk = std::min(chunk, std::max<int64_t>(1, kConvertBudgetBytes / (tk * hd * 4)));
  if (max_heads_per_chunk > 0) chunk = max_heads_per_chunk;
  chunk = std::min(chunk, h);

  std::vector<at::Tensor> outs;
  for (int64_t h0 = 0; h0 < h; h0 += chunk) {
    const int64_t n = std::min(chunk, h - h0);
    auto qh = q.narrow(0, h0, n) * scale;
    std::vector<at::Tensor> scores, values;
    for (const auto& p : parts) {
      auto k = p.k.narrow(0, h0, n);
      auto v = p.v.narrow(0, h0, n);
      if (k.scalar_type() != dt) k = k.to(dt);
      if (v.scalar_type() != dt) v = v.to(dt);
      scores.push_back(at::matmul(qh, k.transpose(1, 2)));
      values.push_back(v);
    }
    auto s = scores.size() == 1 ? scores[0] : at::cat(scores, 2);
    s = s.to(at::kFloat);
    if (mask.defined()) s = s + mask;
    auto prob = at::softmax(s, -1).to(dt);
    at::Tensor o;
    int64_t off = 0;
    for (const auto& v : values) {
      auto part = at::matmul(prob.narrow(2, off, v.size(1)), v);
      o = o.defined() ? o + part : part;
      off += v.size(1);
    }
    outs.push_back(o);
  }
  return outs.size() == 1 ? outs[0] : at::cat(outs, 0);
}

at::Tensor softmax_rounded_once(const at::Tensor& scores) {
  const auto dt = scores.scalar_type();
  if (scores.is_cpu() && dt == at::kBFloat16) return at::softmax(scores, -1);
  return at::softmax(scores, -1, at::kFloat).to(dt);
}

at::Tensor legacy_row_chunked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                              double scale) {
  const int64_t h = q.size(0), n = q.size(1), kv = k.size(1);
  const int64_t chunk = std::max<int64_t>(
      16, std::min<int64_t>(n, kRowBudgetElements / std::max<int64_t>(1, h * kv)));
  const at::Tensor kt = k.transpose(-1, -2);
  const at::Tensor qs = q * scale;
  if (chunk >= n) {
    return at::matmul(softmax_rounded_once(at::matmul(qs, kt)), v);
  }
  at::Tensor out = at::empty_like(q);
  for (int64_t s = 0; s < n; s += chunk) {
    const int64_t e = std::min(n, s + chunk);
    const at::Tensor p = softmax_rounded_once(at::matmul(qs.slice(1, s, e), kt));
    out.slice(1, s, e).copy_(at::matmul(p, v));
  }
  return out;
}

}  // namespace shirg::attention
