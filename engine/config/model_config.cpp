#include "engine/config/model_config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace shirg {
namespace {
using nlohmann::json;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json parse_json(const std::string& text, const std::string& file) {
  try {
    json j = json::parse(text);
    if (!j.is_object()) throw ConfigError(file + ": top level must be a JSON object");
    return j;
  } catch (const json::exception& e) {
    throw ConfigError(file + ": malformed JSON: " + e.what());
  }
}

// Typed accessors: a present key of the wrong type is an error naming file and key.
struct Reader {
  const json& j;
  std::string file;
  std::string scope;  // "" or "vision_config."

  std::string where(const std::string& key) const { return file + ": key '" + scope + key + "'"; }
  bool has(const std::string& key) const { return j.contains(key) && !j[key].is_null(); }

  int64_t integer(const std::string& key) const {
    if (!has(key)) throw ConfigError(where(key) + " is required but missing");
    return integer_or(key, 0);
  }
  int64_t integer_or(const std::string& key, int64_t def) const {
    if (!has(key)) return def;
    const auto& v = j[key];
    if (!v.is_number_integer()) throw ConfigError(where(key) + " must be an integer, got " + v.dump());
    return v.get<int64_t>();
  }
  std::optional<int64_t> opt_integer(const std::string& key) const {
    if (!has(key)) return std::nullopt;
    const auto& v = j[key];
    if (v.is_array()) {  // eos_token_id may be a list; the first is the primary one
      if (v.empty() || !v[0].is_number_integer())
        throw ConfigError(where(key) + " must be an integer or a list of integers");
      return v[0].get<int64_t>();
    }
    return integer_or(key, 0);
  }
  double number_or(const std::string& key, double def) const {
    if (!has(key)) return def;
    const auto& v = j[key];
    if (!v.is_number()) throw ConfigError(where(key) + " must be a number, got " + v.dump());
    return v.get<double>();
  }
  std::optional<double> opt_number(const std::string& key) const {
    if (!has(key)) return std::nullopt;
    return number_or(key, 0);
  }
  bool boolean_or(const std::string& key, bool def) const {
    if (!has(key)) return def;
    const auto& v = j[key];
    if (!v.is_boolean()) throw ConfigError(where(key) + " must be true or false, got " + v.dump());
    return v.get<bool>();
  }
  std::string string_or(const std::string& key, const std::string& def) const {
    if (!has(key)) return def;
    const auto& v = j[key];
    if (!v.is_string()) throw ConfigError(where(key) + " must be a string, got " + v.dump());
    return v.get<std::string>();
  }
  std::optional<std::string> opt_string(const std::string& key) const {
    if (!has(key)) return std::nullopt;
    const auto& v = j[key];
    if (v.is_object() && v.contains("content") && v["content"].is_string())  // AddedToken form
      return v["content"].get<std::string>();
    return string_or(key, "");
  }
};

void require_positive(const std::string& file, const std::string& key, int64_t v) {
  if (v <= 0) throw ConfigError(file + ": key '" + key + "' must be positive, got " + std::to_string(v));
}

// so400m defaults that LaViDa's code builds from the tower name.
bool known_tower_defaults(const std::string& name, VisionConfig* v) {
  if (name.find("siglip-so400m-patch14-384") == std::string::npos) return false;
  v->hidden_size = 1152;
  v->intermediate_size = 4304;
  v->num_hidden_layers = 27;
  v->num_attention_heads = 16;
  v->image_size = 384;
  v->patch_size = 14;
  v->hidden_act = "gelu_pytorch_tanh";
  v->layer_norm_eps = 1e-6;
  return true;
}

std::vector<std::pair<int64_t, int64_t>> parse_pinpoints(const json& v, const std::string& file) {
  std::vector<std::pair<int64_t, int64_t>> out;
  json arr = v;
  if (v.is_string()) {  // LLaVA configs sometimes store it as a string "[(384, 768), ...]"
    std::string s = v.get<std::string>();
    for (char& c : s) {
      if (c == '(') c = '[';
      if (c == ')') c = ']';
    }
    try {
      arr = json::parse(s);
    } catch (const json::exception&) {
      throw ConfigError(file + ": key 'image_grid_pinpoints' is not a list of [w, h] pairs");
    }
  }
  if (!arr.is_array()) throw ConfigError(file + ": key 'image_grid_pinpoints' must be a list of [w, h] pairs");
  for (const auto& p : arr) {
    if (!p.is_array() || p.size() != 2 || !p[0].is_number_integer() || !p[1].is_number_integer())
      throw ConfigError(file + ": key 'image_grid_pinpoints' must be a list of [w, h] pairs, got " + p.dump());
    out.emplace_back(p[0].get<int64_t>(), p[1].get<int64_t>());
  }
  return out;
}

}  // namespace

