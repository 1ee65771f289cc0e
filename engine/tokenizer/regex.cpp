#include "engine/tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "engine/tokenizer/tokenizer_error.h"
#include "engine/tokenizer/unicode_util.h"

namespace shirg::tok {
namespace {

// Oniguruma's Unicode \s: U+0009..U+000D, U+0085 and the Z categories (Zs, Zl, Zp).
constexpr const char* kSpaceBody = "\\t-\\r\\x{85}\\p{Z}";
// Oniguruma's Unicode \w: letters, marks, decimal numbers, connector punctuation.
constexpr const char* kWordBody = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}";

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof(buf));
  return reinterpret_cast<const char*>(buf);
}

}  // namespace

std::string translate_onig_pattern(const std::string& p) {
  std::string out;
  out.reserve(p.size() + 32);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[i + 1];
      ++i;
      if (e == 's' || e == 'w') {
        const char* body = e == 's' ? kSpaceBody : kWordBody;
        out += in_class ? std::string(body) : "[" + std::string(body) + "]";
      } else if ((e == 'S' || e == 'W') && !in_class) {
        out += "[^" + std::string(e == 'S' ? kSpaceBody : kWordBody) + "]";
      } else {
        out += '\\';
        out += e;
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      // A ']' or '^]' right after '[' is a literal.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

struct Regex::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Impl() {
    if (code) pcre2_code_free(code);
  }
};

Regex::Regex(const std::string& pattern) : pattern_(pattern), impl_(std::make_unique<Impl>()) {
  const std::string translated = translate_onig_pattern(pattern);
  int err = 0;
  PCRE2_SIZE err_off = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                              PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &err_off, nullptr);
  if (!impl_->code) {
    throw TokenizerError("regex pattern " + pattern + " does not compile (offset " +
                         std::to_string(err_off) + "): " + pcre2_message(err));
  }
  impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() = default;

void Regex::find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const {
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  if (!md) throw TokenizerError("out of memory creating PCRE2 match data");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t last_end = 0;
  bool have_last = false;
  size_t last_match_end = 0;
  while (last_end <= s.size()) {
    const int rc = impl_->jit
                       ? pcre2_jit_match(impl_->code, subject, s.size(), last_end, 0, md, nullptr)
                       : pcre2_match(impl_->code, subject, s.size(), last_end, PCRE2_NO_UTF_CHECK,
                                     md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(md);
      throw TokenizerError("regex " + pattern_ + " failed to match: " + pcre2_message(rc));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t b = ov[0], e = ov[1];
    if (b == e && have_last && last_match_end == e) {
      // rust-onig: no empty match immediately after the previous match; step one character.
      if (last_end >= s.size()) break;
      last_end += utf8_len(static_cast<unsigned char>(s[last_end]));
      continue;
    }
    last_end = e;
    last_match_end = e;
    have_last = true;
    out.emplace_back(b, e);
  }
  pcre2_match_data_free(md);
}

}  // namespace shirg::tok
