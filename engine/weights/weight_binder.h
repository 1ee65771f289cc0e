#pragma once
// Binds checkpoint tensors to weight structs by their real names.
// Every problem (missing, mis-shaped, unexpected tensor, adapter module that matched nothing) is
// collected; finish() throws ONE ModelLoadError listing all of them.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/safetensors/checkpoint.h"
#include "engine/weights/lora_adapter.h"

namespace shirg {

class ModelLoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Converts a mapped tensor to a torch tensor of `dtype` on `device` (always a copy).
at::Tensor view_to_tensor(const st::TensorView& v, at::ScalarType dtype, at::Device device);
// Stores a CPU tensor into a writer-friendly byte string plus dtype (for dumps and the writer).
st::DType scalar_type_to_st(at::ScalarType t);

class WeightBinder {
 public:
  WeightBinder(const st::Checkpoint& ckpt, at::ScalarType compute_dtype, at::Device device,
               const LoraAdapter* adapter = nullptr);
  // Several adapters, merged in this order (W + s1 B1 A1 + s2 B2 A2 ..., in fp32). Not owned.
  WeightBinder(const st::Checkpoint& ckpt, at::ScalarType compute_dtype, at::Device device,
               std::vector<const LoraAdapter*> adapters);

  // `name` converted to the compute dtype; LoRA for the module (name minus ".weight") merged.
  // On a problem: records it and returns zeros of `shape` so binding can go on.
  at::Tensor take(const std::string& name, std::vector<int64_t> shape);
  // Same, kept in fp32 (norms, biases, position embeddings).
  at::Tensor take_fp32(const std::string& name, std::vector<int64_t> shape);
  // Same, in `dtype` (e.g. the LLaDA matrices stored in bf16 under fp32 compute).
  at::Tensor take_as(const std::string& name, std::vector<int64_t> shape, at::ScalarType dtype);
  // A module whose base weight may be absent (zeros): used by coord_rotary. `merged` tells
  // whether an adapter supplied a delta.
  at::Tensor take_lora_only(const std::string& module_path, std::vector<int64_t> shape,
                            bool* merged);
  // Tensors under this prefix are known and deliberately unused (e.g. post_layernorm).
  void ignore_prefix(const std::string& prefix);
  bool has(const std::string& name) const { return ckpt_.find(name) != nullptr; }

  // Throws ModelLoadError listing every problem; no-op when there is none.
  void finish() const;
  std::vector<std::string> problems() const;
  int64_t merged_lora_modules() const { return merged_modules_; }
  // The weight `name` as the checkpoint holds it (no adapter), in the dtype it was taken in:
  // the unmerged copy when an adapter changed it, else `taken` itself (shared, no copy).
  at::Tensor base_of(const std::string& name, const at::Tensor& taken) const;
  // Frees the unmerged copies base_of() would still return.
  void release_base_copies() { base_.clear(); }

 private:
  at::Tensor take_impl(const std::string& name, const std::vector<int64_t>& shape,
                       at::ScalarType dtype);
  // Adds every adapter's delta for `module` to the fp32 weight w (in place); returns how many
  // adapters had one. Shape problems are recorded.
  int merge_into(at::Tensor& w, const std::string& module, const std::vector<int64_t>& shape);
  const st::Checkpoint& ckpt_;
  at::ScalarType dtype_;
  at::Device device_;
  std::vector<const LoraAdapter*> adapters_;
  std::set<std::string> used_;
  std::set<std::pair<std::size_t, std::string>> used_lora_;  // (adapter index, module)
  std::map<std::string, at::Tensor> base_;  // unmerged copies of adapted weights, by name
  std::vector<std::string> ignored_prefixes_;
  std::vector<std::string> missing_, misshaped_;
  int64_t merged_modules_ = 0;
};

}  // namespace shirg
