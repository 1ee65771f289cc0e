#pragma once
// One linear layer's weight, held either as a plain tensor or packed once for the CPU GEMM.
//
// Why: LibTorch 1.13's fp32 at::linear on the CPU goes through the BLAS, which copies ("packs")
// the whole weight into its blocked layout on EVERY call. At the 32 answer rows of a cached
// denoising step that copy costs as much as the arithmetic (docs/benchmarks.md, bench_gemm).
// A packed LinearWeight holds the weight in oneDNN's blocked matmul layout, packed once at load;
// every call (any number of rows: the 32 rows of a step, the 1,290 of a prefill) reads it as is.
//
// Contract:
//  - Logically the weight is [out, in] and forward(x) = x W^T (at::linear without bias).
//  - Immutable after construction / pack(); copies share the storage; forward() may run from
//    many threads at once.
//  - Plain: any device, any dtype; forward is at::linear (x must have the weight's dtype).
//  - Packed (only on the CPU, fp32 or bf16, oneDNN built in): forward needs x in the same dtype
//    on the CPU; the plain tensor is released (to_plain() rebuilds it for tests and tools).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace shirg::gemm {

// How a model's CPU linear weights are held (LoadOptions::gemm, `--gemm`).
enum class WeightLayout {
  kAuto,    // packed where the GEMM library has a blocked layout for this CPU and dtype, else plain
  kPlain,   // at::linear on the plain tensor (the LibTorch path)
  kPacked,  // packed; refuses (std::runtime_error) where it cannot pack
};
WeightLayout parse_weight_layout(const std::string& s);  // "auto" | "aten" | "packed"
const char* to_string(WeightLayout l);

// Whether this build can pack (oneDNN linked in: CMake option SHIRG_WITH_ONEDNN).
bool packing_available();
// The instruction set oneDNN dispatches to on this CPU ("avx2", "avx512_core_bf16", ...; capped
// by ONEDNN_MAX_CPU_ISA), or "none" without oneDNN. Benchmarks print it.
std::string onednn_isa();

class LinearWeight {
 public:
  LinearWeight() = default;
  // A plain weight [out, in] (implicit: a LinearWeight is built wherever a weight tensor was).
  LinearWeight(at::Tensor weight);  // NOLINT(google-explicit-constructor)

  bool defined() const { return plain_.defined() || packed_ != nullptr; }
  bool is_packed() const { return packed_ != nullptr; }
  // [out, in] (a plain tensor's own sizes, whatever its rank; {} when undefined).
  std::vector<int64_t> sizes() const;
  at::ScalarType dtype() const;  // kUndefined when undefined
  at::Device device() const;
  int64_t numel() const;
  int64_t nbytes() const;  // bytes held (the packed layout may pad)
  // "at::linear" or the oneDNN implementation's name (e.g. "brg:avx512_core").
  std::string implementation() const;

  // The plain [out, in] tensor; throws std::logic_error when packed.
  const at::Tensor& plain() const;
  // The plain [out, in] tensor (a copy rebuilt from the packed layout when packed).
  at::Tensor to_plain() const;

  // x [..., in] -> [..., out], x's dtype. Packed: x must be a CPU tensor of dtype() (throws
  // std::invalid_argument otherwise).
  at::Tensor forward(const at::Tensor& x) const;

  // The same weight packed for the CPU GEMM. kAuto: packed only where oneDNN offers a blocked
  // layout for this shape and dtype (else *this, plain); kPacked: packed or throws; kPlain: *this.
  // A packed weight is returned as is.
  LinearWeight packed(WeightLayout layout) const;

 private:
  struct Packed;
  at::Tensor plain_;
  std::shared_ptr<const Packed> packed_;
};

}  // namespace shirg::gemm
