#include "tools/model_writer/checkpoint_writer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cstdio>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "engine/model/model.h"
#include "engine/model/special_ids.h"
#include "engine/safetensors/safetensors_stream_writer.h"
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

// The tensors of a checkpoint as a plan: name, shape and distribution, no data. Each tensor is
// drawn (fp32) from its own generator (seed ^ hash(name)) only when it is written, so its values
// do not depend on which other tensors a preset has nor on the order they are written in.
struct DrawSpec {
  std::string name;
  std::vector<int64_t> shape;
  double std = 0.0, mean = 0.0;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

class TensorPlan {
 public:
  void normal(const std::string& name, std::vector<int64_t> shape, double std, double mean = 0.0) {
    specs_.push_back(DrawSpec{name, std::move(shape), std, mean});
  }
  const std::vector<DrawSpec>& specs() const { return specs_; }

 private:
  std::vector<DrawSpec> specs_;
};

at::Tensor draw(const DrawSpec& s, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed ^ fnv1a(s.name));
  return at::normal(s.mean, s.std, s.shape, gen, at::TensorOptions().dtype(at::kFloat));
}

// Appends an fp32 tensor's data converted to `dtype`, converting at most kChunk elements at a
// time, so the only full-size buffer is the fp32 tensor itself.
void append_converted(st::SafetensorsStreamWriter& w, const at::Tensor& f32, at::ScalarType dtype) {
  constexpr int64_t kChunk = int64_t{16} << 20;  // elements (64 MiB of fp32)
  const at::Tensor flat = f32.contiguous().view({-1});
  for (int64_t off = 0; off < flat.numel(); off += kChunk) {
    const at::Tensor part =
        flat.slice(0, off, std::min(off + kChunk, flat.numel())).to(dtype).contiguous();
    w.append(part.data_ptr(), static_cast<std::size_t>(part.numel()) * part.element_size());
  }
}

// Streams the planned tensors into `files.size()` safetensors files: tensor k goes to
// files[shard_of[k]]; each file's header is written first, then each tensor is drawn, written
// and freed in header order. Peak memory: the largest tensor in fp32.
void write_planned(const TensorPlan& plan, const std::vector<std::size_t>& shard_of,
                   const std::vector<fs::path>& files, uint64_t seed, at::ScalarType dtype,
                   bool zeros) {
  const st::DType disk = scalar_type_to_st(dtype);
  for (std::size_t f = 0; f < files.size(); ++f) {
    std::vector<st::TensorSpec> specs;
    std::map<std::string, const DrawSpec*> by_name;
    for (std::size_t k = 0; k < plan.specs().size(); ++k) {
      if (shard_of[k] != f) continue;
      const DrawSpec& d = plan.specs()[k];
      specs.push_back(st::TensorSpec{d.name, disk, d.shape});
      by_name[d.name] = &d;
    }
    st::SafetensorsStreamWriter w(files[f].string(), std::move(specs), {{"format", "pt"}});
    for (const auto& spec : w.order()) {
      if (zeros)
        w.append_zeros(spec.nbytes());
      else
        append_converted(w, draw(*by_name.at(spec.name), seed), dtype);
    }
    w.finish();
  }
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
  const std::vector<std::string> specials = {kBosToken,         kEosToken,       kMaskToken,
                                             kStartHeaderToken, kEndHeaderToken, kEotToken};
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
  for (const auto& [tokstr, id] : tj["model"]["vocab"].items())
    max_id = std::max<int64_t>(max_id, id.get<int64_t>());
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
    dec[std::to_string(id)] = {{"content", content}, {"lstrip", false},      {"normalized", false},
                               {"rstrip", false},    {"single_word", false}, {"special", true}};
  tc["added_tokens_decoder"] = dec;
  tc["chat_template"] = tok::kLladaChatTemplate;
  write_text(dir / "tokenizer_config.json", tc.dump(2));
  return ids;
}

void write_configs(const Preset& p, const TokenizerIds& ids, int64_t embedding_rows,
                   const fs::path& dir) {
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
  c["vision_config"] = {{"model_type", "siglip_vision_model"},
                        {"hidden_size", p.v_hidden},
                        {"intermediate_size", p.v_intermediate},
                        {"num_hidden_layers", p.v_layers},
                        {"num_attention_heads", p.v_heads},
                        {"image_size", p.v_image},
                        {"patch_size", p.v_patch},
                        {"hidden_act", "gelu_pytorch_tanh"},
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

void make_weights(const Preset& p, int64_t rows, TensorPlan& ts) {
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
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "attn_out"})
      ts.normal(bp + proj + ".weight", {d, d}, s);
    ts.normal(bp + "ff_proj.weight", {h, d}, s);
    ts.normal(bp + "up_proj.weight", {h, d}, s);
    ts.normal(bp + "ff_out.weight", {d, h}, 1.0 / std::sqrt(static_cast<double>(h)));
  }
  ts.normal(t + "ln_f.weight", {d}, 0.05, 1.0);
  ts.normal(t + "ff_out.weight", {rows, d}, 1.0 / std::sqrt(static_cast<double>(d)));
}

