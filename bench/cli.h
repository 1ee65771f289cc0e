#pragma once
// Command-line lists shared by the benchmarks: "a,b,c" flags and dtype lists.
#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "engine/model/compute_dtype.h"

namespace shirg::bench {

// "a,,b" -> {"a", "b"} (empty items dropped).
inline std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string w; std::getline(in, w, ',');)
    if (!w.empty()) out.push_back(w);
  return out;
}

// "auto,fp32" -> the CPU compute dtypes they name, `auto` resolved, each once, in order.
// Throws std::invalid_argument for an unknown name (parse_compute_dtype).
inline std::vector<at::ScalarType> compute_dtypes(const std::vector<std::string>& names) {
  std::vector<at::ScalarType> out;
  for (const auto& n : names) {
    const auto t = parse_compute_dtype(n, at::Device(at::kCPU));
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  return out;
}

}  // namespace shirg::bench
