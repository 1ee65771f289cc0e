#include "engine/weights/lora_adapter.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <utility>
#include <vector>

#include "engine/config/model_config.h"

namespace shirg {
namespace fs = std::filesystem;
namespace {

using Json = nlohmann::ordered_json;  // file order decides which pattern key wins, as in PEFT

double lora_scale(double alpha, int64_t r, bool rslora) {
  return rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / static_cast<double>(r);
}

// rank_pattern / alpha_pattern: [(key, compiled (^|.*\.)KEY$, value)] in file order.
template <typename T>
struct Pattern {
  std::string key;
  std::regex re;
  T value;
};

template <typename T>
std::vector<Pattern<T>> read_pattern(const Json& j, const char* name, const std::string& file) {
  std::vector<Pattern<T>> out;
  if (!j.contains(name) || j[name].is_null()) return out;
  const Json& p = j[name];
  if (!p.is_object()) throw ConfigError(file + ": key '" + name + "' must be an object");
  for (const auto& [key, v] : p.items()) {
    const bool ok = std::is_integral<T>::value
                        ? v.is_number_integer() && v.template get<int64_t>() > 0
                        : v.is_number() && v.template get<double>() > 0;
    if (!ok)
      throw ConfigError(file + ": " + name + "['" + key + "'] must be a positive " +
                        (std::is_integral<T>::value ? "integer" : "number"));
    try {
      out.push_back({key, std::regex("(^|.*\\.)" + key + "$"), v.template get<T>()});
    } catch (const std::regex_error& e) {
      throw ConfigError(file + ": " + name + " key '" + key +
                        "' is not a valid pattern: " + e.what());
    }
  }
  return out;
}

template <typename T>
T resolve(const std::vector<Pattern<T>>& patterns, const std::string& module, T fallback) {
  for (const auto& p : patterns)
    if (std::regex_match(module, p.re)) return p.value;
  return fallback;
}

}  // namespace

double LoraAdapter::scale() const {
  return lora_scale(alpha_, r_, use_rslora_);
}

LoraAdapter LoraAdapter::open_dir(const std::string& dir) {
  const fs::path cfg_path = fs::path(dir) / "adapter_config.json";
  std::ifstream in(cfg_path);
  if (!in)
    throw ConfigError(cfg_path.string() + ": cannot open (is this a PEFT adapter directory?)");
  std::stringstream ss;
  ss << in.rdbuf();
  Json j;
  try {
    j = Json::parse(ss.str());
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
  if (a.alpha_ <= 0 || !std::isfinite(a.alpha_))
    throw ConfigError(file + ": key 'lora_alpha' must be a positive number");
  // Layouts whose merge is not W + s B A are refused rather than merged wrongly.
  for (const char* key : {"fan_in_fan_out", "use_dora"})
    if (j.contains(key) && j[key].is_boolean() && j[key].get<bool>())
      throw ConfigError(file + ": key '" + key + "' is true, which is not supported");
  if (j.contains("use_rslora") && !j["use_rslora"].is_null()) {
    if (!j["use_rslora"].is_boolean())
      throw ConfigError(file + ": key 'use_rslora' must be true or false");
    a.use_rslora_ = j["use_rslora"].get<bool>();
  }
  const auto ranks = read_pattern<int64_t>(j, "rank_pattern", file);
  const auto alphas = read_pattern<double>(j, "alpha_pattern", file);
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
  for (auto& [module, pair] : a.pairs_) {
    if (!pair.a || !pair.b)
      throw ConfigError(weights.string() + ": module '" + module + "' has only " +
                        (pair.a ? "lora_A" : "lora_B"));
    pair.r = resolve(ranks, module, a.r_);
    pair.alpha = resolve(alphas, module, a.alpha_);
    pair.scale = lora_scale(pair.alpha, pair.r, a.use_rslora_);
    if (pair.a->shape[0] != pair.r || pair.b->shape[1] != pair.r)
      throw ConfigError(weights.string() + ": module '" + module + "' has rank " +
                        std::to_string(pair.a->shape[0]) + " (lora_A) / " +
                        std::to_string(pair.b->shape[1]) +
                        " (lora_B) but adapter_config.json gives it r = " + std::to_string(pair.r) +
                        (pair.r == a.r_ ? " (no rank_pattern key matches it)" : ""));
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
