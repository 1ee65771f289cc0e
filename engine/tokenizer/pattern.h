#pragma once
// The "pattern" of Split pre-tokenizers and Replace normalizers: {"String": s} (a literal) or
// {"Regex": r} (Oniguruma syntax, run on PCRE2). Both compile to a Regex, as in HF tokenizers.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/json_fields.h"
#include "engine/tokenizer/regex.h"

namespace shirg::tok {

std::unique_ptr<Regex> make_pattern(const nlohmann::json& j, const std::string& path,
                                    const JsonCtx& ctx);

// Escapes every regex metacharacter of `literal`.
std::string escape_regex(const std::string& literal);

}  // namespace shirg::tok
