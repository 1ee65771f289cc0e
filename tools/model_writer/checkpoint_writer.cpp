#include "tools/model_writer/checkpoint_writer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "engine/model/model.h"
#include "engine/model/special_ids.h"
#include "engine/safetensors/safetensors_writer.h"
#include "engine/tokenizer/bpe_trainer.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/weights/weight_binder.h"

namespace shirg::writer {
namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Collects named tensors, each drawn from its own generator (seed ^ hash(name)), so a tensor's
// values do not depend on which other tensors a preset has.
class TensorSet {
 public:
  TensorSet(uint64_t seed, at::ScalarType disk_dtype) : seed_(seed), dtype_(disk_dtype) {}

  void normal(const std::string& name, std::vector<int64_t> shape, double std, double mean = 0.0) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed_ ^ fnv1a(name));
    at::Tensor t = at::normal(mean, std, shape, gen, at::TensorOptions().dtype(at::kFloat));
    put(name, t);
  }
  void put(const std::string& name, const at::Tensor& t) { tensors_.emplace_back(name, t.to(dtype_).contiguous()); }

  const std::vector<std::pair<std::string, at::Tensor>>& tensors() const { return tensors_; }

 private:
  uint64_t seed_;
  at::ScalarType dtype_;
  std::vector<std::pair<std::string, at::Tensor>> tensors_;
};

void add_to(st::SafetensorsWriter& w, const std::string& name, const at::Tensor& t) {
  w.add(name, scalar_type_to_st(t.scalar_type()), t.sizes().vec(), t.data_ptr(),
        static_cast<std::size_t>(t.numel()) * t.element_size());
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + p.string());
  out << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct TokenizerIds {
  int64_t vocab_size = 0;
  std::map<std::string, int64_t> special;
};

// Trains the BPE, then (real-dims) moves the special tokens to LLaDA-8B's ids.
TokenizerIds write_tokenizer(const Preset& p, const WriteOptions& o, const fs::path& dir) {
  const std::vector<std::string> specials = {kBosToken, kEosToken, kMaskToken, kStartHeaderToken, kEndHeaderToken,
                                             kEotToken};
  // Real-dims: the special tokens at LLaDA-8B's ids. They are written into model.vocab too,
  // since Hugging Face renumbers added tokens that are not in the vocab.
  nlohmann::json tj;
  if (p.real_special_ids) {
    tj = tok::train_byte_level_bpe_with_ids(read_text(o.corpus_path), p.bpe_vocab,
                                            {{kBosToken, 126080},
                                             {kEosToken, 126081},
                                             {kMaskToken, 126336},
                                             {kStartHeaderToken, 126346},
                                             {kEndHeaderToken, 126347},
                                             {kEotToken, 126348}});
  } else {
    tj = tok::train_byte_level_bpe(read_text(o.corpus_path), p.bpe_vocab, specials);
  }
  TokenizerIds ids;
  int64_t max_id = 0;
  for (const auto& [tokstr, id] : tj["model"]["vocab"].items()) max_id = std::max<int64_t>(max_id, id.get<int64_t>());
  for (const auto& at : tj["added_tokens"]) {
    ids.special[at["content"].get<std::string>()] = at["id"].get<int64_t>();
    max_id = std::max<int64_t>(max_id, at["id"].get<int64_t>());
  }
  ids.vocab_size = max_id + 1;
  write_text(dir / "tokenizer.json", tj.dump(2));

  ordered_json tc;
  tc["tokenizer_class"] = "PreTrainedTokenizerFast";
  tc["bos_token"] = kBosToken;
  tc["eos_token"] = kEosToken;
  tc["pad_token"] = kEosToken;
  tc["mask_token"] = kMaskToken;
  tc["model_max_length"] = 4096;
  tc["clean_up_tokenization_spaces"] = false;
  ordered_json dec = ordered_json::object();
  for (const auto& [content, id] : ids.special)
    dec[std::to_string(id)] = {{"content", content}, {"lstrip", false}, {"normalized", false},
                               {"rstrip", false},    {"single_word", false}, {"special", true}};
  tc["added_tokens_decoder"] = dec;
  tc["chat_template"] = tok::kLladaChatTemplate;
  write_text(dir / "tokenizer_config.json", tc.dump(2));
  return ids;
}

