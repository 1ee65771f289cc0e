#include "shirg/coord_embedding.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace shirg::select {
namespace {

constexpr double kPi = 3.14159265358979323846;

std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

}  // namespace

double coord_frequency(int64_t k) {
  return 0.5 * std::pow(48.0, static_cast<double>(k) / static_cast<double>(kCoordFrequencies - 1));
}

at::Tensor coord_rotary_features(const at::Tensor& coords) {
  if (!coords.defined() || coords.dim() != 2 || coords.size(1) != 4)
    throw std::invalid_argument("SHIRG coord features: coords must be [N, 4], got " +
                                (coords.defined() ? shape_of(coords) : std::string("undefined")));
  at::Tensor omega = at::empty({kCoordFrequencies}, at::kFloat);
  float* w = omega.data_ptr<float>();
  for (int64_t k = 0; k < kCoordFrequencies; ++k)
    w[k] = static_cast<float>(2.0 * kPi * coord_frequency(k));
  const at::Tensor angles =
      coords.to(at::kFloat).unsqueeze(2) * omega.to(coords.device()).view({1, 1, -1});  // [N,4,16]
  return at::cat({angles.sin(), angles.cos()}, 2).reshape({coords.size(0), kCoordFeatures});
}

at::Tensor apply_coord_embedding(const at::Tensor& tokens, const at::Tensor& coords,
                                 const CoordLayerW& layer) {
  if (!tokens.defined() || tokens.dim() != 2)
    throw std::invalid_argument("SHIRG coord embedding: tokens must be [N, Dv]");
  if (!coords.defined() || coords.dim() != 2 || coords.size(0) != tokens.size(0) ||
      coords.size(1) != 4)
    throw std::invalid_argument(
        "SHIRG coord embedding: coords must be [N, 4] with N = " + std::to_string(tokens.size(0)) +
        ", got " + (coords.defined() ? shape_of(coords) : std::string("undefined")));
  if (!layer.active() || !layer.weight.defined()) return tokens;
  if (layer.weight.dim() != 2 || layer.weight.size(0) != tokens.size(1) ||
      layer.weight.size(1) != kCoordFeatures)
    throw std::invalid_argument("SHIRG coord embedding: coord_rotary weight must be [" +
                                std::to_string(tokens.size(1)) + ", 128], got " +
                                shape_of(layer.weight));
  // fp32 product: [N, 128] x [128, Dv] is small, and bf16 matmuls are slow on CPUs without
  // native bf16 (AVX512-BF16/AMX).
  const at::Tensor feats = coord_rotary_features(coords.to(layer.weight.device()));
  const at::Tensor delta = at::matmul(feats, layer.weight.to(at::kFloat).t());
  return tokens + delta.to(tokens.scalar_type());
}

at::Tensor apply_coord_embedding_hi_detail(const at::Tensor& tokens, const at::Tensor& coords,
                                           int64_t scaffold, const CoordLayerW& layer) {
  if (!tokens.defined() || tokens.dim() != 2 || scaffold < 0 || scaffold > tokens.size(0))
    throw std::invalid_argument("SHIRG coord embedding: " + std::to_string(scaffold) +
                                " scaffold rows do not fit tokens " +
                                (tokens.defined() ? shape_of(tokens) : std::string("undefined")));
  if (!coords.defined() || coords.dim() != 2 || coords.size(0) != tokens.size(0))
    throw std::invalid_argument(
        "SHIRG coord embedding: coords must be [N, 4] with N = " + std::to_string(tokens.size(0)) +
        ", got " + (coords.defined() ? shape_of(coords) : std::string("undefined")));
  if (scaffold == 0) return apply_coord_embedding(tokens, coords, layer);
  const int64_t n = tokens.size(0);
  const at::Tensor hi =
      apply_coord_embedding(tokens.slice(0, scaffold, n), coords.slice(0, scaffold, n), layer);
  return at::cat({tokens.slice(0, 0, scaffold), hi}, 0);
}

}  // namespace shirg::select
