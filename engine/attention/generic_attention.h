#pragma once
// The portable attention: what a CUDA device runs, and the CPU under `--kernels generic`.
//
// The parts are concatenated along the key axis (converted to q's dtype), then
//  - LibTorch >= 2.1: at::scaled_dot_product_attention (on CUDA its flash / memory-efficient
//    kernels: fp32 accumulation, no [Tq, Tk] matrix in memory), the mask passed as a boolean
//    "may attend" matrix;
//  - older LibTorch (1.13 has no public SDPA): scores in the compute dtype (one rounding), softmax
//    in fp32 with the mask added in fp32, probabilities rounded once, P V.
// No CPU-specific code, no budgets: every tensor is on q's device.
#include <ATen/core/Tensor.h>

#include <vector>

#include "engine/attention/kv_part.h"

namespace shirg::attention {

// softmax(scale * q k^T + mask) v (kv_part.h's contract). Returns [N, Tq, hd] in q's dtype,
// contiguous. A query row whose keys are all masked yields NaN on the formula path (SDPA's
// kernels may give 0 instead): no caller masks a whole row.
at::Tensor generic_attention(const at::Tensor& q, const std::vector<KvPart>& parts,
                             const at::Tensor& mask, double scale);

// Whether generic_attention runs LibTorch's scaled_dot_product_attention (LibTorch >= 2.1).
bool generic_attention_uses_sdpa();

}  // namespace shirg::attention
