#include "tools/model_writer/presets.h"

#include <stdexcept>

namespace shirg::writer {

Preset preset_by_name(const std::string& name, int64_t layers, int64_t vision_layers) {
  if (layers < 0 || vision_layers < 0) throw std::invalid_argument("layer counts must be >= 1");
  Preset p;
  p.name = name;
  if (name == "tiny") {
    p.v_hidden = 64, p.v_intermediate = 128, p.v_heads = 4, p.v_layers = 3;
    p.d_model = 64, p.n_layers = 2, p.n_heads = 4, p.mlp_hidden = 176;
    p.bpe_vocab = 512, p.dtype = "F32";
    p.lora_rank = 8, p.lora_alpha = 16, p.coord_rank = 4, p.coord_alpha = 8;
  } else if (name == "small") {
    p.v_hidden = 1152, p.v_intermediate = 4304, p.v_heads = 16, p.v_layers = 3;
    p.d_model = 1024, p.n_layers = 2, p.n_heads = 8, p.mlp_hidden = 2816;
    p.bpe_vocab = 2048;
    p.lora_rank = 32, p.lora_alpha = 64, p.coord_rank = 16, p.coord_alpha = 32;
  } else if (name == "demo") {  // the trained demo model (training/): widths a 2-core CPU can train
    p.v_hidden = 128, p.v_intermediate = 512, p.v_heads = 4, p.v_layers = 4;
    p.d_model = 128, p.n_layers = 2, p.n_heads = 4, p.mlp_hidden = 384;
    p.bpe_vocab = 400, p.dtype = "F32";
    p.lora_rank = 16, p.lora_alpha = 32, p.coord_rank = 8, p.coord_alpha = 16;
  } else if (name == "real-dims") {
    p.v_hidden = 1152, p.v_intermediate = 4304, p.v_heads = 16, p.v_layers = 27;
    p.d_model = 4096, p.n_layers = 32, p.n_heads = 32, p.mlp_hidden = 12288;
    p.bpe_vocab = 4096, p.embedding_rows = 126464, p.real_special_ids = true;
  } else {
    throw std::invalid_argument("unknown preset '" + name + "' (tiny, small, demo, real-dims)");
  }
  if (layers > 0) {  // override depths (real-dims benchmarks extrapolate per layer)
    p.n_layers = layers;
    p.v_layers = layers + 1;  // the checkpoint holds v_layers - 1 encoder layers
  }
  if (vision_layers > 0) p.v_layers = vision_layers + 1;
  return p;
}

}  // namespace shirg::writer