void write_configs(const Preset& p, const TokenizerIds& ids, int64_t embedding_rows, const fs::path& dir) {
  ordered_json c;
  c["architectures"] = {"LlavaLladaModelLM"};
  c["model_type"] = "llava_llada";
  c["d_model"] = p.d_model;
  c["n_layers"] = p.n_layers;
  c["n_heads"] = p.n_heads;
  c["n_kv_heads"] = p.n_heads;
  c["mlp_hidden_size"] = p.mlp_hidden;
  c["mlp_ratio"] = 4;
  c["vocab_size"] = ids.vocab_size;
  c["embedding_size"] = embedding_rows;
  c["rms_norm_eps"] = 1e-5;
  c["rope"] = true;
  c["rope_theta"] = p.rope_theta;
  c["max_sequence_length"] = 4096;
  c["include_bias"] = false;
  c["weight_tying"] = false;
  c["activation_type"] = "silu";
  c["block_type"] = "llama";
  c["attention_dropout"] = 0.1;  // LaViDa's defaults; inference applies no dropout
  c["residual_dropout"] = 0.1;
  c["mask_token_id"] = ids.special.at(kMaskToken);
  c["eos_token_id"] = ids.special.at(kEosToken);
  c["pad_token_id"] = ids.special.at(kEosToken);
  c["mm_projector_type"] = "mlp2x_gelu";
  c["mm_hidden_size"] = p.v_hidden;
  c["mm_vision_tower"] = "google/siglip-so400m-patch14-384";
  c["mm_vision_select_layer"] = -2;
  c["mm_vision_select_feature"] = "patch";
  c["mm_patch_merge_type"] = "spatial_unpad";
  c["image_aspect_ratio"] = "anyres";
  c["image_grid_pinpoints"] = {{384, 768}, {768, 384}, {768, 768}, {1152, 384}, {384, 1152}};
  c["vision_config"] = {{"model_type", "siglip_vision_model"}, {"hidden_size", p.v_hidden},
                        {"intermediate_size", p.v_intermediate}, {"num_hidden_layers", p.v_layers},
                        {"num_attention_heads", p.v_heads},   {"image_size", p.v_image},
                        {"patch_size", p.v_patch},            {"hidden_act", "gelu_pytorch_tanh"},
                        {"layer_norm_eps", 1e-6}};
  c["torch_dtype"] = p.dtype == "F32" ? "float32" : "bfloat16";
  c["shirg_writer_preset"] = p.name;  // informational only; the loader never reads it
  write_text(dir / "config.json", c.dump(2));

  ordered_json g;
  g["eos_token_id"] = ids.special.at(kEosToken);
  g["pad_token_id"] = ids.special.at(kEosToken);
  g["bos_token_id"] = ids.special.at(kBosToken);
  g["max_new_tokens"] = 32;
  g["temperature"] = 0.0;
  write_text(dir / "generation_config.json", g.dump(2));
}

