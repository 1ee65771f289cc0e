#include "engine/platform/torch_compat.h"

#include <ATen/ATen.h>
#include <torch/version.h>

#include <stdexcept>

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define SHIRG_TORCH_HAS_SDPA 1
#else
#define SHIRG_TORCH_HAS_SDPA 0
#endif

namespace shirg::compat {

bool has_scaled_dot_product_attention() {
  return SHIRG_TORCH_HAS_SDPA != 0;
}

at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k,
                                        const at::Tensor& v, const at::Tensor& allowed,
                                        double scale) {
#if SHIRG_TORCH_HAS_SDPA
  return at::scaled_dot_product_attention(
      q, k, v, allowed.defined() ? c10::optional<at::Tensor>(allowed) : c10::nullopt,
      /*dropout_p=*/0.0, /*is_causal=*/false, scale);
#else
  (void)q, (void)k, (void)v, (void)allowed, (void)scale;
  throw std::logic_error("scaled_dot_product_attention needs LibTorch >= 2.1, this is " +
                         std::string(TORCH_VERSION));
#endif
}

}  // namespace shirg::compat
