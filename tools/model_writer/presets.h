#pragma once
// Model presets of the checkpoint writer: dimensions of a LaViDa-format checkpoint.
#include <cstdint>
#include <string>

namespace shirg::writer {

struct Preset {
  std::string name;
  // SigLIP (num_hidden_layers counts the ORIGINAL tower; the checkpoint holds one fewer).
  int64_t v_hidden, v_intermediate, v_heads, v_layers, v_image = 384, v_patch = 14;
  // LLaDA.
  int64_t d_model, n_layers, n_heads, mlp_hidden;
  int64_t bpe_vocab;              // byte-level BPE size (256 bytes + merges)
  int64_t embedding_rows = 0;     // 0 = vocab size rounded up to a multiple of 64
  bool real_special_ids = false;  // place special tokens at LLaDA-8B's ids (126080, ...)
  std::string dtype = "BF16";     // on-disk dtype of the weights
  double rope_theta = 500000.0;
  int64_t lora_rank = 128, lora_alpha = 256, coord_rank = 16, coord_alpha = 32;
};

// "tiny" (unit tests, loads in well under a second), "small" (integration tests, benchmarks:
// SigLIP width 1152, LLaDA width 1024, a few layers), "real-dims" (SigLIP so400m and LLaDA-8B
// shapes). Depth overrides (0 = the preset's): `layers` sets the LLaDA blocks and, unless
// `vision_layers` is given, the SigLIP encoder layers in the checkpoint too; `vision_layers` sets
// the SigLIP encoder layers in the checkpoint alone (config num_hidden_layers = vision_layers + 1:
// LaViDa's checkpoint drops the tower's last layer). Throws std::invalid_argument for an unknown
// name or a negative depth.
Preset preset_by_name(const std::string& name, int64_t layers, int64_t vision_layers = 0);

}  // namespace shirg::writer
