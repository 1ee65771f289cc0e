#include "tests/server/prom_text.h"

#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

namespace shirg::testing {
namespace {

bool name_char(char c, bool first, bool colon) {
  const bool alpha =
      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
  return alpha || (!first && c >= '0' && c <= '9');
}

double parse_number(const std::string& s, const std::string& line) {
  if (s == "+Inf" || s == "Inf") return INFINITY;
  if (s == "-Inf") return -INFINITY;
  if (s == "NaN") return NAN;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0') throw std::runtime_error("bad number '" + s + "' in: " + line);
  return v;
}

std::string family_of(const std::string& name, const std::map<std::string, std::string>& types) {
  if (types.count(name)) return name;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string suf(suffix);
    if (name.size() > suf.size() && name.compare(name.size() - suf.size(), suf.size(), suf) == 0) {
      const std::string base = name.substr(0, name.size() - suf.size());
      if (types.count(base)) return base;
    }
  }
  return "";
}

}  // namespace

PromText parse_prom_text(const std::string& text) {
  PromText out;
  std::set<std::string> series;
  std::istringstream in(text);
  std::string line;
  if (!text.empty() && text.back() != '\n')
    throw std::runtime_error("exposition must end with a newline");
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream ws(line);
      std::string hash, kind, name;
      ws >> hash >> kind >> name;
      if (kind == "TYPE") {
        std::string type;
        ws >> type;
        static const std::set<std::string> known = {"counter", "gauge", "histogram", "summary",
                                                    "untyped"};
        if (!known.count(type)) throw std::runtime_error("bad TYPE in: " + line);
        if (out.types.count(name)) throw std::runtime_error("TYPE given twice for " + name);
        out.types[name] = type;
      } else if (kind == "HELP") {
        const auto pos = line.find(name, 7);
        out.help[name] = pos == std::string::npos ? "" : line.substr(pos + name.size());
      }
      continue;
    }
    PromSample s;
    std::size_t i = 0;
    while (i < line.size() && name_char(line[i], i == 0, true)) ++i;
    s.name = line.substr(0, i);
    if (s.name.empty()) throw std::runtime_error("no metric name in: " + line);
    std::string key = s.name + "{";
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const std::size_t start = i;
        while (i < line.size() && name_char(line[i], i == start, false)) ++i;
        const std::string lname = line.substr(start, i - start);
        if (lname.empty() || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"')
          throw std::runtime_error("bad label in: " + line);
        i += 2;
        std::string value;
        for (;; ++i) {
          if (i >= line.size()) throw std::runtime_error("unterminated label value in: " + line);
          if (line[i] == '"') break;
          if (line[i] == '\\') {
            ++i;
            if (i >= line.size()) throw std::runtime_error("bad escape in: " + line);
            if (line[i] == 'n')
              value += '\n';
            else if (line[i] == '\\' || line[i] == '"')
              value += line[i];
            else
              throw std::runtime_error("bad escape in: " + line);
          } else {
            value += line[i];
          }
        }
        ++i;  // closing quote
        if (s.labels.count(lname)) throw std::runtime_error("label given twice in: " + line);
        s.labels[lname] = value;
        key += lname + "=" + value + ",";
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) throw std::runtime_error("unterminated label set in: " + line);
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') throw std::runtime_error("no value in: " + line);
    std::istringstream rest(line.substr(i + 1));
    std::string value, timestamp, extra;
    rest >> value >> timestamp >> extra;
    if (!extra.empty()) throw std::runtime_error("trailing text in: " + line);
    s.value = parse_number(value, line);
    if (family_of(s.name, out.types).empty())
      throw std::runtime_error("sample before its TYPE line: " + line);
    if (!series.insert(key).second) throw std::runtime_error("duplicate series: " + line);
    out.samples.push_back(std::move(s));
  }
  return out;
}

double PromText::sum(const std::string& name,
                     const std::map<std::string, std::string>& match) const {
  double total = 0;
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool ok = true;
    for (const auto& [k, v] : match) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) ok = false;
    }
    if (ok) total += s.value;
  }
  return total;
}

std::size_t PromText::count(const std::string& name,
                            const std::map<std::string, std::string>& match) const {
  std::size_t n = 0;
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool ok = true;
    for (const auto& [k, v] : match) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) ok = false;
    }
    n += ok;
  }
  return n;
}

}  // namespace shirg::testing
