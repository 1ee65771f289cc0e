#pragma once
// Test helper: a small LLaDA with random weights from a fixed seed, and a writer that stores it
// under the real checkpoint tensor names (model.transformer.*, q/k/v and ff_proj/up_proj split)
// so the independent Python reference reads the very same numbers.
#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>

#include "engine/config/model_config.h"
#include "engine/weights/weights.h"

namespace shirg::testing {

struct RandomLladaSpec {
  int64_t d_model = 64;
  int64_t n_layers = 2;
  int64_t n_heads = 4;
  int64_t mlp_hidden = 128;
  int64_t vocab = 256;
  double rope_theta = 500000.0;
  double logit_scale = 4.0;  // std of the logits ~ logit_scale (peaked distributions)
  uint64_t seed = 1234;
};

struct RandomLlada {
  LladaConfig cfg;
  LladaW w;  // fp32
};

RandomLlada make_random_llada(const RandomLladaSpec& spec);
// Same weights with linear weights and wte/lm_head in `dtype` (norms stay fp32).
LladaW cast_llada(const LladaW& w, at::ScalarType dtype);
// Writes every tensor in fp32 under its real name.
void write_llada_safetensors(const RandomLlada& m, const std::string& path);
// A JSON file with the config keys the reference needs (LLaDA names).
void write_llada_config_json(const LladaConfig& cfg, const std::string& path);

// Random [rows, d_model] fp32 prefix embeddings (seeded).
at::Tensor random_prefix(int64_t rows, int64_t d_model, uint64_t seed);

}  // namespace shirg::testing
