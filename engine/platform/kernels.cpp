#include "engine/platform/kernels.h"

#include <stdexcept>

namespace shirg {

Kernels parse_kernels(const std::string& s) {
  if (s == "auto") return Kernels::kAuto;
  if (s == "generic") return Kernels::kGeneric;
  throw std::invalid_argument("kernels must be auto or generic, got '" + s + "'");
}

const char* kernels_name(Kernels k) {
  return k == Kernels::kGeneric ? "generic" : "auto";
}

}  // namespace shirg
