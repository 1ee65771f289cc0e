#pragma once
// The feature-space terms of the SHIRG score (raw, before normalisation), computed with
// vectorised LibTorch ops on the features' device; results come back as one float per cell.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace shirg::select {

struct RawFeatureTerms {
  // Query-agnostic saliency: ||z_i|| / sqrt(Dv), z = per-channel standardised features
  // (z = (f - mean) / sd over the image's tokens): distinctiveness from the image's mean token.
  std::vector<float> saliency;
  // Mean over the existing 8-connected neighbours j of ||z_i - z_j|| / sqrt(Dv).
  std::vector<float> neighbor;
};

// work: [grid*grid, Dv] fp32 contiguous, raster order, owned by the caller: it is overwritten
// with the standardised features z (saves a 10 MB temporary per request).
RawFeatureTerms raw_feature_terms(at::Tensor& work, int64_t grid);

// Query-aware similarity: for each token, max over question tokens t of
// cos(projected_i, query_t). projected [N, D], query [T, D] (any float dtypes). -> N values.
std::vector<float> query_similarity(const at::Tensor& projected, const at::Tensor& query);

}  // namespace shirg::select