void make_weights(const Preset& p, int64_t rows, TensorSet& ts) {
  const std::string v = kVisionPrefix;
  const int64_t dv = p.v_hidden, iv = p.v_intermediate, g = p.v_image / p.v_patch;
  const double sv = 0.02;
  ts.normal(v + "embeddings.patch_embedding.weight", {dv, 3, p.v_patch, p.v_patch}, 0.05);
  ts.normal(v + "embeddings.patch_embedding.bias", {dv}, 0.02);
  ts.normal(v + "embeddings.position_embedding.weight", {g * g, dv}, 0.1);
  for (int64_t l = 0; l < p.v_layers - 1; ++l) {  // LaViDa's checkpoint drops the last layer
    const std::string lp = v + "encoder.layers." + std::to_string(l) + ".";
    for (const char* ln : {"layer_norm1", "layer_norm2"}) {
      ts.normal(lp + ln + ".weight", {dv}, 0.05, 1.0);
      ts.normal(lp + ln + ".bias", {dv}, 0.02);
    }
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      ts.normal(lp + "self_attn." + proj + ".weight", {dv, dv}, sv);
      ts.normal(lp + "self_attn." + proj + ".bias", {dv}, 0.02);
    }
    ts.normal(lp + "mlp.fc1.weight", {iv, dv}, sv);
    ts.normal(lp + "mlp.fc1.bias", {iv}, 0.02);
    ts.normal(lp + "mlp.fc2.weight", {dv, iv}, sv);
    ts.normal(lp + "mlp.fc2.bias", {dv}, 0.02);
  }
  ts.normal(v + "post_layernorm.weight", {dv}, 0.05, 1.0);  // exists in real checkpoints, unused
  ts.normal(v + "post_layernorm.bias", {dv}, 0.02);

  const int64_t d = p.d_model, h = p.mlp_hidden;
  const std::string mp = kProjectorPrefix;
  ts.normal(mp + "0.weight", {d, dv}, 1.0 / std::sqrt(static_cast<double>(dv)));
  ts.normal(mp + "0.bias", {d}, 0.02);
  ts.normal(mp + "2.weight", {d, d}, 1.0 / std::sqrt(static_cast<double>(d)));
  ts.normal(mp + "2.bias", {d}, 0.02);
  ts.normal(kImageNewline, {d}, 0.5);

  const std::string t = kLlmPrefix;
  ts.normal(t + "wte.weight", {rows, d}, 0.5);
  for (int64_t l = 0; l < p.n_layers; ++l) {
    const std::string bp = t + "blocks." + std::to_string(l) + ".";
    ts.normal(bp + "attn_norm.weight", {d}, 0.05, 1.0);
    ts.normal(bp + "ff_norm.weight", {d}, 0.05, 1.0);
    const double s = 1.0 / std::sqrt(static_cast<double>(d));
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "attn_out"}) ts.normal(bp + proj + ".weight", {d, d}, s);
    ts.normal(bp + "ff_proj.weight", {h, d}, s);
    ts.normal(bp + "up_proj.weight", {h, d}, s);
    ts.normal(bp + "ff_out.weight", {d, h}, 1.0 / std::sqrt(static_cast<double>(h)));
  }
  ts.normal(t + "ln_f.weight", {d}, 0.05, 1.0);
  ts.normal(t + "ff_out.weight", {rows, d}, 1.0 / std::sqrt(static_cast<double>(d)));
}

void write_shards(const TensorSet& ts, int64_t shards, const fs::path& dir, WriteReport* r) {
  std::vector<st::SafetensorsWriter> writers(static_cast<std::size_t>(shards));
  std::vector<std::string> files;
  // Round-robin by cumulative size so shards are similar in size.
  std::vector<std::size_t> sizes(writers.size(), 0);
  ordered_json weight_map = ordered_json::object();
  for (std::size_t i = 0; i < writers.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05lld.safetensors", i + 1, static_cast<long long>(shards));
    files.push_back(shards == 1 ? "model.safetensors" : name);
  }
  for (const auto& [name, tensor] : ts.tensors()) {
    std::size_t k = static_cast<std::size_t>(std::min_element(sizes.begin(), sizes.end()) - sizes.begin());
    add_to(writers[k], name, tensor);
    sizes[k] += static_cast<std::size_t>(tensor.numel()) * tensor.element_size();
    weight_map[name] = files[k];
    r->tensors += 1;
    r->parameters += tensor.numel();
    r->bytes += tensor.numel() * static_cast<int64_t>(tensor.element_size());
  }
  for (std::size_t i = 0; i < writers.size(); ++i) {
    writers[i].add_metadata("format", "pt");
    writers[i].write((dir / files[i]).string());
  }
  if (shards > 1) {
    ordered_json idx;
    idx["metadata"] = {{"total_size", r->bytes}};
    idx["weight_map"] = weight_map;
    write_text(dir / "model.safetensors.index.json", idx.dump(2));
  }
}

