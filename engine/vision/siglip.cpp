// SigLIP vision tower and mlp2x_gelu projector. Residual stream in fp32; layer norms and
// softmax in fp32; every matmul in the compute dtype (the dtype of the linear weights).
#include "engine/vision/siglip.h"

#include "engine/attention/attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace shirg::vision {
namespace {

at::Tensor linear(const at::Tensor& x, const LinearW& l) {
  const auto dt = l.weight.scalar_type();
  const at::Tensor in = x.scalar_type() == dt ? x : x.to(dt);
  if (!l.bias.defined()) return at::linear(in, l.weight);
  return at::linear(in, l.weight, l.bias.to(dt));
}

at::Tensor layer_norm(const at::Tensor& x, const LayerNormW& n, double eps) {
  return at::layer_norm(x.to(at::kFloat), {x.size(-1)}, n.weight, n.bias, eps);
}

}  // namespace

at::Tensor gelu_tanh(const at::Tensor& x, Kernels kernels) {
  const auto dt = x.scalar_type();
  if (kernels == Kernels::kAuto && x.is_cpu() && (dt == at::kBFloat16 || dt == at::kHalf))
    return at::gelu(x.to(at::kFloat), "tanh").to(dt);
  return at::gelu(x, "tanh");
}

at::Tensor activation(const at::Tensor& x, const std::string& act, Kernels kernels) {
  if (act == "gelu_pytorch_tanh" || act == "gelu_new" || act == "gelu_fast")
    return gelu_tanh(x, kernels);
  if (act == "gelu") return at::gelu(x);
  if (act == "quick_gelu") return x * at::sigmoid(1.702 * x);
  throw std::invalid_argument("SigLIP: unsupported hidden_act '" + act + "'");
}

namespace {

// Softmax attention over [B, H, N, hd] in the compute dtype, per image (attention::attend).
// Returns [B, H, N, hd].
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     Kernels kernels) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  std::vector<at::Tensor> outs;
  for (int64_t i = 0; i < q.size(0); ++i)
    outs.push_back(attention::attend(q[i], {{k[i], v[i]}}, {}, scale, kernels));
  return at::stack(outs, 0);
}

}  // namespace

at::Tensor to_pixel_tensor(const RgbImage& img) {
  if (img.width <= 0 || img.height <= 0 ||
      img.rgb.size() != static_cast<std::size_t>(img.width * img.height * 3))
    throw ImageError("to_pixel_tensor: the image is empty or inconsistent");
  // Like the SigLIP processor: rescale in double, store as float, normalise in float.
  float lut[256];
  for (int i = 0; i < 256; ++i) lut[i] = (static_cast<float>(i * (1.0 / 255.0)) - 0.5f) / 0.5f;
  at::Tensor out = at::empty({1, 3, img.height, img.width}, at::kFloat);
  float* dst = out.data_ptr<float>();
  const int64_t plane = img.width * img.height;
  const uint8_t* src = img.rgb.data();
  for (int64_t i = 0; i < plane; ++i) {
    dst[i] = lut[src[i * 3]];
    dst[plane + i] = lut[src[i * 3 + 1]];
    dst[2 * plane + i] = lut[src[i * 3 + 2]];
  }
  return out;
}

at::Tensor resize_position_embedding(const at::Tensor& pos, int64_t grid_out) {
  return resize_position_embedding(pos, grid_out, grid_out);
}

at::Tensor resize_position_embedding(const at::Tensor& pos, int64_t grid_h, int64_t grid_w) {
  const int64_t n = pos.size(0), d = pos.size(1);
  const auto g = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
  if (g * g != n)
    throw std::invalid_argument("position embedding has " + std::to_string(n) +
                                " rows, not a square grid");
  if (grid_h <= 0 || grid_w <= 0) throw std::invalid_argument("position grid must be positive");
  const at::Tensor p = pos.to(at::kFloat);
  if (grid_h == g && grid_w == g) return p;
  const at::Tensor grid = p.reshape({1, g, g, d}).permute({0, 3, 1, 2});
  const at::Tensor r = at::upsample_bicubic2d(grid, {grid_h, grid_w}, /*align_corners=*/false);
  return r.permute({0, 2, 3, 1}).reshape({grid_h * grid_w, d});
}

