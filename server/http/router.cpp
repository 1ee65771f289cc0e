#include "server/http/router.h"

namespace shirg::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %-decodes one path segment; false when malformed, empty or holding '/' or a control byte.
bool decode_segment(std::string_view in, std::string* out) {
  out->clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '/') return false;
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '/') return false;
    out->push_back(c);
  }
  return !out->empty();
}

bool takes(const Route& r, std::string_view method) {
  for (const std::string& m : r.methods)
    if (m == method || (method == "HEAD" && m == "GET")) return true;
  return false;
}

}  // namespace

bool is_standard_method(std::string_view m) {
  for (const char* s :
       {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
    if (m == s) return true;
  return false;
}

void Router::add(Route route) {
  routes_.push_back(std::move(route));
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  Match m;
  for (const Route& r : routes_) {
    std::string param;
    if (r.has_param) {
      if (path.size() <= r.path.size() || path.compare(0, r.path.size(), r.path) != 0 ||
          !decode_segment(path.substr(r.path.size()), &param))
        continue;
    } else if (path != r.path) {
      continue;
    }
    if (takes(r, method)) {
      m.route = &r;
      m.param = std::move(param);
      m.allow.clear();
      return m;
    }
    for (const std::string& x : r.methods) {
      if (m.allow.find(x) != std::string::npos) continue;
      m.allow += (m.allow.empty() ? "" : ", ") + x;
      if (x == "GET") m.allow += ", HEAD";
    }
  }
  return m;
}

}  // namespace shirg::http