// PEFT adapter: LoRA on the projector, SigLIP q/k/v of the first 8 encoder layers (the seed's
// "blocks.0-7.attn.qkv", which in Hugging Face SigLIP are separate q/k/v projections) and the
// SHIRG coordinate layer.
int64_t write_adapter(const Preset& p, const WriteOptions& o) {
  const fs::path dir(o.adapter_dir);
  fs::create_directories(dir);
  TensorSet ts(o.seed ^ 0xada9ull, at::kFloat);
  std::vector<std::string> targets;
  auto lora = [&](const std::string& module, int64_t out, int64_t in, int64_t r) {
    ts.normal("base_model.model." + module + ".lora_A.weight", {r, in}, 1.0 / std::sqrt(static_cast<double>(in)));
    ts.normal("base_model.model." + module + ".lora_B.weight", {out, r}, 0.01);
  };
  const int64_t r = p.lora_rank;
  lora(std::string(kProjectorPrefix) + "0", p.d_model, p.v_hidden, r);
  lora(std::string(kProjectorPrefix) + "2", p.d_model, p.d_model, r);
  const int64_t siglip_layers = std::min<int64_t>(8, p.v_layers - 1);
  for (int64_t l = 0; l < siglip_layers; ++l)
    for (const char* proj : {"q_proj", "k_proj", "v_proj"})
      lora(std::string(kVisionPrefix) + "encoder.layers." + std::to_string(l) + ".self_attn." + proj, p.v_hidden,
           p.v_hidden, r);
  // The coordinate layer has its own rank/alpha in the seed (16/32); PEFT stores one r per
  // adapter, so it is given the adapter's rank here and its scale follows lora_alpha / r.
  lora(kCoordModule, p.v_hidden, 128, r);
  st::SafetensorsWriter w;
  for (const auto& [name, t] : ts.tensors()) add_to(w, name, t);
  w.add_metadata("format", "pt");
  w.write((dir / "adapter_model.safetensors").string());
  ordered_json cfg;
  cfg["peft_type"] = "LORA";
  cfg["task_type"] = "CAUSAL_LM";
  cfg["base_model_name_or_path"] = o.out_dir;
  cfg["r"] = r;
  cfg["lora_alpha"] = p.lora_alpha;
  cfg["lora_dropout"] = 0.05;
  cfg["bias"] = "none";
  cfg["target_modules"] = {"mm_projector.0", "mm_projector.2", "q_proj", "k_proj", "v_proj", "coord_rotary"};
  write_text(dir / "adapter_config.json", cfg.dump(2));
  return static_cast<int64_t>(ts.tensors().size() / 2);
}

}  // namespace

WriteReport write_checkpoint(const Preset& p, const WriteOptions& o) {
  if (o.shards < 1) throw std::invalid_argument("--shards must be >= 1");
  const fs::path dir(o.out_dir);
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(dir))  // no stale shards from an earlier run
    if (e.path().extension() == ".safetensors" || e.path().filename() == "model.safetensors.index.json")
      fs::remove(e.path());
  WriteReport r;
  const TokenizerIds ids = write_tokenizer(p, o, dir);
  r.vocab_size = ids.vocab_size;
  const int64_t rows = p.embedding_rows > 0 ? std::max(p.embedding_rows, ids.vocab_size)
                                            : (ids.vocab_size + 63) / 64 * 64;
  write_configs(p, ids, rows, dir);
  const std::string dtype = o.dtype.empty() ? p.dtype : o.dtype;
  if (dtype != "F32" && dtype != "BF16") throw std::invalid_argument("--dtype must be F32 or BF16");
  TensorSet ts(o.seed, dtype == "F32" ? at::kFloat : at::kBFloat16);
  make_weights(p, rows, ts);
  write_shards(ts, o.shards, dir, &r);
  if (!o.adapter_dir.empty()) r.adapter_modules = write_adapter(p, o);
  return r;
}

}  // namespace shirg::writer
