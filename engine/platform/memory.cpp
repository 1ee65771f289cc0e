#include "engine/platform/memory.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace shirg {
namespace {

std::optional<std::string> read_text(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::optional<int64_t> parse_meminfo_available(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream fields(line.substr(13));
    int64_t kib = -1;
    std::string unit;
    if (!(fields >> kib) || kib < 0) return std::nullopt;
    fields >> unit;
    if (!unit.empty() && unit != "kB") return std::nullopt;
    return kib * 1024;
  }
  return std::nullopt;
}

std::optional<int64_t> parse_cgroup_bytes(const std::string& text) {
  std::istringstream in(text);
  std::string word;
  if (!(in >> word) || word == "max") return std::nullopt;
  if (word.find_first_not_of("0123456789") != std::string::npos || word.size() > 18)
    return std::nullopt;
  return std::stoll(word);
}

std::optional<int64_t> available_memory_bytes() {
  std::optional<int64_t> avail;
  if (auto t = read_text("/proc/meminfo")) avail = parse_meminfo_available(*t);
  const auto max = read_text("/sys/fs/cgroup/memory.max");
  const auto cur = read_text("/sys/fs/cgroup/memory.current");
  if (max && cur) {
    const auto lim = parse_cgroup_bytes(*max), used = parse_cgroup_bytes(*cur);
    if (lim && used) {
      const int64_t room = std::max<int64_t>(0, *lim - *used);
      avail = avail ? std::min(*avail, room) : room;
    }
  }
  return avail;
}

std::string format_gib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
  return buf;
}

}  // namespace shirg
