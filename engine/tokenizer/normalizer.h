#pragma once
// tokenizer.json "normalizer": NFC, NFD, NFKC, NFKD, Prepend, Replace and Sequence of those.
// Any other type is a load error naming it.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/json_fields.h"

namespace shirg::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Rewrites `s` (valid UTF-8) in place.
  virtual void normalize(std::string& s) const = 0;
};

// Null JSON -> nullptr (no normalization). `path` is the field path for error messages.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j, const std::string& path,
                                            const JsonCtx& ctx);

}  // namespace shirg::tok
