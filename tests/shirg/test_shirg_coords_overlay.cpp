// SHIRG coordinate embedding (rotary features, adapter layer) and the overlay picture.
#include <spng.h>
#include "tests/common/catch_torch.h"

#include <cmath>
#include <memory>

#include "shirg/coord_embedding.h"
#include "shirg/overlay_png.h"
#include "shirg/selector.h"

using namespace shirg;
using namespace shirg::select;

namespace {

// Decodes PNG bytes to RGB8 with libspng (an independent check of our encoder).
std::vector<uint8_t> decode_png(const std::string& png, uint32_t& w, uint32_t& h) {
  std::unique_ptr<spng_ctx, void (*)(spng_ctx*)> ctx(spng_ctx_new(0), spng_ctx_free);
  REQUIRE(spng_set_png_buffer(ctx.get(), png.data(), png.size()) == 0);
  spng_ihdr ihdr{};
  REQUIRE(spng_get_ihdr(ctx.get(), &ihdr) == 0);
  w = ihdr.width;
  h = ihdr.height;
  size_t size = 0;
  REQUIRE(spng_decoded_image_size(ctx.get(), SPNG_FMT_RGB8, &size) == 0);
  std::vector<uint8_t> out(size);
  REQUIRE(spng_decode_image(ctx.get(), out.data(), size, SPNG_FMT_RGB8, 0) == 0);
  return out;
}

}  // namespace

TEST_CASE("coord_rotary_features: [N,128], documented layout and frequencies") {
  const at::Tensor coords =
      at::tensor({0.25f, 0.75f, 0.5f, 1.0f / 48, 0.0f, 1.0f, 1.0f, 0.125f}).view({2, 4});
  const at::Tensor f = coord_rotary_features(coords);
  REQUIRE(f.sizes() == at::IntArrayRef({2, 128}));
  REQUIRE(f.scalar_type() == at::kFloat);
  CHECK(coord_frequency(0) == Approx(0.5));
  CHECK(coord_frequency(15) == Approx(24.0));
  const double two_pi = 2 * 3.14159265358979323846;
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 4; ++c)
      for (int64_t k = 0; k < 16; k += 5) {
        const double v = coords[n][c].item<double>();
        const double a = two_pi * coord_frequency(k) * v;
        CHECK(f[n][32 * c + k].item<double>() == Approx(std::sin(a)).margin(1e-4));
        CHECK(f[n][32 * c + 16 + k].item<double>() == Approx(std::cos(a)).margin(1e-4));
      }
  // Distinct boxes give distinct features.
  CHECK((f[0] - f[1]).abs().max().item<float>() > 0.1f);
  CHECK_THROWS_AS(coord_rotary_features(at::zeros({3, 3})), std::invalid_argument);
}

TEST_CASE("apply_coord_embedding: no-op without an adapter, tokens + feats @ W^T with one") {
  at::manual_seed(3);
  const at::Tensor tokens = at::randn({10, 32}).to(at::kBFloat16);
  const at::Tensor coords = at::rand({10, 4});
  CoordLayerW none;
  none.weight = at::zeros({32, 128}, at::kBFloat16);
  CHECK(apply_coord_embedding(tokens, coords, none).is_same(tokens));
  CoordLayerW lay;
  lay.weight = at::randn({32, 128});
  lay.from_adapter = true;
  const at::Tensor out = apply_coord_embedding(tokens, coords, lay);
  REQUIRE(out.scalar_type() == at::kBFloat16);
  const at::Tensor expect =
      tokens.to(at::kFloat) + at::matmul(coord_rotary_features(coords), lay.weight.t());
  CHECK(at::allclose(out.to(at::kFloat), expect, 2e-2, 5e-2));
  CoordLayerW wrong = lay;
  wrong.weight = at::randn({31, 128});
  CHECK_THROWS_WITH(apply_coord_embedding(tokens, coords, wrong),
                    Catch::Matchers::ContainsSubstring("[32, 128]"));
  CHECK_THROWS_AS(apply_coord_embedding(tokens, at::rand({9, 4}), lay), std::invalid_argument);
}

TEST_CASE("coord_rotary from a merged checkpoint (no adapter) is applied too") {
  at::manual_seed(5);
  const at::Tensor tokens = at::randn({6, 32});
  const at::Tensor coords = at::rand({6, 4});
  CoordLayerW lay;
  lay.weight = at::randn({32, 128});
  CHECK(!lay.active());
  CHECK(apply_coord_embedding(tokens, coords, lay).is_same(tokens));
  lay.in_checkpoint = true;
  CHECK(lay.active());
  const at::Tensor expect = tokens + at::matmul(coord_rotary_features(coords), lay.weight.t());
  CHECK(at::allclose(apply_coord_embedding(tokens, coords, lay), expect, 1e-5, 1e-5));
}

