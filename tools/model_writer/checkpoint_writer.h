#pragma once
// Writes a complete LaViDa-format checkpoint directory (random weights, fixed seed):
// config.json (with a vision_config block), model.safetensors or shards + index,
// tokenizer.json (byte-level BPE trained on a text sample), tokenizer_config.json with
// LLaDA's chat template, generation_config.json, and optionally a PEFT LoRA adapter.
#include <cstdint>
#include <string>

#include "tools/model_writer/presets.h"

namespace shirg::writer {

struct WriteOptions {
  std::string out_dir;
  std::string corpus_path;  // text the tokenizer is trained on
  uint64_t seed = 0;
  int64_t shards = 1;       // > 1: model-0000i-of-0000N.safetensors + model.safetensors.index.json
  std::string adapter_dir;  // non-empty: also write a PEFT adapter there
  std::string dtype;        // on-disk dtype "F32" | "BF16"; empty = the preset's
  bool zeros = false;       // every weight zero, written as file holes (no drawing, no I/O)
};

struct WriteReport {
  int64_t tensors = 0;
  int64_t parameters = 0;
  int64_t bytes = 0;
  int64_t vocab_size = 0;
  int64_t adapter_modules = 0;
};

WriteReport write_checkpoint(const Preset& preset, const WriteOptions& opts);

}  // namespace shirg::writer