at::Tensor siglip_embed(const SiglipW& w, const VisionConfig& cfg, const at::Tensor& pixels) {
  if (pixels.dim() != 4 || pixels.size(1) != 3)
    throw std::invalid_argument("SigLIP: pixels must be [B, 3, H, W]");
  const int64_t p = cfg.patch_size, d = w.patch_weight.size(0);
  const int64_t b = pixels.size(0), gh = pixels.size(2) / p, gw = pixels.size(3) / p;
  if (gh == 0 || gw == 0) throw std::invalid_argument("SigLIP: image smaller than one patch");
  const auto dt = w.patch_weight.scalar_type();
  // A stride-P convolution with a PxP kernel is a matmul over flattened patches (c, ky, kx order).
  at::Tensor x = pixels.to(w.patch_weight.device(), dt).slice(2, 0, gh * p).slice(3, 0, gw * p);
  x = x.reshape({b, 3, gh, p, gw, p}).permute({0, 2, 4, 1, 3, 5}).reshape({b * gh * gw, 3 * p * p});
  at::Tensor emb = at::matmul(x, w.patch_weight.reshape({d, 3 * p * p}).t()).to(at::kFloat);
  emb.add_(w.patch_bias);
  emb = emb.reshape({b, gh * gw, d});
  emb.add_(resize_position_embedding(w.pos_embed, gh, gw).unsqueeze(0));
  return emb;
}

at::Tensor siglip_layer(const SiglipLayerW& l, const VisionConfig& cfg, const at::Tensor& x,
                        Kernels kernels) {
  const int64_t b = x.size(0), n = x.size(1), d = x.size(2), heads = cfg.num_attention_heads;
  if (heads <= 0 || d % heads != 0)
    throw std::invalid_argument("SigLIP: width not divisible by the heads");
  const at::Tensor qkv = linear(layer_norm(x, l.ln1, cfg.layer_norm_eps), l.qkv)
                             .view({b, n, 3, heads, d / heads})
                             .permute({2, 0, 3, 1, 4});
  const at::Tensor a =
      attention(qkv[0], qkv[1], qkv[2], kernels).transpose(1, 2).reshape({b, n, d});
  at::Tensor h = x + linear(a, l.out).to(at::kFloat);
  const at::Tensor f = linear(
      activation(linear(layer_norm(h, l.ln2, cfg.layer_norm_eps), l.fc1), cfg.hidden_act, kernels),
      l.fc2);
  h.add_(f.to(at::kFloat));
  return h;
}

at::Tensor siglip_encode(const SiglipW& w, const VisionConfig& cfg, const at::Tensor& pixels,
                         const LayerHook& after_layer) {
  if (static_cast<int64_t>(w.layers.size()) != cfg.layers_used)
    throw std::invalid_argument("SigLIP: " + std::to_string(w.layers.size()) +
                                " layers bound, config uses " + std::to_string(cfg.layers_used));
  at::Tensor x = siglip_embed(w, cfg, pixels);
  for (const auto& l : w.layers) {
    x = siglip_layer(l, cfg, x, w.kernels);
    if (after_layer) after_layer();
  }
  return x.to(w.patch_weight.scalar_type());
}

at::Tensor project(const ProjectorW& w, const at::Tensor& x) {
  return linear(at::gelu(linear(x, w.fc1)), w.fc2);
}

at::Tensor encode_view(const SiglipW& w, const VisionConfig& cfg, const RgbImage& img, int64_t side,
                       const LayerHook& after_layer) {
  const RgbImage resized = resize_bicubic(img, side, side);
  return siglip_encode(w, cfg, to_pixel_tensor(resized), after_layer)[0];
}

at::Tensor encode_view(const Model& m, const RgbImage& img, int64_t side,
                       const LayerHook& after_layer) {
  return encode_view(m.vision, m.config.vision, img, side, after_layer);
}

}  // namespace shirg::vision
