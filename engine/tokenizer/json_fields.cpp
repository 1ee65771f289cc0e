#include "engine/tokenizer/json_fields.h"

#include "engine/tokenizer/tokenizer_error.h"

namespace shirg::tok {

void JsonCtx::fail(const std::string& path, const std::string& what) const {
  throw TokenizerError(label + ": field '" + path + "' " + what);
}

const nlohmann::json& JsonCtx::field(const nlohmann::json& obj, const std::string& path,
                                     const char* key) const {
  const std::string p = path.empty() ? key : path + "." + key;
  if (!obj.is_object()) fail(path.empty() ? "<root>" : path, "must be an object");
  const auto it = obj.find(key);
  if (it == obj.end()) fail(p, "is missing");
  return *it;
}

const nlohmann::json* JsonCtx::opt(const nlohmann::json& obj, const char* key) const {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

std::string JsonCtx::str(const nlohmann::json& obj, const std::string& path,
                         const char* key) const {
  return as_str(field(obj, path, key), path.empty() ? key : path + "." + key);
}

bool JsonCtx::boolean(const nlohmann::json& obj, const std::string& path, const char* key,
                      bool fallback) const {
  const auto* v = opt(obj, key);
  if (!v || v->is_null()) return fallback;
  if (!v->is_boolean()) fail(path.empty() ? key : path + "." + key, "must be a boolean");
  return v->get<bool>();
}

int64_t JsonCtx::integer(const nlohmann::json& v, const std::string& path) const {
  if (!v.is_number_integer()) fail(path, "must be an integer");
  const int64_t x = v.get<int64_t>();
  // Ids index dense per-id tables: a huge id would allocate gigabytes before anything else
  // could fail, so it is refused here (real vocabularies are below 300,000).
  if (x < 0 || x >= kMaxTokenIds)
    fail(path, "must be a token id in [0, " + std::to_string(kMaxTokenIds) + "), got " +
                   std::to_string(x));
  return x;
}

std::string JsonCtx::as_str(const nlohmann::json& v, const std::string& path) const {
  if (!v.is_string()) fail(path, "must be a string");
  return v.get<std::string>();
}

}  // namespace shirg::tok
