#include "clients/eval_metrics.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace shirg::clients {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Code points of a UTF-8 string; a byte that does not start a valid sequence is one unit.
std::vector<uint32_t> code_points(const std::string& s) {
  std::vector<uint32_t> out;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const int n = c < 0x80           ? 1
                  : (c >> 5) == 0x6  ? 2
                  : (c >> 4) == 0xE  ? 3
                  : (c >> 3) == 0x1E ? 4
                                     : 0;
    bool valid = n > 0 && i + n <= s.size();
    for (int k = 1; valid && k < n; ++k) valid = (static_cast<unsigned char>(s[i + k]) >> 6) == 2;
    if (!valid) {
      out.push_back(0x110000u + c);  // outside Unicode: never equal to a real code point
      ++i;
      continue;
    }
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += n;
  }
  return out;
}

}  // namespace

std::string normalize_answer(const std::string& s) {
  std::string out;
  bool pending_space = false;
  for (char c : s) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

std::size_t levenshtein(const std::string& a, const std::string& b) {
  const std::vector<uint32_t> x = code_points(a), y = code_points(b);
  std::vector<std::size_t> row(y.size() + 1);
  for (std::size_t j = 0; j <= y.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= x.size(); ++i) {
    std::size_t diag = row[0];  // D[i-1][j-1]
    row[0] = i;
    for (std::size_t j = 1; j <= y.size(); ++j) {
      const std::size_t up = row[j];  // D[i-1][j]
      row[j] = std::min({up + 1, row[j - 1] + 1, diag + (x[i - 1] == y[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[y.size()];
}

double exact_match(const std::string& prediction, const std::vector<std::string>& answers) {
  const std::string p = normalize_answer(prediction);
  for (const std::string& a : answers) {
    if (normalize_answer(a) == p) return 1;
  }
  return 0;
}

double anls(const std::string& prediction, const std::vector<std::string>& answers) {
  const std::string p = normalize_answer(prediction);
  const std::size_t plen = code_points(p).size();
  double best = 0;
  for (const std::string& raw : answers) {
    const std::string a = normalize_answer(raw);
    const std::size_t len = std::max(plen, code_points(a).size());
    const double nl = len == 0 ? 0.0 : static_cast<double>(levenshtein(p, a)) / len;
    best = std::max(best, nl < 0.5 ? 1 - nl : 0.0);
  }
  return best;
}

std::optional<double> parse_relaxed_number(const std::string& s) {
  std::string t = normalize_answer(s);
  double scale = 1;
  if (!t.empty() && t.back() == '%') {
    t.pop_back();
    scale = 0.01;
    if (!t.empty() && t.back() == ' ') t.pop_back();  // "50 %"
  }
  if (t.empty()) return std::nullopt;
  // Plain decimal numbers only: no hex, no inf/nan (strtod would accept them).
  for (char c : t) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e')) {
      return std::nullopt;
    }
  }
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(v)) return std::nullopt;
  return v * scale;
}

double relaxed_accuracy(const std::string& prediction, const std::vector<std::string>& answers,
                        double tolerance) {
  const std::optional<double> p = parse_relaxed_number(prediction);
  for (const std::string& a : answers) {
    const std::optional<double> target = parse_relaxed_number(a);
    if (target) {
      if (p && std::fabs(*p - *target) <= tolerance * std::fabs(*target)) return 1;
    } else if (exact_match(prediction, {a}) == 1) {
      return 1;
    }
  }
  return 0;
}

}  // namespace shirg::clients
