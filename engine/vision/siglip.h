#pragma once
// The SigLIP vision tower at any resolution and the mlp2x_gelu projector (LibTorch).
// Tensors follow the weights' device; the compute dtype is the dtype of the linear weights.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

#include "engine/config/model_config.h"
#include "engine/model/model.h"
#include "engine/vision/image.h"
#include "engine/weights/weights.h"

namespace shirg::vision {

// Runs after every SigLIP encoder layer: a cancellation point; whatever it throws ends the
// encoding and propagates. Empty: no check.
using LayerHook = std::function<void()>;

// [1, 3, H, W] fp32 on the CPU: x / 255, then (x - 0.5) / 0.5 (SigLIP's processor).
at::Tensor to_pixel_tensor(const RgbImage& img);

// Bicubic (align_corners = false) resize of a square [G*G, D] fp32 grid of position embeddings
// to [grid_h * grid_w, D] fp32 (Hugging Face's interpolate_pos_encoding). Identity when equal.
at::Tensor resize_position_embedding(const at::Tensor& pos, int64_t grid_out);
at::Tensor resize_position_embedding(const at::Tensor& pos, int64_t grid_h, int64_t grid_w);

// Patch embedding + position embedding: [B, 3, H, W] fp32 -> [B, (H/P)*(W/P), Dv] fp32 (the
// residual stream). Pixels beyond a multiple of P are ignored, as the strided convolution does.
at::Tensor siglip_embed(const SiglipW& w, const VisionConfig& cfg, const at::Tensor& pixels);
// GELU with the tanh approximation, same shape and dtype as x. Kernels::kAuto on the CPU: a
// bf16/fp16 x is computed in fp32 and rounded once (LibTorch 1.13's bf16 tanh-GELU kernel took
// 28 ms on SigLIP's [1, 2304, 4304] against 16.7 ms for the fp32 round trip, AMD EPYC, 2
// threads, same run; ~4% of a SigLIP layer; and it rounds less well). Otherwise (fp32, other
// devices, Kernels::kGeneric): at::gelu(x, "tanh").
at::Tensor gelu_tanh(const at::Tensor& x, Kernels kernels = Kernels::kAuto);
// The encoder MLP's activation by Hugging Face's hidden_act name (gelu_pytorch_tanh, gelu_new,
// gelu_fast: gelu_tanh; gelu: exact erf; quick_gelu); another name throws std::invalid_argument.
at::Tensor activation(const at::Tensor& x, const std::string& hidden_act,
                      Kernels kernels = Kernels::kAuto);

// One encoder layer on the fp32 residual stream [B, N, Dv]; returns the new stream (fp32).
// Layer norms and softmax in fp32, matmuls in the compute dtype, attention by attention::attend
// with `kernels` (siglip_encode passes SiglipW::kernels).
at::Tensor siglip_layer(const SiglipLayerW& l, const VisionConfig& cfg, const at::Tensor& x,
                        Kernels kernels = Kernels::kAuto);

// Every layer in w.layers (the checkpoint holds cfg.layers_used of them), no post-layernorm,
// no pooling head: [B, 3, H, W] fp32 -> [B, (H/P)*(W/P), Dv] in the compute dtype.
at::Tensor siglip_encode(const SiglipW& w, const VisionConfig& cfg, const at::Tensor& pixels,
                         const LayerHook& after_layer = {});

// mlp2x_gelu: Linear -> GELU (exact erf) -> Linear. [..., Dv] -> [..., D] in the compute dtype.
at::Tensor project(const ProjectorW& w, const at::Tensor& x);

// Resize to side x side (PIL bicubic), normalise, SigLIP: -> [(side/P)^2, Dv] compute dtype.
// The Model overload runs m.vision (adapter merged: the SHIRG modes).
at::Tensor encode_view(const SiglipW& w, const VisionConfig& cfg, const RgbImage& img, int64_t side,
                       const LayerHook& after_layer = {});
at::Tensor encode_view(const Model& m, const RgbImage& img, int64_t side,
                       const LayerHook& after_layer = {});

}  // namespace shirg::vision