ModelConfig parse_model_config(const std::string& json_text, const std::string& file) {
  const json j = parse_json(json_text, file);
  Reader r{j, file, ""};
  ModelConfig c;
  c.model_type = r.string_or("model_type", "");
  if (c.model_type.empty()) throw ConfigError(file + ": key 'model_type' is required but missing");
  if (c.model_type != "llava_llada" && c.model_type != "llada")
    throw ConfigError(file + ": model_type '" + c.model_type + "' is not supported (expected llava_llada)");

  auto& l = c.llm;
  l.d_model = r.integer("d_model");
  l.n_layers = r.integer("n_layers");
  l.n_heads = r.integer("n_heads");
  l.n_kv_heads = r.integer_or("n_kv_heads", l.n_heads);
  l.mlp_hidden_size = r.integer("mlp_hidden_size");
  l.vocab_size = r.integer("vocab_size");
  l.embedding_size = r.integer_or("embedding_size", l.vocab_size);
  l.rms_norm_eps = r.number_or("rms_norm_eps", 1e-5);
  l.rope_theta = r.number_or("rope_theta", 10000.0);
  l.max_sequence_length = r.integer_or("max_sequence_length", 4096);
  l.include_bias = r.boolean_or("include_bias", false);
  l.weight_tying = r.boolean_or("weight_tying", false);
  l.activation_type = r.string_or("activation_type", "silu");
  l.mask_token_id = r.opt_integer("mask_token_id");
  l.eos_token_id = r.opt_integer("eos_token_id");
  l.pad_token_id = r.opt_integer("pad_token_id");
  l.bos_token_id = r.opt_integer("bos_token_id");
  for (auto [k, v] : {std::pair<const char*, int64_t>{"d_model", l.d_model}, {"n_layers", l.n_layers},
                      {"n_heads", l.n_heads}, {"n_kv_heads", l.n_kv_heads},
                      {"mlp_hidden_size", l.mlp_hidden_size}, {"vocab_size", l.vocab_size},
                      {"embedding_size", l.embedding_size}})
    require_positive(file, k, v);
  if (l.d_model % l.n_heads != 0)
    throw ConfigError(file + ": d_model " + std::to_string(l.d_model) + " is not divisible by n_heads " +
                      std::to_string(l.n_heads));
  if (l.n_kv_heads != l.n_heads)
    throw ConfigError(file + ": n_kv_heads " + std::to_string(l.n_kv_heads) +
                      " != n_heads: grouped-query attention is not supported (LLaDA-8B uses 32/32)");
  if (l.embedding_size < l.vocab_size)
    throw ConfigError(file + ": embedding_size must be >= vocab_size");
  if (l.include_bias) throw ConfigError(file + ": include_bias true is not supported (LLaDA has no biases)");
  if (l.weight_tying) throw ConfigError(file + ": weight_tying true is not supported (LLaDA's LM head is untied)");
  if (l.activation_type != "silu" && l.activation_type != "swiglu")
    throw ConfigError(file + ": activation_type '" + l.activation_type + "' is not supported (expected silu)");

  auto& m = c.mm;
  m.projector_type = r.string_or("mm_projector_type", "mlp2x_gelu");
  if (m.projector_type != "mlp2x_gelu")
    throw ConfigError(file + ": mm_projector_type '" + m.projector_type + "' is not supported (expected mlp2x_gelu)");
  m.vision_select_layer = r.integer_or("mm_vision_select_layer", -2);
  m.vision_select_feature = r.string_or("mm_vision_select_feature", "patch");
  m.patch_merge_type = r.string_or("mm_patch_merge_type", "spatial_unpad");
  m.image_aspect_ratio = r.string_or("image_aspect_ratio", "anyres");
  if (r.has("image_grid_pinpoints")) m.grid_pinpoints = parse_pinpoints(j["image_grid_pinpoints"], file);
  if (m.grid_pinpoints.empty())
    m.grid_pinpoints = {{384, 768}, {768, 384}, {768, 768}, {1152, 384}, {384, 1152}};

  auto& v = c.vision;
  v.tower_name = r.string_or("mm_vision_tower", "");
  if (r.has("vision_config")) {
    if (!j["vision_config"].is_object()) throw ConfigError(file + ": key 'vision_config' must be an object");
    Reader vr{j["vision_config"], file, "vision_config."};
    known_tower_defaults(v.tower_name, &v);  // block keys override these
    v.hidden_size = vr.integer_or("hidden_size", v.hidden_size);
    v.intermediate_size = vr.integer_or("intermediate_size", v.intermediate_size);
    v.num_hidden_layers = vr.integer_or("num_hidden_layers", v.num_hidden_layers);
    v.num_attention_heads = vr.integer_or("num_attention_heads", v.num_attention_heads);
    v.image_size = vr.integer_or("image_size", v.image_size);
    v.patch_size = vr.integer_or("patch_size", v.patch_size);
    v.hidden_act = vr.string_or("hidden_act", v.hidden_act);
    v.layer_norm_eps = vr.number_or("layer_norm_eps", v.layer_norm_eps);
  } else if (v.tower_name.empty()) {
    throw ConfigError(file + ": key 'mm_vision_tower' is required (or a 'vision_config' block)");
  } else if (!known_tower_defaults(v.tower_name, &v)) {
    throw ConfigError(file + ": unknown vision tower '" + v.tower_name +
                      "' and no 'vision_config' block to give its dimensions");
  }
  for (auto [k, val] : {std::pair<const char*, int64_t>{"vision_config.hidden_size", v.hidden_size},
                        {"vision_config.intermediate_size", v.intermediate_size},
                        {"vision_config.num_hidden_layers", v.num_hidden_layers},
                        {"vision_config.num_attention_heads", v.num_attention_heads},
                        {"vision_config.image_size", v.image_size},
                        {"vision_config.patch_size", v.patch_size}})
    require_positive(file, k, val);
  if (v.hidden_size % v.num_attention_heads != 0)
    throw ConfigError(file + ": vision hidden_size is not divisible by num_attention_heads");
  if (v.hidden_act != "gelu_pytorch_tanh" && v.hidden_act != "gelu")
    throw ConfigError(file + ": vision hidden_act '" + v.hidden_act + "' is not supported");
  // LaViDa deletes the last encoder layer (select layer -2); the loader re-counts from tensors.
  v.layers_used = v.num_hidden_layers + 1 + m.vision_select_layer;
  if (v.layers_used <= 0) throw ConfigError(file + ": mm_vision_select_layer leaves no encoder layers");
  c.shirg.hires_image_size = r.integer_or("shirg_hires_image_size", c.shirg.hires_image_size);
  if (c.shirg.hires_image_size <= 0 || c.shirg.hires_image_size % v.patch_size != 0)
    throw ConfigError(file + ": shirg_hires_image_size " + std::to_string(c.shirg.hires_image_size) +
                      " must be a positive multiple of the patch size " + std::to_string(v.patch_size));
  m.mm_hidden_size = r.integer_or("mm_hidden_size", v.hidden_size);
  if (m.mm_hidden_size != v.hidden_size)
    throw ConfigError(file + ": mm_hidden_size " + std::to_string(m.mm_hidden_size) +
                      " != vision hidden_size " + std::to_string(v.hidden_size));
  return c;
}

