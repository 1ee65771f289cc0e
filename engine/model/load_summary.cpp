#include <cstdio>
#include <sstream>

#include "engine/model/model.h"

namespace shirg {

std::string LoadSummary::to_table() const {
  std::ostringstream o;
  char line[160];
  std::snprintf(line, sizeof line, "%-16s %16s %14s\n", "component", "parameters", "MiB");
  o << line;
  int64_t total_p = 0, total_b = 0;
  for (const auto& c : components) {
    std::snprintf(line, sizeof line, "%-16s %16lld %14.1f\n", c.name.c_str(),
                  static_cast<long long>(c.parameters), static_cast<double>(c.bytes) / (1 << 20));
    o << line;
    total_p += c.parameters;
    total_b += c.bytes;
  }
  std::snprintf(line, sizeof line, "%-16s %16lld %14.1f\n", "total",
                static_cast<long long>(total_p), static_cast<double>(total_b) / (1 << 20));
  o << line;
  if (!llm_weight_dtype.empty() && llm_weight_dtype != dtype) {
    std::snprintf(line, sizeof line, "LLaDA matrices stored in %s, upcast to %s per use\n",
                  llm_weight_dtype.c_str(), dtype.c_str());
    o << line;
  }
  if (llm_matrices > 0) {
    std::snprintf(line, sizeof line, "LLaDA GEMM: %lld of %lld matrices packed, %s\n",
                  static_cast<long long>(llm_matrices_packed), static_cast<long long>(llm_matrices),
                  llm_gemm.c_str());
    o << line;
  }
  std::snprintf(line, sizeof line,
                "dtype %s, checkpoint %.1f MiB on disk, %lld LoRA modules merged, load %.3f s\n",
                dtype.c_str(), static_cast<double>(checkpoint_bytes) / (1 << 20),
                static_cast<long long>(lora_modules_merged), load_seconds);
  o << line;
  if (base_copy_bytes > 0) {
    std::snprintf(line, sizeof line,
                  "unmerged SigLIP/projector matrices for LaViDa's own modes: %.1f MiB\n",
                  static_cast<double>(base_copy_bytes) / (1 << 20));
    o << line;
  }
  return o.str();
}

}  // namespace shirg
