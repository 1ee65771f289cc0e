#include "tests/llada/random_llada.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <fstream>
#include <stdexcept>

#include "engine/safetensors/safetensors_writer.h"

namespace shirg::testing {
namespace {

at::Tensor normal(at::Generator& g, std::vector<int64_t> shape, double std) {
  return at::normal(0.0, std, shape, g, at::TensorOptions().dtype(at::kFloat));
}

void add(st::SafetensorsWriter& w, const std::string& name, const at::Tensor& t) {
  auto c = t.to(at::kFloat).contiguous();
  w.add(name, st::DType::F32, c.sizes().vec(), c.data_ptr(), c.nbytes());
}

}  // namespace

RandomLlada make_random_llada(const RandomLladaSpec& s) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(s.seed);
  RandomLlada m;
  auto& c = m.cfg;
  c.d_model = s.d_model;
  c.n_layers = s.n_layers;
  c.n_heads = s.n_heads;
  c.n_kv_heads = s.n_heads;
  c.mlp_hidden_size = s.mlp_hidden;
  c.vocab_size = s.vocab;
  c.embedding_size = s.vocab;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = s.rope_theta;
  const double d = static_cast<double>(s.d_model), h = static_cast<double>(s.mlp_hidden);
  m.w.wte = normal(g, {s.vocab, s.d_model}, 1.0);
  for (int64_t i = 0; i < s.n_layers; ++i) {
    LladaBlockW b;
    b.attn_norm = 1.0 + normal(g, {s.d_model}, 0.1);
    b.wqkv = normal(g, {3 * s.d_model, s.d_model}, 1.0 / std::sqrt(d));
    b.wo = normal(g, {s.d_model, s.d_model}, 1.0 / std::sqrt(d));
    b.ff_norm = 1.0 + normal(g, {s.d_model}, 0.1);
    b.w_gate_up = normal(g, {2 * s.mlp_hidden, s.d_model}, 1.0 / std::sqrt(d));
    b.w_down = normal(g, {s.d_model, s.mlp_hidden}, 1.0 / std::sqrt(h));
    m.w.blocks.push_back(b);
  }
  m.w.ln_f = 1.0 + normal(g, {s.d_model}, 0.1);
  m.w.lm_head = normal(g, {s.vocab, s.d_model}, s.logit_scale / std::sqrt(d));
  return m;
}

LladaW cast_llada(const LladaW& w, at::ScalarType dt) {
  LladaW o = w;
  o.wte = w.wte.to(dt);
  o.lm_head = w.lm_head.to_plain().to(dt);
  for (auto& b : o.blocks) {
    b.wqkv = b.wqkv.to_plain().to(dt);
    b.wo = b.wo.to_plain().to(dt);
    b.w_gate_up = b.w_gate_up.to_plain().to(dt);
    b.w_down = b.w_down.to_plain().to(dt);
  }
  return o;
}

void write_llada_safetensors(const RandomLlada& m, const std::string& path) {
  st::SafetensorsWriter w;
  const std::string p = "model.transformer.";
  const int64_t d = m.cfg.d_model, h = m.cfg.mlp_hidden_size;
  add(w, p + "wte.weight", m.w.wte);
  add(w, p + "ln_f.weight", m.w.ln_f);
  add(w, p + "ff_out.weight", m.w.lm_head.to_plain());
  for (size_t i = 0; i < m.w.blocks.size(); ++i) {
    const auto& b = m.w.blocks[i];
    const std::string q = p + "blocks." + std::to_string(i) + ".";
    add(w, q + "attn_norm.weight", b.attn_norm);
    add(w, q + "q_proj.weight", b.wqkv.to_plain().narrow(0, 0, d));
    add(w, q + "k_proj.weight", b.wqkv.to_plain().narrow(0, d, d));
    add(w, q + "v_proj.weight", b.wqkv.to_plain().narrow(0, 2 * d, d));
    add(w, q + "attn_out.weight", b.wo.to_plain());
    add(w, q + "ff_norm.weight", b.ff_norm);
    add(w, q + "ff_proj.weight", b.w_gate_up.to_plain().narrow(0, 0, h));
    add(w, q + "up_proj.weight", b.w_gate_up.to_plain().narrow(0, h, h));
    add(w, q + "ff_out.weight", b.w_down.to_plain());
  }
  w.write(path);
}

void write_llada_config_json(const LladaConfig& c, const std::string& path) {
  std::ofstream f(path);
  if (!f) throw std::runtime_error("cannot write " + path);
  f.precision(17);
  f << "{\"d_model\": " << c.d_model << ", \"n_layers\": " << c.n_layers
    << ", \"n_heads\": " << c.n_heads << ", \"mlp_hidden_size\": " << c.mlp_hidden_size
    << ", \"vocab_size\": " << c.vocab_size << ", \"rms_norm_eps\": " << c.rms_norm_eps
    << ", \"rope_theta\": " << c.rope_theta << "}\n";
}

at::Tensor random_prefix(int64_t rows, int64_t d_model, uint64_t seed) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::normal(0.0, 1.0, {rows, d_model}, g, at::TensorOptions().dtype(at::kFloat));
}

}  // namespace shirg::testing
