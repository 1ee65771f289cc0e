#include "engine/safetensors/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace shirg::st {
namespace fs = std::filesystem;

Checkpoint Checkpoint::open_file(const std::string& path) {
  Checkpoint c;
  c.files_.push_back(SafetensorsFile::open(path));
  for (const auto& t : c.files_.back()->tensors()) c.index_[t.name] = &t;
  return c;
}

Checkpoint Checkpoint::open_dir(const std::string& dir) {
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  const fs::path single = fs::path(dir) / "model.safetensors";
  if (!fs::exists(index_path)) {
    if (!fs::exists(single))
      throw SafetensorsError(dir + ": neither model.safetensors nor model.safetensors.index.json found");
    return open_file(single.string());
  }
  std::ifstream in(index_path);
  if (!in) throw SafetensorsError(index_path.string() + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json idx;
  try {
    idx = nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    throw SafetensorsError(index_path.string() + ": malformed JSON: " + e.what());
  }
  if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
    throw SafetensorsError(index_path.string() + ": missing object 'weight_map'");

  Checkpoint c;
  std::map<std::string, std::shared_ptr<const SafetensorsFile>> shards;
  for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      throw SafetensorsError(index_path.string() + ": weight_map[\"" + it.key() + "\"] must be a file name");
    const std::string shard = it.value().get<std::string>();
    if (shard.find('/') != std::string::npos || shard == "..")
      throw SafetensorsError(index_path.string() + ": shard name '" + shard + "' must be a plain file name");
    if (!shards.count(shard)) {
      const fs::path p = fs::path(dir) / shard;
      if (!fs::exists(p))
        throw SafetensorsError(index_path.string() + ": shard '" + shard + "' (holding tensor '" + it.key() +
                               "') is missing");
      shards[shard] = SafetensorsFile::open(p.string());
      c.files_.push_back(shards[shard]);
    }
    const TensorView* t = shards[shard]->find(it.key());
    if (!t)
      throw SafetensorsError(shards[shard]->path() + ": tensor '" + it.key() +
                             "' is listed in the index but absent from this shard");
    c.index_[it.key()] = t;
  }
  // Tensors present in shards but not in the index are an inconsistency too.
  for (const auto& f : c.files_)
    for (const auto& t : f->tensors())
      if (!c.index_.count(t.name))
        throw SafetensorsError(f->path() + ": tensor '" + t.name + "' is not listed in " + index_path.string());
  return c;
}

const TensorView* Checkpoint::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto& [k, v] : index_) out.push_back(k);
  return out;
}

std::size_t Checkpoint::total_bytes() const {
  std::size_t n = 0;
  for (const auto& [k, v] : index_) n += v->nbytes;
  return n;
}

}  // namespace shirg::st
