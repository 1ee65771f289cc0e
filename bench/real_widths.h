#pragma once
// Random weights at the real LaViDa-8B widths, shared by the benchmarks that measure a few layers
// and multiply out per layer: SigLIP so400m (1152 wide, 16 heads, MLP 4304, patch 14) and LLaDA-8B
// (4096 wide, 32 heads, MLP 12288, vocab 126,464). Matrices in `dt`, norms and biases fp32 (the
// weight structs' contract, engine/weights/weights.h). Values are uniform with 1/sqrt(fan_in)
// scale; only their shapes and dtypes matter for timing.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "engine/config/model_config.h"
#include "engine/weights/weights.h"

namespace shirg::bench {

constexpr int64_t kLladaD = 4096, kLladaHeads = 32, kLladaMlp = 12288, kLladaVocab = 126464,
                  kLladaLayers = 32;
constexpr int64_t kSiglipD = 1152, kSiglipHeads = 16, kSiglipMlp = 4304, kSiglipLayers = 26;

// Uniform in [-a, a], made in fp32 then cast to dt.
at::Tensor uniform(std::vector<int64_t> shape, double a, at::ScalarType dt);

// LLaDA-8B widths with `layers` blocks; vocab rows of wte and lm_head (a prefill uses neither, so
// prefill-only benchmarks pass a small vocab to save 4 GB).
LladaW llada_weights(int64_t layers, at::ScalarType dt, int64_t vocab = kLladaVocab);
LladaConfig llada_config(int64_t layers, int64_t vocab = kLladaVocab);

SiglipLayerW siglip_layer_weights(at::ScalarType dt);
// A tower of `layers` so400m layers with LaViDa's 27x27 position grid (384x384).
SiglipW siglip_weights(int64_t layers, at::ScalarType dt);
VisionConfig siglip_config(int64_t layers);
// mlp2x_gelu 1152 -> 4096 -> 4096.
ProjectorW projector_weights(at::ScalarType dt);

// FLOPs of one layer: LLaDA (linears for t rows, attention of t rows over k keys), SigLIP (n
// tokens).
double llada_layer_flops(double t, double k);
double siglip_layer_flops(double n);
// Bytes of one LLaDA block's matrices at `elt` bytes per element.
double llada_block_weight_bytes(double elt);

}  // namespace shirg::bench
