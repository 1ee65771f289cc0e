#pragma once
// Typed views of a LaViDa checkpoint directory's JSON files (config.json model_type
// "llava_llada", generation_config.json, tokenizer_config.json). Unknown keys are ignored;
// a missing required key or a wrong type raises ConfigError naming the file and the key.
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace shirg {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The LLaDA language model (LLaDA's own config.json key names in comments).
struct LladaConfig {
  int64_t d_model = 0;          // d_model
  int64_t n_layers = 0;         // n_layers
  int64_t n_heads = 0;          // n_heads
  int64_t n_kv_heads = 0;       // n_kv_heads (defaults to n_heads)
  int64_t mlp_hidden_size = 0;  // mlp_hidden_size
  int64_t vocab_size = 0;       // vocab_size (tokenizer-facing size)
  int64_t embedding_size = 0;   // embedding_size (rows of wte / LM head; defaults to vocab_size)
  double rms_norm_eps = 1e-5;   // rms_norm_eps
  double rope_theta = 10000.0;  // rope_theta
  int64_t max_sequence_length = 4096;
  bool include_bias = false;  // include_bias (must be false: LLaDA has no biases)
  bool weight_tying = false;  // weight_tying
  std::string activation_type = "silu";
  std::optional<int64_t> mask_token_id;  // mask_token_id (else from the tokenizer: <|mdm_mask|>)
  std::optional<int64_t> eos_token_id;
  std::optional<int64_t> pad_token_id;
  std::optional<int64_t> bos_token_id;
  int64_t head_dim() const { return d_model / n_heads; }
};

// The SigLIP vision tower. From config.json's "vision_config" block (Hugging Face
// SiglipVisionConfig names) or, without it, the defaults implied by mm_vision_tower.
struct VisionConfig {
  std::string tower_name;  // mm_vision_tower
  int64_t hidden_size = 1152;
  int64_t intermediate_size = 4304;
  int64_t num_hidden_layers = 27;  // of the ORIGINAL tower
  int64_t num_attention_heads = 16;
  int64_t image_size = 384;
  int64_t patch_size = 14;
  std::string hidden_act = "gelu_pytorch_tanh";
  double layer_norm_eps = 1e-6;
  // Encoder layers actually used (LaViDa: num_hidden_layers - 1, the tower's last layer is
  // deleted to implement select_layer -2). Counted from the checkpoint by the loader.
  int64_t layers_used = 26;
  int64_t grid() const { return image_size / patch_size; }  // 27 at 384
};

struct MultimodalConfig {
  std::string projector_type = "mlp2x_gelu";  // mm_projector_type
  int64_t mm_hidden_size = 1152;              // mm_hidden_size (vision width)
  int64_t vision_select_layer = -2;           // mm_vision_select_layer
  std::string vision_select_feature = "patch";
  std::string patch_merge_type = "spatial_unpad";           // mm_patch_merge_type
  std::string image_aspect_ratio = "anyres";                // image_aspect_ratio
  std::vector<std::pair<int64_t, int64_t>> grid_pinpoints;  // (w, h) pairs
};

// SHIRG's high-resolution view: config.json "shirg_hires_image_size" when a
// checkpoint sets it, else 672. A multiple of the vision patch size; its grid (48x48 at 672 with
// 14-px patches) bounds the selection's K.
struct ShirgConfig {
  int64_t hires_image_size = 672;
};

struct ModelConfig {
  std::string model_type;  // "llava_llada"
  LladaConfig llm;
  VisionConfig vision;
  MultimodalConfig mm;
  ShirgConfig shirg;
  int64_t hires_grid() const { return shirg.hires_image_size / vision.patch_size; }  // 48
  int64_t hires_tokens() const { return hires_grid() * hires_grid(); }               // 2304
};

// generation_config.json (all optional).
struct GenerationDefaults {
  std::optional<int64_t> max_new_tokens;
  std::optional<double> temperature;
  std::optional<int64_t> eos_token_id;
  std::optional<int64_t> pad_token_id;
  std::optional<int64_t> bos_token_id;
};

// tokenizer_config.json (the parts the server needs).
struct TokenizerConfigFile {
  std::string chat_template;  // Jinja template string
  std::optional<std::string> bos_token, eos_token, pad_token, mask_token;
  int64_t model_max_length = 0;                         // 0 = unset
  std::map<int64_t, std::string> added_tokens_decoder;  // id -> content
};

ModelConfig parse_model_config(const std::string& json_text, const std::string& file);
ModelConfig load_model_config(const std::string& path);
GenerationDefaults load_generation_defaults(const std::string& path);  // absent file -> empty
TokenizerConfigFile parse_tokenizer_config(const std::string& json_text, const std::string& file);
TokenizerConfigFile load_tokenizer_config(const std::string& path);

}  // namespace shirg