void write_shards(const TensorPlan& plan, int64_t shards, const fs::path& dir, uint64_t seed,
                  at::ScalarType dtype, bool zeros, WriteReport* r) {
  std::vector<std::string> files;
  for (int64_t i = 0; i < shards; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05lld-of-%05lld.safetensors",
                  static_cast<long long>(i + 1), static_cast<long long>(shards));
    files.push_back(shards == 1 ? "model.safetensors" : name);
  }
  // Each tensor to the currently smallest shard (in plan order), so shards are similar in size.
  const int64_t elem = static_cast<int64_t>(at::elementSize(dtype));
  std::vector<int64_t> sizes(files.size(), 0);
  std::vector<std::size_t> shard_of;
  ordered_json weight_map = ordered_json::object();
  for (const auto& d : plan.specs()) {
    const std::size_t k =
        static_cast<std::size_t>(std::min_element(sizes.begin(), sizes.end()) - sizes.begin());
    shard_of.push_back(k);
    sizes[k] += d.numel() * elem;
    weight_map[d.name] = files[k];
    r->tensors += 1;
    r->parameters += d.numel();
    r->bytes += d.numel() * elem;
  }
  std::vector<fs::path> paths;
  for (const auto& f : files) paths.push_back(dir / f);
  write_planned(plan, shard_of, paths, seed, dtype, zeros);
  if (shards > 1) {
    ordered_json idx;
    idx["metadata"] = {{"total_size", r->bytes}};
    idx["weight_map"] = weight_map;
    write_text(dir / "model.safetensors.index.json", idx.dump(2));
  }
}

// PEFT adapter: LoRA on the projector, SigLIP q/k/v of the first 8 encoder layers (the design's
// "blocks.0-7.attn.qkv", which in Hugging Face SigLIP are separate q/k/v projections) and the
// SHIRG coordinate layer.
int64_t write_adapter(const Preset& p, const WriteOptions& o) {
  const fs::path dir(o.adapter_dir);
  fs::create_directories(dir);
  TensorPlan ts;
  std::vector<std::string> targets;
  auto lora = [&](const std::string& module, int64_t out, int64_t in, int64_t r) {
    ts.normal("base_model.model." + module + ".lora_A.weight", {r, in},
              1.0 / std::sqrt(static_cast<double>(in)));
    ts.normal("base_model.model." + module + ".lora_B.weight", {out, r}, 0.01);
  };
  const int64_t r = p.lora_rank;
  lora(std::string(kProjectorPrefix) + "0", p.d_model, p.v_hidden, r);
  lora(std::string(kProjectorPrefix) + "2", p.d_model, p.d_model, r);
  const int64_t siglip_layers = std::min<int64_t>(8, p.v_layers - 1);
  for (int64_t l = 0; l < siglip_layers; ++l)
    for (const char* proj : {"q_proj", "k_proj", "v_proj"})
      lora(
          std::string(kVisionPrefix) + "encoder.layers." + std::to_string(l) + ".self_attn." + proj,
          p.v_hidden, p.v_hidden, r);
  // The coordinate layer has its own rank/alpha in the design (16/32); PEFT stores one r per
  // adapter, so it is given the adapter's rank here and its scale follows lora_alpha / r.
  lora(kCoordModule, p.v_hidden, 128, r);
  write_planned(ts, std::vector<std::size_t>(ts.specs().size(), 0),
                {dir / "adapter_model.safetensors"}, o.seed ^ 0xada9ull, at::kFloat, o.zeros);
  ordered_json cfg;
  cfg["peft_type"] = "LORA";
  cfg["task_type"] = "CAUSAL_LM";
  cfg["base_model_name_or_path"] = o.out_dir;
  cfg["r"] = r;
  cfg["lora_alpha"] = p.lora_alpha;
  cfg["lora_dropout"] = 0.05;
  cfg["bias"] = "none";
  cfg["target_modules"] = {"mm_projector.0", "mm_projector.2", "q_proj",
                           "k_proj",         "v_proj",         "coord_rotary"};
  write_text(dir / "adapter_config.json", cfg.dump(2));
  return static_cast<int64_t>(ts.specs().size() / 2);
}

}  // namespace

WriteReport write_checkpoint(const Preset& p, const WriteOptions& o) {
  if (o.shards < 1) throw std::invalid_argument("--shards must be >= 1");
  const fs::path dir(o.out_dir);
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(dir))  // no stale shards from an earlier run
    if (e.path().extension() == ".safetensors" ||
        e.path().filename() == "model.safetensors.index.json")
      fs::remove(e.path());
  WriteReport r;
  const TokenizerIds ids = write_tokenizer(p, o, dir);
  r.vocab_size = ids.vocab_size;
  const int64_t rows = p.embedding_rows > 0 ? std::max(p.embedding_rows, ids.vocab_size)
                                            : (ids.vocab_size + 63) / 64 * 64;
  write_configs(p, ids, rows, dir);
  const std::string dtype = o.dtype.empty() ? p.dtype : o.dtype;
  if (dtype != "F32" && dtype != "BF16") throw std::invalid_argument("--dtype must be F32 or BF16");
  TensorPlan plan;
  make_weights(p, rows, plan);
  write_shards(plan, o.shards, dir, o.seed, dtype == "F32" ? at::kFloat : at::kBFloat16, o.zeros,
               &r);
  if (!o.adapter_dir.empty()) r.adapter_modules = write_adapter(p, o);
  return r;
}

}  // namespace shirg::writer
