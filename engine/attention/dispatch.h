#pragma once
// The online-softmax attention the model code (LLaDA, SigLIP) calls: the fused CPU kernel
// (fused_cpu_attention.h) when attention::kernel() is kFused and the kernel supports the tensors
// (fp32/bf16 on the CPU), else the blocked ATen kernel (blocked_attention.h; any device and dtype).
// Same contract as blocked_attention(); `sizes` is used by the blocked kernel only. The former
// full-matrix paths (Kernel::kLegacy, legacy_attention.h) differ per model and stay with the
// caller.
#include <ATen/core/Tensor.h>
#include <vector>

#include "engine/attention/blocked_attention.h"

namespace shirg::attention {

at::Tensor online_softmax_attention(const at::Tensor& q, const std::vector<KvPart>& parts,
                                    const at::Tensor& mask, double scale, BlockSizes sizes = {});

}  // namespace shirg::attention
