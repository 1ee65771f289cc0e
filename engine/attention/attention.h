#pragma once
// The attention of the model code (SigLIP; LLaDA's prefill, cached steps and uncached
// reference): one entry point that chooses the implementation from the kernel set, the device,
// the dtypes and the shape, in one place.
//
//   kernels   device  inputs                                          implementation
//   auto      CPU     no mask, fewer queries than keys (a cached       cached_step_attention
//                     step), fp32 q over fp32/bf16 parts or bf16 q     (batched oneDNN GEMMs)
//                     over bf16 parts, oneDNN built in
//   auto      CPU     anything else                                    chunked_attention
//   auto      other   anything                                         generic_attention
//   generic   any     anything                                         generic_attention
#include <ATen/core/Tensor.h>

#include <vector>

#include "engine/attention/kv_part.h"
#include "engine/platform/kernels.h"

namespace shirg::attention {

enum class Implementation { kCachedStep, kChunked, kGeneric };

// The implementation attend() runs for these inputs (the table above).
Implementation choose_implementation(const at::Tensor& q, const std::vector<KvPart>& parts,
                                     const at::Tensor& mask, Kernels kernels);
const char* implementation_name(Implementation i);  // "cached-step" | "chunked" | "generic"

// softmax(scale * q k^T + mask) v over the concatenation of `parts` (kv_part.h's contract:
// q [N, Tq, hd], parts [N, Tk_i, hd], mask undefined or additive fp32 [Tq, sum Tk_i]), every
// tensor on one device. Returns [N, Tq, hd] in q's dtype. Throws std::invalid_argument on bad
// inputs.
at::Tensor attend(const at::Tensor& q, const std::vector<KvPart>& parts, const at::Tensor& mask,
                  double scale, Kernels kernels);

}  // namespace shirg::attention
