// SHIRG on a structured synthetic picture (small text in one corner of a flat background) with
// model-free features: the selection must concentrate on the text where random selection cannot.
// Writes overlay PNGs to <build>/shirg_overlays/ for people to look at.
#include "tests/common/catch_torch.h"

#include <filesystem>
#include <fstream>

#include "shirg/shirg.h"
#include "synthetic_image.h"

using namespace shirg;
using namespace shirg::select;
using namespace shirg::testing;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kGrid = 48, kDv = 1152;

struct Coverage {
  double recall;     // ink cells covered / ink cells
  double precision;  // covered cells that are ink cells / covered cells
};

Coverage coverage(const Selection& s, const std::vector<bool>& ink) {
  int64_t ink_total = 0, hit = 0;
  for (bool b : ink) ink_total += b;
  for (int64_t c : s.kept_indices) hit += ink[static_cast<size_t>(c)];
  return Coverage{static_cast<double>(hit) / static_cast<double>(ink_total),
                  static_cast<double>(hit) / static_cast<double>(s.kept_indices.size())};
}

// Fraction of the kept hi-detail tokens that cover at least one ink cell.
double token_precision(const Selection& s, const std::vector<bool>& ink) {
  int64_t on = 0;
  for (const auto& cells : s.token_cells) {
    bool any = false;
    for (int64_t cell : cells) any = any || ink[static_cast<size_t>(cell)];
    on += any;
  }
  return static_cast<double>(on) / static_cast<double>(s.token_cells.size());
}

Selection run(const at::Tensor& feats, SelectionMode mode, int64_t k, bool adaptive = false) {
  SelectionOptions o;
  o.mode = mode;
  o.k = k;
  o.adaptive_k = adaptive;
  return select_tokens(SelectionInput{feats, kGrid, {}, {}}, params_for(o, 11));
}

void write_overlay(const RgbPicture& pic, const Selection& s, const std::string& name) {
  const fs::path dir = fs::path(SHIRG_BINARY_DIR) / "shirg_overlays";
  fs::create_directories(dir);
  const std::string png = render_overlay_png(pic.rgb.data(), pic.width, pic.height, s, kGrid);
  std::ofstream(dir / (name + ".png"), std::ios::binary) << png;
  REQUIRE(fs::file_size(dir / (name + ".png")) == png.size());
}

}  // namespace

TEST_CASE("selection concentrates on the text corner, random selection does not") {
  const RgbPicture pic = text_corner_picture(1);
  const std::vector<bool> ink = ink_cells(pic);
  int64_t ink_total = 0;
  for (bool b : ink) ink_total += b;
  INFO("ink cells " << ink_total);
  REQUIRE(ink_total >= 100);
  REQUIRE(ink_total <= 160);  // ~6% of the 2304 cells
  const at::Tensor feats = random_patch_features(pic, kDv, 5);

  // Default budget (1152 = 50%): random keeps ~50% of the text; SHIRG must keep nearly all of it.
  for (SelectionMode mode : {SelectionMode::kShirg, SelectionMode::kNoScaffold,
                             SelectionMode::kSimilarityOnly, SelectionMode::kNoMerge}) {
    const Selection s = run(feats, mode, 1152);
    const Coverage c = coverage(s, ink);
    INFO("mode " << selection_mode_name(mode) << " recall " << c.recall);
    CHECK(c.recall >= 0.95);
    write_overlay(pic, s, std::string("text_corner_") + selection_mode_name(mode));
  }
  const Selection rnd = run(feats, SelectionMode::kRandomK, 1152);
  const Coverage rc = coverage(rnd, ink);
  INFO("random recall " << rc.recall);
  CHECK(rc.recall < 0.7);
  CHECK(rc.recall > 0.3);
  write_overlay(pic, rnd, "text_corner_random-k");

  // A budget of half the text's cells: (nearly) every kept token must touch the text; random
  // selection gets ~6%. (With merging, K tokens cover more than K cells, so this counts tokens.)
  const int64_t half = ink_total / 2;
  for (SelectionMode mode : {SelectionMode::kShirg, SelectionMode::kNoMerge,
                             SelectionMode::kSimilarityOnly, SelectionMode::kNoScaffold}) {
    const Selection s = run(feats, mode, half);
    const double on_text = token_precision(s, ink);
    INFO("mode " << selection_mode_name(mode) << " K " << half << " tokens on text " << on_text
                 << " merged " << s.merged_groups << " cell precision "
                 << coverage(s, ink).precision);
    CHECK(on_text >= 0.9);
    write_overlay(
        pic, s,
        std::string("text_corner_k") + std::to_string(half) + "_" + selection_mode_name(mode));
  }
  const Selection rnd_small = run(feats, SelectionMode::kRandomK, half);
  INFO("random tokens on text " << token_precision(rnd_small, ink));
  CHECK(token_precision(rnd_small, ink) < 0.3);

  // no-coords selects exactly what shirg selects (only the caller's embedding step differs).
  CHECK(run(feats, SelectionMode::kNoCoords, 1152).token_cells ==
        run(feats, SelectionMode::kShirg, 1152).token_cells);
}

TEST_CASE(
    "adaptive K: clean flat picture -> k_min, a text corner -> little more, a document -> more") {
  const RgbPicture flat_pic = flat_picture(2, false);
  const at::Tensor flat = random_patch_features(flat_pic, kDv, 5);
  const RgbPicture corner_pic = text_corner_picture(3), doc_pic = document_picture(4);
  const at::Tensor corner = random_patch_features(corner_pic, kDv, 5);
  const at::Tensor doc = random_patch_features(doc_pic, kDv, 5);
  const Selection sf = run(flat, SelectionMode::kShirg, 0, true);
  const Selection sc = run(corner, SelectionMode::kShirg, 0, true);
  const Selection sd = run(doc, SelectionMode::kShirg, 0, true);
  INFO("K flat " << sf.k << " corner " << sc.k << " doc " << sd.k << " complexity " << sf.complexity
                 << " " << sc.complexity << " " << sd.complexity);
  for (const Selection* s : {&sf, &sc, &sd}) {
    CHECK(s->k >= 576);
    CHECK(s->k <= 1536);
    CHECK(s->hi_detail_tokens == s->k);
    CHECK(s->scaffold_tokens == 64);
  }
  CHECK(sf.k == 576);
  CHECK(sf.complexity == 0.0);
  CHECK(sf.k < sc.k);
  CHECK(sc.k < sd.k);
  CHECK(sc.k < 800);
  CHECK(sd.k > 1000);
  // The adaptive corner selection still covers the text.
  CHECK(coverage(sc, ink_cells(corner_pic)).recall >= 0.95);
  write_overlay(corner_pic, sc, "adaptive_text_corner");
  write_overlay(doc_pic, sd, "adaptive_document");
  write_overlay(flat_pic, sf, "adaptive_flat");
}