ModelConfig load_model_config(const std::string& path) { return parse_model_config(read_file(path), path); }

GenerationDefaults load_generation_defaults(const std::string& path) {
  GenerationDefaults g;
  std::ifstream probe(path);
  if (!probe) return g;
  const json j = parse_json(read_file(path), path);
  Reader r{j, path, ""};
  g.max_new_tokens = r.opt_integer("max_new_tokens");
  g.temperature = r.opt_number("temperature");
  g.eos_token_id = r.opt_integer("eos_token_id");
  g.pad_token_id = r.opt_integer("pad_token_id");
  g.bos_token_id = r.opt_integer("bos_token_id");
  return g;
}

TokenizerConfigFile parse_tokenizer_config(const std::string& json_text, const std::string& file) {
  const json j = parse_json(json_text, file);
  Reader r{j, file, ""};
  TokenizerConfigFile t;
  t.chat_template = r.string_or("chat_template", "");
  t.bos_token = r.opt_string("bos_token");
  t.eos_token = r.opt_string("eos_token");
  t.pad_token = r.opt_string("pad_token");
  t.mask_token = r.opt_string("mask_token");
  if (r.has("model_max_length")) {
    // HF writes a huge float (1e30) when unset.
    const double v = r.number_or("model_max_length", 0);
    t.model_max_length = v > 0 && v < 1e15 ? static_cast<int64_t>(v) : 0;
  }
  if (r.has("added_tokens_decoder")) {
    const auto& d = j["added_tokens_decoder"];
    if (!d.is_object()) throw ConfigError(file + ": key 'added_tokens_decoder' must be an object");
    for (auto it = d.begin(); it != d.end(); ++it) {
      int64_t id = 0;
      try {
        id = std::stoll(it.key());
      } catch (const std::exception&) {
        throw ConfigError(file + ": key 'added_tokens_decoder' has a non-numeric id '" + it.key() + "'");
      }
      if (!it.value().is_object() || !it.value().contains("content") || !it.value()["content"].is_string())
        throw ConfigError(file + ": key 'added_tokens_decoder." + it.key() + ".content' must be a string");
      t.added_tokens_decoder[id] = it.value()["content"].get<std::string>();
    }
  }
  return t;
}

TokenizerConfigFile load_tokenizer_config(const std::string& path) {
  return parse_tokenizer_config(read_file(path), path);
}

}  // namespace shirg
