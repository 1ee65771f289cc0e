#pragma once
// PCRE2 (UTF, Unicode properties, JIT) behind the semantics of Oniguruma, the regex engine of
// Hugging Face tokenizers: \s \S \w \W are rewritten to Oniguruma's Unicode definitions, and
// matches are enumerated like rust-onig's find_iter (an empty match right after the previous
// match is skipped). Thread-safe: one compiled pattern, match data per call.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shirg::tok {

class Regex {
 public:
  // Throws TokenizerError naming the pattern and PCRE2's message if it does not compile.
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Non-overlapping matches in `s` (valid UTF-8) as [begin, end) byte offsets, appended to out.
  void find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Impl;
  std::string pattern_;
  std::unique_ptr<Impl> impl_;
};

// The Oniguruma -> PCRE2 rewrite applied by Regex (exposed for tests).
std::string translate_onig_pattern(const std::string& pattern);

}  // namespace shirg::tok
