#include "engine/tokenizer/pattern.h"

#include <cstring>

namespace shirg::tok {

std::string escape_regex(const std::string& literal) {
  std::string out;
  for (char c : literal) {
    if (std::strchr("\\^$.|?*+()[]{}-#&~ \t\n\r\v\f", c) != nullptr && c != '\0') {
      switch (c) {
        case '\t':
          out += "\\t";
          continue;
        case '\n':
          out += "\\n";
          continue;
        case '\r':
          out += "\\r";
          continue;
        case '\v':
          out += "\\x{0b}";
          continue;
        case '\f':
          out += "\\f";
          continue;
        default:
          out += '\\';
      }
    }
    out += c;
  }
  return out;
}

std::unique_ptr<Regex> make_pattern(const nlohmann::json& j, const std::string& path,
                                    const JsonCtx& ctx) {
  if (!j.is_object()) ctx.fail(path, "must be an object {\"String\": ...} or {\"Regex\": ...}");
  if (const auto* s = ctx.opt(j, "String")) {
    const std::string lit = ctx.as_str(*s, path + ".String");
    try {
      return std::make_unique<Regex>(escape_regex(lit));
    } catch (const std::exception& e) {
      ctx.fail(path + ".String", std::string("is not usable: ") + e.what());
    }
  }
  if (const auto* r = ctx.opt(j, "Regex")) {
    const std::string re = ctx.as_str(*r, path + ".Regex");
    try {
      return std::make_unique<Regex>(re);
    } catch (const std::exception& e) {
      ctx.fail(path + ".Regex", std::string("does not compile: ") + e.what());
    }
  }
  ctx.fail(path, "must hold \"String\" or \"Regex\"");
}

}  // namespace shirg::tok
