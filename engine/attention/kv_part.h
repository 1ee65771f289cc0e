#pragma once
// The inputs every attention implementation of engine/attention takes.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace shirg::attention {

// One contiguous run of keys/values along the key axis (e.g. the prefix cache, the answer rows).
struct KvPart {
  at::Tensor k, v;  // [N, Tk, hd]; floating dtype, any strides; may differ from q's dtype (a bf16
                    // prefix cache under fp32 compute): each implementation says how it converts
};

// Checks the common contract: q a floating [N, Tq, hd] tensor (N = batch x heads), at least one
// part, every part's k and v floating [N, Tk_i, hd] with sum Tk_i >= 1, mask undefined or an
// additive fp32 [Tq, sum Tk_i] (0 / -inf) shared by every head. Returns sum Tk_i. Throws
// std::invalid_argument naming what is wrong.
int64_t check_attention_inputs(const at::Tensor& q, const std::vector<KvPart>& parts,
                               const at::Tensor& mask);

}  // namespace shirg::attention
