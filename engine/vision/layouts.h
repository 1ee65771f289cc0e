#pragma once
// LaViDa's image layouts: image -> visual tokens in the language model's space. They run on the
// base weights (m.vision_base, m.projector_base), never on an adapter's: they are LaViDa.
// `after_layer` runs after every SigLIP layer (see LayerHook).
#include <ATen/core/Tensor.h>

#include <cstdint>

#include "engine/model/model.h"
#include "engine/vision/image.h"
#include "engine/vision/siglip.h"

namespace shirg::vision {

struct LayoutTokens {
  at::Tensor tokens;           // [N, D] compute dtype, after the projector
  int64_t newline_tokens = 0;  // how many of the N rows are image_newline
  int64_t views = 1;           // SigLIP views encoded
};

// One image_size (384) view, no pooling: 729 tokens.
LayoutTokens layout_lowres384(const Model& m, const RgbImage& img,
                              const LayerHook& after_layer = {});

// LaViDa's own single-view path: one image_size (384) view, SigLIP -> projector -> the same
// bilinear 2x pooling (27x27 -> 14x14 = 196) -> image_newline appended (197 tokens), as LLaVA's
// spatial_unpad merge does for an image with only its base view.
// Throws std::invalid_argument when the model has no image_newline.
LayoutTokens layout_lavida384(const Model& m, const RgbImage& img,
                              const LayerHook& after_layer = {});

// LaViDa's anyres "spatial_unpad" layout: best pinpoint (m.config.mm.grid_pinpoints, or
// default_grid_pinpoints() when empty), resize and pad, image_size tiles plus a base view;
// per view SigLIP -> projector -> bilinear pooling of the grid to ceil(g/2); the tile grid is
// reassembled, unpadded, and m.image_newline appended after every row. Sequence: base view
// (196 tokens), then the grid rows. A 768x768 image gives 196 + 28 * 29 = 1008 tokens.
// Throws std::invalid_argument when the model has no image_newline.
LayoutTokens layout_lavida_hd(const Model& m, const RgbImage& img,
                              const LayerHook& after_layer = {});

// One hi-res view (m.config.shirg.hires_image_size: 672x672), no pooling: 2304 tokens (SHIRG's
// input resolution).
LayoutTokens layout_full672(const Model& m, const RgbImage& img, const LayerHook& after_layer = {});

}  // namespace shirg::vision
