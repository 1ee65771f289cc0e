#pragma once
// The differences between the LibTorch versions the project builds against (Debian 12's 1.13,
// Debian 13's 2.6, the 2.x inside the CUDA wheels), behind small helpers: no other file tests a
// LibTorch version.
#include <ATen/core/Tensor.h>

namespace shirg::compat {

// at::scaled_dot_product_attention with its `scale` argument exists (LibTorch >= 2.1).
bool has_scaled_dot_product_attention();

// at::scaled_dot_product_attention(q, k, v, allowed, no dropout, not causal, scale): q [..., Tq,
// hd], k and v [..., Tk, hd] in one dtype on one device; `allowed` undefined or a bool [Tq, Tk]
// (true: may attend). Throws std::logic_error where has_scaled_dot_product_attention() is false.
at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k,
                                        const at::Tensor& v, const at::Tensor& allowed,
                                        double scale);

}  // namespace shirg::compat
