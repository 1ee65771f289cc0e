#pragma once
// Which implementations the engine runs (`--kernels`): fixed when the model is loaded, carried by
// its weights (LladaW::kernels, SiglipW::kernels) so every forward function sees the same choice.
#include <string>

namespace shirg {

enum class Kernels {
  // The CPU-specialised kernels where they apply (LLaDA matrices packed for oneDNN's GEMM, the
  // cached-step attention, the chunked attention, the CPU's bf16 GELU through fp32); on any
  // other device the generic path.
  kAuto,
  // The generic path on every device: at::linear, generic_attention (SDPA where LibTorch has
  // it), plain tensor ops. What a CUDA device runs; on the CPU, the tests' way of checking it.
  kGeneric,
};

Kernels parse_kernels(const std::string& s);  // "auto" | "generic"; throws std::invalid_argument
const char* kernels_name(Kernels k);          // "auto" | "generic"

}  // namespace shirg
