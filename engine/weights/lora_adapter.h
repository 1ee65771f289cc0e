#pragma once
// A PEFT LoRA adapter directory: adapter_config.json + adapter_model.safetensors with tensors
// named base_model.model.<module path>.lora_A.weight [r, in] / .lora_B.weight [out, r].
// Merging: W += (lora_alpha / r) * B @ A (computed in fp32).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/safetensors/checkpoint.h"

namespace shirg {

struct LoraPair {
  const st::TensorView* a = nullptr;  // [r, in]
  const st::TensorView* b = nullptr;  // [out, r]
};

class LoraAdapter {
 public:
  // Throws ConfigError / SafetensorsError; also when a module has only one of A and B.
  static LoraAdapter open_dir(const std::string& dir);

  int64_t r() const { return r_; }
  double alpha() const { return alpha_; }
  double scale() const { return alpha_ / static_cast<double>(r_); }
  const std::vector<std::string>& target_modules() const { return target_modules_; }
  // The pair for a module path such as "model.mm_projector.0"; nullopt when absent.
  std::optional<LoraPair> find(const std::string& module_path) const;
  std::vector<std::string> module_paths() const;  // every module the adapter touches
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int64_t r_ = 0;
  double alpha_ = 0;
  std::vector<std::string> target_modules_;
  st::Checkpoint ckpt_;
  std::map<std::string, LoraPair> pairs_;
};

}  // namespace shirg
