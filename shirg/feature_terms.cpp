#include "shirg/feature_terms.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

namespace shirg::select {
namespace {

std::vector<float> to_vector(const at::Tensor& t) {
  at::Tensor c = t.to(at::kCPU, at::kFloat).contiguous();
  const float* p = c.data_ptr<float>();
  return std::vector<float>(p, p + c.numel());
}

}  // namespace

RawFeatureTerms raw_feature_terms(at::Tensor& work, int64_t grid) {
  const int64_t n = work.size(0), dv = work.size(1);
  at::Tensor& z = work;
  // Row chunks of this size keep every temporary in the L2 cache (256 x 1152 fp32 = 1.2 MB).
  const int64_t chunk = 256;
  at::Tensor scratch = at::empty({std::min(chunk, n), dv}, z.options());
  const at::Tensor ones = at::ones({n}, z.options());
  // Per-channel mean and variance over the tokens (gemv on a [N, Dv] row-major matrix).
  const at::Tensor mean = at::mv(z.t(), ones).div_(static_cast<double>(n));
  z.sub_(mean);
  at::Tensor sumsq = at::zeros({dv}, z.options());
  for (int64_t s = 0; s < n; s += chunk) {
    const int64_t len = std::min(chunk, n - s);
    at::Tensor sq = scratch.narrow(0, 0, len);
    const at::Tensor zc = z.narrow(0, s, len);
    at::mul_out(sq, zc, zc);
    sumsq.add_(at::mv(sq.t(), ones.narrow(0, 0, len)));
  }
  const at::Tensor var = sumsq.div_(static_cast<double>(n));
  // Regulariser relative to the features' energy so constant channels are not blown up.
  const double energy = (var + mean * mean).mean().item<double>();
  z.mul_((var + (1e-6 * energy + 1e-30)).rsqrt_());

  const double inv_sqrt_dv = 1.0 / std::sqrt(static_cast<double>(dv));
  RawFeatureTerms out;
  out.saliency = to_vector(at::linalg_vector_norm(z, 2, {1}).mul_(inv_sqrt_dv));

  // Neighbour distances. In raster order the 4 "forward" neighbours of cell i are i + o for
  // o = 1 (right), G (down), G + 1 (down-right), G - 1 (down-left): rows z[o:] - z[:-o] are
  // contiguous, computed in cache-sized chunks; pairs that wrap around a row edge are skipped.
  // Each undirected pair is credited to both cells; the sum is divided by the neighbour count.
  std::vector<double> sum(static_cast<size_t>(n), 0.0);
  const int64_t offsets[4] = {1, grid, grid + 1, grid - 1};
  for (int dir = 0; dir < 4; ++dir) {
    const int64_t o = offsets[dir];
    if (o < 1 || o >= n) continue;
    std::vector<at::Tensor> parts;
    for (int64_t s = 0; s < n - o; s += chunk) {
      const int64_t len = std::min(chunk, n - o - s);
      at::Tensor d = scratch.narrow(0, 0, len);
      at::sub_out(d, z.narrow(0, s + o, len), z.narrow(0, s, len));
      parts.push_back(at::linalg_vector_norm(d, 2, {1}));
    }
    const std::vector<float> dist = to_vector(at::cat(parts));
    for (int64_t i = 0; i < n - o; ++i) {
      const int64_t col = i % grid;
      const bool valid = dir == 1 || (dir == 3 ? col > 0 : col + 1 < grid);
      if (!valid) continue;
      sum[static_cast<size_t>(i)] += dist[static_cast<size_t>(i)];
      sum[static_cast<size_t>(i + o)] += dist[static_cast<size_t>(i)];
    }
  }
  out.neighbor.resize(static_cast<size_t>(n));
  for (int64_t r = 0; r < grid; ++r)
    for (int64_t c = 0; c < grid; ++c) {
      const int64_t rows = 1 + (r > 0) + (r + 1 < grid), cols = 1 + (c > 0) + (c + 1 < grid);
      const int64_t count = rows * cols - 1;
      const size_t i = static_cast<size_t>(r * grid + c);
      out.neighbor[i] =
          count > 0 ? static_cast<float>(sum[i] * inv_sqrt_dv / static_cast<double>(count)) : 0.0f;
    }
  return out;
}

std::vector<float> query_similarity(const at::Tensor& projected, const at::Tensor& query) {
  // fp32 throughout: [N, D] x [D, T] with small T is cheap, and bf16 matmuls are slow on CPUs
  // without native bf16 (AVX512-BF16/AMX).
  const at::Tensor p = projected.to(at::kFloat);
  const at::Tensor q = query.to(p.device(), at::kFloat);
  const at::Tensor pn = at::linalg_vector_norm(p, 2, {1}).clamp_min_(1e-12);
  const at::Tensor qn = at::linalg_vector_norm(q, 2, {1}).clamp_min_(1e-12);
  const at::Tensor cos = at::matmul(p, q.t()).div_(pn.unsqueeze(1)).div_(qn.unsqueeze(0));
  return to_vector(std::get<0>(cos.max(1)));
}

}  // namespace shirg::select
