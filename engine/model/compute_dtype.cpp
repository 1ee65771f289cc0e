#include "engine/model/compute_dtype.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace shirg {

bool cpu_has_native_bf16() {
  static const bool has = [] {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("flags", 0) != 0) continue;
      std::istringstream words(line);
      std::string w;
      while (words >> w)
        if (w == "avx512_bf16" || w == "amx_bf16") return true;
      return false;
    }
    return false;
  }();
  return has;
}

at::ScalarType auto_compute_dtype(const at::Device& device) {
  if (device.is_cuda()) return at::kBFloat16;
  return cpu_has_native_bf16() ? at::kBFloat16 : at::kFloat;
}

at::ScalarType parse_compute_dtype(const std::string& s, const at::Device& device) {
  if (s == "auto") return auto_compute_dtype(device);
  if (s == "bf16" || s == "bfloat16") return at::kBFloat16;
  if (s == "fp32" || s == "float32") return at::kFloat;
  throw std::invalid_argument("dtype must be auto, bf16 or fp32, got '" + s + "'");
}

const char* compute_dtype_name(at::ScalarType t) {
  return t == at::kBFloat16 ? "bf16" : "fp32";
}

}  // namespace shirg
