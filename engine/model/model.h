#pragma once
// The loaded model: immutable after load_model() returns, shared by every request
// (whisper.cpp's "context"). Per-request mutable state lives in engine/runtime.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/config/model_config.h"
#include "engine/weights/weights.h"

namespace shirg {
namespace tok {
class Tokenizer;
}

// Token ids the engine needs, resolved from config.json / tokenizer files (never constants).
struct SpecialIds {
  int64_t mask = -1;          // <|mdm_mask|>
  int64_t eos = -1;           // <|endoftext|>
  int64_t eot = -1;           // <|eot_id|>
  int64_t bos = -1;           // <|startoftext|>
  int64_t start_header = -1;  // <|start_header_id|>
  int64_t end_header = -1;    // <|end_header_id|>
  std::vector<int64_t> stop;  // generation stops at these (eot, eos)
};

struct ComponentSummary {
  std::string name;
  int64_t parameters = 0;
  int64_t bytes = 0;  // in the compute dtype as held in memory
};

struct LoadSummary {
  std::vector<ComponentSummary> components;
  double load_seconds = 0;
  int64_t checkpoint_bytes = 0;  // bytes on disk (all shards)
  int64_t lora_modules_merged = 0;
  // Memory held for the unmerged SigLIP / projector matrices an adapter changed (the base
  // weights LaViDa's own modes run on); 0 without an adapter. Not part of `components`.
  int64_t base_copy_bytes = 0;
  std::string dtype;             // "bf16" | "fp32"
  std::string llm_weight_dtype;  // storage of the LLaDA matrices: "bf16" | "fp32"
  // LLaDA matrices packed for the CPU GEMM (LoadOptions::gemm) and the GEMM that runs them
  // ("at::linear" or oneDNN's implementation name).
  int64_t llm_matrices = 0, llm_matrices_packed = 0;
  std::string llm_gemm;
  std::string to_table() const;  // human-readable multi-line table
};

struct LoadOptions {
  std::string model_dir;
  // Optional PEFT LoRA adapters (projector, SigLIP attention, coord_rotary), merged in this
  // order into the weights the SHIRG modes use. Each module's rank / alpha from the adapter's
  // config (rank_pattern / alpha_pattern honoured).
  std::vector<std::string> adapter_dirs;
  at::ScalarType dtype = at::kBFloat16;  // compute dtype: kBFloat16 or kFloat
  at::Device device = at::kCPU;
  // CPU loads are refused up front, with a clear error, when the weights in the compute dtype
  // exceed the memory this process may use: -1 = measure (engine/platform/memory.h), 0 = do not
  // check, > 0 = this many bytes.
  int64_t memory_budget_bytes = -1;
  // Storage of the LLaDA matrices (embeddings, blocks, LM head: ~97% of an 8B model) under fp32
  // compute: kFloat, kBFloat16 (half the memory, upcast per use), or kUndefined = auto: fp32
  // when the whole model fits the memory budget in fp32, else bf16. Under bf16 compute: bf16.
  at::ScalarType llm_weight_dtype = at::ScalarType::Undefined;
  // How the LLaDA matrices are held on the CPU (engine/gemm/linear_weight.h): kAuto packs them
  // once into oneDNN's blocked layout where that library has one for this CPU and dtype.
  // Kernels::kGeneric holds them plain (kPacked is then refused).
  gemm::WeightLayout gemm = gemm::WeightLayout::kAuto;
  // The implementations the model's forward functions run (engine/platform/kernels.h): kAuto =
  // the CPU-specialised kernels on the CPU, the generic path elsewhere; kGeneric = the generic
  // path (what CUDA runs) on any device.
  Kernels kernels = Kernels::kAuto;
};

struct Model {
  std::string dir;
  std::vector<std::string> adapter_dirs;
  std::string adapter_dir;  // adapter_dirs joined with "," (for logs and model info)
  ModelConfig config;
  GenerationDefaults generation_defaults;
  TokenizerConfigFile tokenizer_config;
  std::shared_ptr<const tok::Tokenizer> tokenizer;
  SpecialIds ids;
  at::ScalarType dtype = at::kBFloat16;
  at::Device device = at::kCPU;  // every weight, and every tensor a request computes, lives here
  Kernels kernels = Kernels::kAuto;  // also in vision*.kernels and llm.kernels

  // SigLIP and projector with the adapter(s) merged: what the SHIRG modes run on.
  SiglipW vision;
  ProjectorW projector;
  // The same without any adapter: what LaViDa's own modes (baseline-384, lavida-hd, full-672)
  // run on, so they stay LaViDa. Every tensor an adapter did not change is shared with
  // `vision` / `projector` (same storage); only adapted matrices are held twice
  // (summary.base_copy_bytes). Without an adapter the two are the same tensors.
  SiglipW vision_base;
  ProjectorW projector_base;
  CoordLayerW coord;
  at::Tensor image_newline;  // [D] compute dtype (model.image_newline); undefined if absent
  LladaW llm;

  LoadSummary summary;
};

// Elements of the largest transient copy while loading the LLaDA (counted by the memory budget
// check on top of the weights): fusing q|k|v or gate|up holds the parts and the fused matrix at
// once; packing (`packs`: LoadOptions::gemm packs where storage == compute on the CPU) holds one
// matrix in both layouts, the largest being the LM head. Multiply by the storage dtype's size.
int64_t load_transient_elements(const LladaConfig& c, bool packs);

// Loads config, tokenizer and weights. Throws ConfigError, SafetensorsError, ModelLoadError
// (one error listing every missing / unexpected / mis-shaped tensor), or tok::TokenizerError.
std::shared_ptr<const Model> load_model(const LoadOptions& opts);

// Real tensor-name prefixes.
inline constexpr const char* kVisionPrefix = "model.vision_tower.vision_tower.vision_model.";
inline constexpr const char* kProjectorPrefix = "model.mm_projector.";
inline constexpr const char* kLlmPrefix = "model.transformer.";
inline constexpr const char* kImageNewline = "model.image_newline";
// Module path of the SHIRG coordinate layer (only adapters carry it).
inline constexpr const char* kCoordModule = "model.shirg.coord_rotary";

}  // namespace shirg
