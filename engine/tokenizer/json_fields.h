#pragma once
// Typed access to tokenizer.json fields. Every failure throws TokenizerError naming the file
// label and the field path (e.g. "tokenizer.json: field 'model.merges[3]' must be a string").
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace shirg::tok {

// Largest vocabulary accepted (ids are below it): 2^24.
inline constexpr int64_t kMaxTokenIds = int64_t{1} << 24;

struct JsonCtx {
  std::string label;  // file name or label given by the caller
  [[noreturn]] void fail(const std::string& path, const std::string& what) const;
  const nlohmann::json& field(const nlohmann::json& obj, const std::string& path,
                              const char* key) const;  // required, any type
  const nlohmann::json* opt(const nlohmann::json& obj, const char* key) const;  // null if absent
  std::string str(const nlohmann::json& obj, const std::string& path, const char* key) const;
  bool boolean(const nlohmann::json& obj, const std::string& path, const char* key,
               bool fallback) const;  // absent or null -> fallback
  // A token id: an integer in [0, kMaxTokenIds).
  int64_t integer(const nlohmann::json& v, const std::string& path) const;
  std::string as_str(const nlohmann::json& v, const std::string& path) const;
};

}  // namespace shirg::tok
