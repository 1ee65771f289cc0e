#pragma once
// A checkpoint directory's tensors: a single model.safetensors, or shards listed by
// model.safetensors.index.json ({"weight_map": {"tensor": "model-00001-of-00002.safetensors"}}).
// Also used for PEFT adapters (adapter_model.safetensors).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/safetensors/safetensors_file.h"

namespace shirg::st {

class Checkpoint {
 public:
  // Opens `dir`/model.safetensors.index.json if present, else `dir`/model.safetensors.
  // Throws SafetensorsError (missing shard, tensor listed in the index but absent from its
  // shard, a tensor present in two shards, ...).
  static Checkpoint open_dir(const std::string& dir);
  // One file (e.g. an adapter's adapter_model.safetensors).
  static Checkpoint open_file(const std::string& path);

  const TensorView* find(const std::string& name) const;  // nullptr when absent
  std::vector<std::string> names() const;                 // sorted
  std::size_t total_bytes() const;
  const std::vector<std::shared_ptr<const SafetensorsFile>>& files() const { return files_; }

 private:
  std::vector<std::shared_ptr<const SafetensorsFile>> files_;
  std::map<std::string, const TensorView*> index_;
};

}  // namespace shirg::st
