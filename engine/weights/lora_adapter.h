#pragma once
// A PEFT LoRA adapter directory: adapter_config.json + adapter_model.safetensors with tensors
// named base_model.model.<module path>.lora_A.weight [r, in] / .lora_B.weight [out, r].
// Merging: W += scale * B @ A (computed in fp32), scale = alpha / r, or alpha / sqrt(r) with
// "use_rslora". r and alpha are per module, as PEFT resolves them: "rank_pattern" /
// "alpha_pattern" map a key to a value; the first key (in file order) that matches the module
// path as the regex (^|.*\.)KEY$ wins, else the adapter's "r" / "lora_alpha".
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/safetensors/checkpoint.h"

namespace shirg {

struct LoraPair {
  const st::TensorView* a = nullptr;  // [r, in]
  const st::TensorView* b = nullptr;  // [out, r]
  int64_t r = 0;                      // this module's rank (rank_pattern or r)
  double alpha = 0;                   // this module's alpha (alpha_pattern or lora_alpha)
  double scale = 0;                   // alpha / r (alpha / sqrt(r) with use_rslora)
};

class LoraAdapter {
 public:
  // Throws ConfigError / SafetensorsError; also when a module has only one of A and B, or its
  // rank differs from the one its config gives it.
  static LoraAdapter open_dir(const std::string& dir);

  // The adapter-wide defaults (modules without a pattern use them).
  int64_t r() const { return r_; }
  double alpha() const { return alpha_; }
  double scale() const;
  bool use_rslora() const { return use_rslora_; }
  const std::vector<std::string>& target_modules() const { return target_modules_; }
  // The pair for a module path such as "model.mm_projector.0"; nullopt when absent.
  std::optional<LoraPair> find(const std::string& module_path) const;
  std::vector<std::string> module_paths() const;  // every module the adapter touches
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int64_t r_ = 0;
  double alpha_ = 0;
  bool use_rslora_ = false;
  std::vector<std::string> target_modules_;
  st::Checkpoint ckpt_;
  std::map<std::string, LoraPair> pairs_;
};

}  // namespace shirg