TEST_CASE("the coordinate embedding goes to the hi-detail tokens only, not the scaffold") {
  at::manual_seed(6);
  const at::Tensor tokens = at::randn({10, 32});
  const at::Tensor coords = at::rand({10, 4});
  CoordLayerW lay;
  lay.weight = at::randn({32, 128});
  lay.from_adapter = true;
  const at::Tensor out = apply_coord_embedding_hi_detail(tokens, coords, 4, lay);
  REQUIRE(out.sizes() == tokens.sizes());
  CHECK(at::equal(out.slice(0, 0, 4), tokens.slice(0, 0, 4)));  // scaffold untouched
  const at::Tensor hi = apply_coord_embedding(tokens.slice(0, 4, 10), coords.slice(0, 4, 10), lay);
  CHECK(at::equal(out.slice(0, 4, 10), hi));
  CHECK(!at::allclose(out.slice(0, 4, 10), tokens.slice(0, 4, 10)));
  // No scaffold (the no-scaffold ablation): every row; all scaffold: none.
  CHECK(at::equal(apply_coord_embedding_hi_detail(tokens, coords, 0, lay),
                  apply_coord_embedding(tokens, coords, lay)));
  CHECK(at::equal(apply_coord_embedding_hi_detail(tokens, coords, 10, lay), tokens));
  CHECK_THROWS_AS(apply_coord_embedding_hi_detail(tokens, coords, 11, lay), std::invalid_argument);
  CHECK_THROWS_AS(apply_coord_embedding_hi_detail(tokens, coords, -1, lay), std::invalid_argument);
}

TEST_CASE("overlay keeps kept cells, dims dropped ones, draws the scaffold grid, PNG round trip") {
  const int64_t grid = 48, side = 672;
  at::manual_seed(4);
  const at::Tensor feats = at::randn({grid * grid, 16});
  SelectorParams p;
  p.k = 500;
  const Selection sel = select_tokens(SelectionInput{feats, grid, {}, {}}, p);
  std::vector<uint8_t> rgb(static_cast<size_t>(side * side * 3));
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(100 + (i * 7) % 151);
  const std::vector<uint8_t> over = render_overlay_rgb(rgb.data(), side, side, sel, grid);
  REQUIRE(over.size() == rgb.size());
  std::vector<bool> kept(grid * grid, false);
  for (int64_t c : sel.kept_indices) kept[static_cast<size_t>(c)] = true;
  // Sample the centre pixel of every cell (14x14 cells; never on a drawn line).
  int64_t checked_kept = 0, checked_dropped = 0;
  for (int64_t cell = 0; cell < grid * grid; ++cell) {
    const int64_t y = (cell / grid) * 14 + 7, x = (cell % grid) * 14 + 7;
    const size_t i = static_cast<size_t>((y * side + x) * 3);
    if (kept[static_cast<size_t>(cell)]) {
      REQUIRE(over[i] == rgb[i]);
      ++checked_kept;
    } else {
      REQUIRE(over[i] == rgb[i] * 30 / 100);
      ++checked_dropped;
    }
  }
  CHECK(checked_kept == static_cast<int64_t>(sel.kept_indices.size()));
  CHECK(checked_dropped == grid * grid - checked_kept);
  // Scaffold line: the left edge of scaffold window column 1 (pixel x = 84) is yellow.
  const size_t line = static_cast<size_t>((300 * side + 84) * 3);
  CHECK(over[line] == 255);
  CHECK(over[line + 1] == 200);
  CHECK(over[line + 2] == 0);

  const std::string png = render_overlay_png(rgb.data(), side, side, sel, grid);
  REQUIRE(png.size() > 8);
  CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  uint32_t w = 0, h = 0;
  CHECK(decode_png(png, w, h) == over);
  CHECK(w == side);
  CHECK(h == side);

  // No scaffold: no yellow grid lines.
  SelectorParams ns = p;
  ns.scaffold = false;
  const Selection nsel = select_tokens(SelectionInput{feats, grid, {}, {}}, ns);
  const std::vector<uint8_t> o2 = render_overlay_rgb(rgb.data(), side, side, nsel, grid);
  CHECK_FALSE((o2[line] == 255 && o2[line + 1] == 200 && o2[line + 2] == 0));

  // Bad input.
  CHECK_THROWS_AS(render_overlay_png(nullptr, side, side, sel, grid), std::invalid_argument);
  CHECK_THROWS_AS(render_overlay_png(rgb.data(), 0, side, sel, grid), std::invalid_argument);
  CHECK_THROWS_AS(render_overlay_png(rgb.data(), 20, 20, sel, grid), std::invalid_argument);
  Selection broken = sel;
  broken.kept_indices.push_back(grid * grid);
  CHECK_THROWS_WITH(render_overlay_png(rgb.data(), side, side, broken, grid),
                    Catch::Matchers::ContainsSubstring("outside"));
}
