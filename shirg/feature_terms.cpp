#include "shirg/feature_terms.h"

#include <ATen/ATen.h>

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
  const at::Tensor& x = work;
  const at::Tensor ones = at::ones({n}, x.options());
  // Per-channel mean and variance over the tokens (gemv: fast on a [N, Dv] row-major matrix).
  const at::Tensor mean = at::mv(x.t(), ones).div_(static_cast<double>(n));
  at::Tensor& z = work;
  z.sub_(mean);
  at::Tensor buf = at::empty_like(z);  // scratch, reused below
  at::mul_out(buf, z, z);
  const at::Tensor var = at::mv(buf.t(), ones).div_(static_cast<double>(n));
  // Regulariser relative to the features' energy so constant channels are not blown up.
  const double energy = (var + mean * mean).mean().item<double>();
  z.mul_((var + (1e-6 * energy + 1e-30)).rsqrt_());

  const double inv_sqrt_dv = 1.0 / std::sqrt(static_cast<double>(dv));
  RawFeatureTerms out;
  out.saliency = to_vector(at::linalg_vector_norm(z, 2, {1}).mul_(inv_sqrt_dv));

  // Neighbour distances: each undirected pair is computed once (4 directions) and credited to
  // both cells; the sum is then divided by the number of existing neighbours (3, 5 or 8).
  const at::Tensor zg = z.view({grid, grid, dv});
  at::Tensor sum = at::zeros({grid, grid}, x.options());
  const int64_t dirs[4][2] = {{0, 1}, {1, 0}, {1, 1}, {1, -1}};
  at::Tensor flat = buf.view({-1});
  for (const auto& d : dirs) {
    const int64_t dr = d[0], dc = d[1];
    const int64_t c0 = dc < 0 ? -dc : 0, c1 = dc > 0 ? grid - dc : grid;
    const int64_t h = grid - dr, w = c1 - c0;
    if (h <= 0 || w <= 0) continue;
    const at::Tensor a = zg.slice(0, 0, h).slice(1, c0, c1);
    const at::Tensor b = zg.slice(0, dr, dr + h).slice(1, c0 + dc, c1 + dc);
    at::Tensor diff = flat.narrow(0, 0, h * w * dv).view({h, w, dv});
    at::sub_out(diff, a, b);
    const at::Tensor dist = at::linalg_vector_norm(diff, 2, {2});
    sum.slice(0, 0, h).slice(1, c0, c1).add_(dist);
    sum.slice(0, dr, dr + h).slice(1, c0 + dc, c1 + dc).add_(dist);
  }
  out.neighbor = to_vector(sum);
  for (int64_t r = 0; r < grid; ++r)
    for (int64_t c = 0; c < grid; ++c) {
      const int64_t rows = 1 + (r > 0) + (r + 1 < grid), cols = 1 + (c > 0) + (c + 1 < grid);
      const int64_t count = rows * cols - 1;
      float& v = out.neighbor[static_cast<size_t>(r * grid + c)];
      v = count > 0 ? static_cast<float>(v * inv_sqrt_dv / static_cast<double>(count)) : 0.0f;
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
