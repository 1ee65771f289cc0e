#include "engine/vision/layouts.h"

#include <ATen/ATen.h>

#include <stdexcept>
#include <vector>

#include "engine/vision/anyres.h"
#include "engine/vision/siglip.h"

namespace shirg::vision {
namespace {

LayoutTokens single_view(const Model& m, const RgbImage& img, int64_t side,
                         const LayerHook& after_layer) {
  LayoutTokens out;
  out.tokens = project(m.projector_base,
                       encode_view(m.vision_base, m.config.vision, img, side, after_layer));
  out.views = 1;
  return out;
}

// LaViDa's pooling of projected views [V, g*g, D] (any float dtype): bilinear to ceil(g/2) per
// side (align_corners false, no antialias), in fp32 -> [V, D, p, p].
at::Tensor pool_views(const at::Tensor& feats, int64_t g) {
  const int64_t v = feats.size(0), d = feats.size(-1), p = (g + 1) / 2;
  return at::upsample_bilinear2d(feats.to(at::kFloat).reshape({v, g, g, d}).permute({0, 3, 1, 2}),
                                 {p, p}, /*align_corners=*/false);
}

void require_newline(const Model& m, const char* layout) {
  if (!m.image_newline.defined())
    throw std::invalid_argument(std::string("layout ") + layout +
                                " needs model.image_newline, which this checkpoint lacks");
}

}  // namespace

LayoutTokens layout_lavida384(const Model& m, const RgbImage& img, const LayerHook& after_layer) {
  require_newline(m, "lavida-384");
  const int64_t side = m.config.vision.image_size;
  const int64_t g = side / m.config.vision.patch_size;
  const at::Tensor feats =
      project(m.projector_base, encode_view(m.vision_base, m.config.vision, img, side,
                                            after_layer));  // [g*g, D]
  const int64_t d = feats.size(-1);
  const at::Tensor pooled = pool_views(feats.unsqueeze(0), g);  // [1, D, p, p]
  const int64_t p = pooled.size(2);
  const at::Tensor base = pooled[0].reshape({d, p * p}).t();  // [p*p, D] raster order
  LayoutTokens out;
  out.tokens = at::cat({base, m.image_newline.to(at::kFloat).reshape({1, d})}, 0)
                   .to(feats.scalar_type())
                   .contiguous();
  out.newline_tokens = 1;
  out.views = 1;
  return out;
}

LayoutTokens layout_lowres384(const Model& m, const RgbImage& img, const LayerHook& after_layer) {
  return single_view(m, img, m.config.vision.image_size, after_layer);
}

LayoutTokens layout_full672(const Model& m, const RgbImage& img, const LayerHook& after_layer) {
  return single_view(m, img, m.config.shirg.hires_image_size, after_layer);
}

LayoutTokens layout_lavida_hd(const Model& m, const RgbImage& img, const LayerHook& after_layer) {
  require_newline(m, "lavida-hd");
  const int64_t side = m.config.vision.image_size;
  const int64_t g = side / m.config.vision.patch_size;
  const auto& configured = m.config.mm.grid_pinpoints;
  const std::vector<Resolution> pinpoints =
      configured.empty() ? default_grid_pinpoints() : configured;
  const Resolution best = select_best_resolution(img.width, img.height, pinpoints);
  const int64_t cols = best.first / side, rows = best.second / side;

  // Views: base (plain resize of the whole image), then the tiles of the padded image, row-major.
  std::vector<at::Tensor> views;
  views.push_back(to_pixel_tensor(resize_bicubic(img, side, side)));
  for (const RgbImage& t : divide_to_tiles(resize_and_pad(img, best), side))
    views.push_back(to_pixel_tensor(t));
  const int64_t v = static_cast<int64_t>(views.size());

  const at::Tensor feats = project(m.projector_base, siglip_encode(m.vision_base, m.config.vision,
                                                                   at::cat(views, 0), after_layer));
  const auto dt = feats.scalar_type();
  const int64_t d = feats.size(-1);
  // Bilinear 2x pooling of every view's g x g grid (align_corners false, no antialias), in fp32.
  const int64_t p = (g + 1) / 2;
  const at::Tensor pooled = pool_views(feats.reshape({v, g * g, d}), g);  // [V,D,p,p]

  const at::Tensor base = pooled[0].reshape({d, p * p}).t();  // [p*p, D]
  at::Tensor grid = pooled.slice(0, 1, v)
                        .reshape({rows, cols, d, p, p})
                        .permute({2, 0, 3, 1, 4})
                        .reshape({d, rows * p, cols * p});
  const UnpadBox box = unpad_box(rows * p, cols * p, img.width, img.height);
  grid = grid.slice(1, box.row0, box.row1).slice(2, box.col0, box.col1);
  const int64_t gr = grid.size(1), gc = grid.size(2);
  const at::Tensor nl = m.image_newline.to(at::kFloat).reshape({d, 1, 1}).expand({d, gr, 1});
  grid = at::cat({grid, nl}, 2).reshape({d, gr * (gc + 1)}).t();  // [gr*(gc+1), D]

  LayoutTokens out;
  out.tokens = at::cat({base, grid}, 0).to(dt).contiguous();
  out.newline_tokens = gr;
  out.views = v;
  return out;
}

}  // namespace shirg::vision
