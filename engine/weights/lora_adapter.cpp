#include "engine/weights/lora_adapter.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/config/model_config.h"

namespace shirg {
namespace fs = std::filesystem;

LoraAdapter LoraAdapter::open_dir(const std::string& dir) {
  const fs::path cfg_path = fs::path(dir) / "adapter_config.json";
  std::ifstream in(cfg_path);
  if (!in)
    throw ConfigError(cfg_path.string() + ": cannot open (is this a PEFT adapter directory?)");
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(cfg_path.string() + ": malformed JSON: " + e.what());
  }
  const std::string file = cfg_path.string();
  if (!j.is_object()) throw ConfigError(file + ": top level must be an object");
  if (j.contains("peft_type") && j["peft_type"] != "LORA")
    throw ConfigError(file + ": key 'peft_type' is " + j["peft_type"].dump() +
                      ", only LORA is supported");
  if (!j.contains("r") || !j["r"].is_number_integer() || j["r"].get<int64_t>() <= 0)
    throw ConfigError(file + ": key 'r' must be a positive integer");
  if (!j.contains("lora_alpha") || !j["lora_alpha"].is_number())
    throw ConfigError(file + ": key 'lora_alpha' must be a number");

  LoraAdapter a;
  a.dir_ = dir;
  a.r_ = j["r"].get<int64_t>();
  a.alpha_ = j["lora_alpha"].get<double>();
  if (j.contains("target_modules")) {
    const auto& t = j["target_modules"];
    if (t.is_string()) {
      a.target_modules_.push_back(t.get<std::string>());
    } else if (t.is_array()) {
      for (const auto& m : t) {
        if (!m.is_string()) throw ConfigError(file + ": key 'target_modules' must list strings");
        a.target_modules_.push_back(m.get<std::string>());
      }
    } else {
      throw ConfigError(file + ": key 'target_modules' must be a string or a list of strings");
    }
  }

  const fs::path weights = fs::path(dir) / "adapter_model.safetensors";
  a.ckpt_ = st::Checkpoint::open_file(weights.string());
  const std::string prefix = "base_model.model.";
  for (const auto& name : a.ckpt_.names()) {
    if (name.rfind(prefix, 0) != 0)
      throw ConfigError(weights.string() + ": tensor '" + name + "' does not start with '" +
                        prefix + "'");
    std::string rest = name.substr(prefix.size());
    bool is_a = false;
    std::string module;
    for (const char* tag :
         {".lora_A.weight", ".lora_A.default.weight", ".lora_B.weight", ".lora_B.default.weight"}) {
      const std::string t(tag);
      if (rest.size() > t.size() && rest.compare(rest.size() - t.size(), t.size(), t) == 0) {
        module = rest.substr(0, rest.size() - t.size());
        is_a = t.find("lora_A") != std::string::npos;
        break;
      }
    }
    if (module.empty())
      throw ConfigError(weights.string() + ": tensor '" + name + "' is not a lora_A/lora_B weight");
    const st::TensorView* v = a.ckpt_.find(name);
    if (v->shape.size() != 2)
      throw ConfigError(weights.string() + ": tensor '" + name + "' must be 2-D");
    auto& pair = a.pairs_[module];
    (is_a ? pair.a : pair.b) = v;
  }
  for (const auto& [module, pair] : a.pairs_) {
    if (!pair.a || !pair.b)
      throw ConfigError(weights.string() + ": module '" + module + "' has only " +
                        (pair.a ? "lora_A" : "lora_B"));
    if (pair.a->shape[0] != a.r_ || pair.b->shape[1] != a.r_)
      throw ConfigError(weights.string() + ": module '" + module + "' has rank " +
                        std::to_string(pair.a->shape[0]) +
                        " but adapter_config.json says r = " + std::to_string(a.r_));
  }
  return a;
}

std::optional<LoraPair> LoraAdapter::find(const std::string& module_path) const {
  auto it = pairs_.find(module_path);
  if (it == pairs_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> LoraAdapter::module_paths() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : pairs_) out.push_back(k);
  return out;
}

}  // namespace shirg
