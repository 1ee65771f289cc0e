#include "bench/real_widths.h"

#include <cmath>

namespace shirg::bench {

at::Tensor uniform(std::vector<int64_t> shape, double a, at::ScalarType dt) {
  return at::empty(shape, at::kFloat).uniform_(-a, a).to(dt);
}

namespace {
double inv_sqrt(int64_t n) {
  return 1.0 / std::sqrt(static_cast<double>(n));
}
LinearW linear(int64_t out, int64_t in, at::ScalarType dt) {
  return {uniform({out, in}, inv_sqrt(in), dt), at::zeros({out})};
}
LayerNormW layer_norm(int64_t d) {
  return {at::ones({d}), at::zeros({d})};
}
}  // namespace

LladaW llada_weights(int64_t layers, at::ScalarType dt, int64_t vocab) {
  LladaW w;
  w.wte = uniform({vocab, kLladaD}, 1.0, dt);
  for (int64_t i = 0; i < layers; ++i) {
    LladaBlockW b;
    b.attn_norm = at::ones({kLladaD});
    b.ff_norm = at::ones({kLladaD});
    b.wqkv = uniform({3 * kLladaD, kLladaD}, inv_sqrt(kLladaD), dt);
    b.wo = uniform({kLladaD, kLladaD}, inv_sqrt(kLladaD), dt);
    b.w_gate_up = uniform({2 * kLladaMlp, kLladaD}, inv_sqrt(kLladaD), dt);
    b.w_down = uniform({kLladaD, kLladaMlp}, inv_sqrt(kLladaMlp), dt);
    w.blocks.push_back(b);
  }
  w.ln_f = at::ones({kLladaD});
  w.lm_head = uniform({vocab, kLladaD}, inv_sqrt(kLladaD), dt);
  w.compute_dtype = dt;
  return w;
}

LladaConfig llada_config(int64_t layers, int64_t vocab) {
  LladaConfig c;
  c.d_model = kLladaD;
  c.n_layers = layers;
  c.n_heads = kLladaHeads;
  c.n_kv_heads = kLladaHeads;
  c.mlp_hidden_size = kLladaMlp;
  c.vocab_size = vocab;
  c.embedding_size = vocab;
  c.rope_theta = 500000.0;
  return c;
}

SiglipLayerW siglip_layer_weights(at::ScalarType dt) {
  SiglipLayerW l;
  l.ln1 = layer_norm(kSiglipD);
  l.ln2 = layer_norm(kSiglipD);
  l.qkv = linear(3 * kSiglipD, kSiglipD, dt);
  l.out = linear(kSiglipD, kSiglipD, dt);
  l.fc1 = linear(kSiglipMlp, kSiglipD, dt);
  l.fc2 = linear(kSiglipD, kSiglipMlp, dt);
  return l;
}

SiglipW siglip_weights(int64_t layers, at::ScalarType dt) {
  SiglipW w;
  w.patch_weight = uniform({kSiglipD, 3, 14, 14}, inv_sqrt(3 * 14 * 14), dt);
  w.patch_bias = at::zeros({kSiglipD});
  w.pos_embed = uniform({27 * 27, kSiglipD}, 0.02, at::kFloat);
  for (int64_t i = 0; i < layers; ++i) w.layers.push_back(siglip_layer_weights(dt));
  return w;
}

VisionConfig siglip_config(int64_t layers) {
  VisionConfig c;
  c.hidden_size = kSiglipD;
  c.intermediate_size = kSiglipMlp;
  c.num_attention_heads = kSiglipHeads;
  c.patch_size = 14;
  c.image_size = 384;
  c.num_hidden_layers = layers + 1;
  c.layers_used = layers;
  return c;
}

ProjectorW projector_weights(at::ScalarType dt) {
  return {linear(kLladaD, kSiglipD, dt), linear(kLladaD, kLladaD, dt)};
}

double llada_layer_flops(double t, double k) {
  const double D = kLladaD, H = kLladaMlp;
  return 2.0 * t * (4.0 * D * D + 3.0 * D * H) + 4.0 * t * k * D;
}

double siglip_layer_flops(double n) {
  const double D = kSiglipD;
  return 2.0 * n * D * (4.0 * D + 2.0 * kSiglipMlp) + 4.0 * n * n * D;
}

double llada_block_weight_bytes(double elt) {
  const double D = kLladaD, H = kLladaMlp;
  return (4.0 * D * D + 3.0 * D * H) * elt;
}

}  // namespace shirg::bench
