// SHIRG selector properties on structured random features, for every mode.
#include "tests/common/catch_torch.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "shirg/feature_terms.h"
#include "shirg/selector.h"

using namespace shirg;
using namespace shirg::select;

namespace {

constexpr int64_t kGrid = 48;

// Smooth random field (bilinear upsampling of a 6x6 grid) + small noise + a busy 10x10 patch:
// gives merges in smooth areas and contrast in the patch. [G*G, dv] in `dtype`.
at::Tensor structured_features(int64_t dv, uint64_t seed, at::ScalarType dtype = at::kFloat) {
  at::manual_seed(seed);
  at::Tensor base = at::upsample_bilinear2d(at::randn({1, dv, 6, 6}), {kGrid, kGrid}, false);
  at::Tensor f = base[0].permute({1, 2, 0}).contiguous();  // [G, G, dv]
  f += 0.02 * at::randn({kGrid, kGrid, dv});
  f.slice(0, 30, 40).slice(1, 5, 15) += 2.0 * at::randn({10, 10, dv});
  return f.reshape({kGrid * kGrid, dv}).to(dtype);
}

SelectorParams params_of(SelectionMode mode, int64_t k = 1152) {
  SelectionOptions o;
  o.mode = mode;
  o.k = k;
  return params_for(o, 7);
}

// Every structural property of a selection; returns nothing, REQUIREs instead.
void check_selection(const Selection& s, const at::Tensor& feats, const SelectorParams& p,
                     int64_t expected_k) {
  const int64_t grid = kGrid, dv = feats.size(1);
  const int64_t scaffold = p.scaffold ? 64 : 0;
  REQUIRE(s.scaffold_tokens == scaffold);
  REQUIRE(s.hi_detail_tokens == expected_k);
  REQUIRE(s.k == expected_k);
  REQUIRE(s.tokens.sizes() == at::IntArrayRef({scaffold + expected_k, dv}));
  REQUIRE(s.tokens.scalar_type() == feats.scalar_type());
  REQUIRE(s.coords.sizes() == at::IntArrayRef({scaffold + expected_k, 4}));
  REQUIRE(s.coords.scalar_type() == at::kFloat);
  REQUIRE(s.scores.sizes() == at::IntArrayRef({grid * grid}));
  REQUIRE(static_cast<int64_t>(s.token_cells.size()) == expected_k);

  // No duplicates, raster order, kept_indices = union of token cells.
  std::set<int64_t> seen;
  int64_t prev_first = -1, merged = 0;
  for (const auto& cells : s.token_cells) {
    REQUIRE((cells.size() == 1 || cells.size() == 2 || cells.size() == 4));
    REQUIRE(std::is_sorted(cells.begin(), cells.end()));
    REQUIRE(cells.front() > prev_first);
    prev_first = cells.front();
    merged += cells.size() > 1;
    for (int64_t c : cells) {
      REQUIRE(c >= 0);
      REQUIRE(c < grid * grid);
      REQUIRE(seen.insert(c).second);
    }
  }
  REQUIRE(merged == s.merged_groups);
  REQUIRE(s.kept_indices == std::vector<int64_t>(seen.begin(), seen.end()));
  if (!p.merge) REQUIRE(merged == 0);

  // Coordinates: in [0,1], boxes inside the image, merged boxes = union of cells, area conserved.
  const at::Tensor co = s.coords.cpu();
  const auto c = co.accessor<float, 2>();
  REQUIRE(co.min().item<float>() >= 0.0f);
  REQUIRE(co.max().item<float>() <= 1.0f);
  double kept_area = 0;
  for (int64_t t = 0; t < expected_k; ++t) {
    const int64_t row = scaffold + t;
    const auto& cells = s.token_cells[static_cast<size_t>(t)];
    int64_t r0 = grid, r1 = 0, c0 = grid, c1 = 0;
    for (int64_t cell : cells) {
      r0 = std::min(r0, cell / grid), r1 = std::max(r1, cell / grid + 1);
      c0 = std::min(c0, cell % grid), c1 = std::max(c1, cell % grid + 1);
    }
    REQUIRE((r1 - r0) * (c1 - c0) == static_cast<int64_t>(cells.size()));  // a full rectangle
    REQUIRE(c[row][0] == Approx((c0 + c1) / (2.0 * grid)));
    REQUIRE(c[row][1] == Approx((r0 + r1) / (2.0 * grid)));
    REQUIRE(c[row][2] * c[row][3] * grid * grid == Approx(static_cast<double>(cells.size())));
    REQUIRE(c[row][0] - c[row][2] / 2 >= -1e-6);
    REQUIRE(c[row][0] + c[row][2] / 2 <= 1 + 1e-6);
    REQUIRE(c[row][1] - c[row][3] / 2 >= -1e-6);
    REQUIRE(c[row][1] + c[row][3] / 2 <= 1 + 1e-6);
    kept_area += c[row][2] * c[row][3];
  }
  REQUIRE(kept_area * grid * grid == Approx(static_cast<double>(s.kept_indices.size())));

  // Token values: singles are the feature rows exactly; merged tokens the mean of their cells.
  const at::Tensor f32 = feats.to(at::kFloat);
  for (int64_t t = 0; t < expected_k; t += 7) {
    const auto& cells = s.token_cells[static_cast<size_t>(t)];
    const at::Tensor tok = s.tokens[scaffold + t];
    if (cells.size() == 1) {
      REQUIRE(at::equal(tok, feats[cells[0]]));
    } else {
      const at::Tensor mean =
          f32.index_select(0, at::tensor(cells, at::kLong)).mean(0).to(feats.scalar_type());
      REQUIRE(at::allclose(tok.to(at::kFloat), mean.to(at::kFloat), 1e-2, 1e-3));
    }
  }
  // Scaffold: 6x6 block means in raster order over the 8x8 grid; boxes of side 1/8.
  if (p.scaffold) {
    const at::Tensor pooled =
        f32.view({8, 6, 8, 6, dv}).mean({1, 3}).reshape({64, dv}).to(feats.scalar_type());
    REQUIRE(
        at::allclose(s.tokens.slice(0, 0, 64).to(at::kFloat), pooled.to(at::kFloat), 1e-2, 1e-3));
    REQUIRE(c[9][0] == Approx(1.5 / 8));
    REQUIRE(c[9][1] == Approx(1.5 / 8));
    REQUIRE(c[9][2] == Approx(1.0 / 8));
    REQUIRE(c[9][3] == Approx(1.0 / 8));
  }
}

}  // namespace

TEST_CASE("every SHIRG mode satisfies the selection properties") {
  const at::Tensor feats = structured_features(96, 1);
  for (SelectionMode mode :
       {SelectionMode::kShirg, SelectionMode::kNoScaffold, SelectionMode::kNoCoords,
        SelectionMode::kSimilarityOnly, SelectionMode::kNoMerge, SelectionMode::kRandomK}) {
    for (int64_t k : {1152, 300, 2304}) {
      INFO("mode " << selection_mode_name(mode) << " k " << k);
      const SelectorParams p = params_of(mode, k);
      const Selection s = select_tokens(SelectionInput{feats, kGrid, {}, {}}, p);
      check_selection(s, feats, p, k);
      // Same input, same selection.
      const Selection again = select_tokens(SelectionInput{feats, kGrid, {}, {}}, p);
      REQUIRE(again.kept_indices == s.kept_indices);
      REQUIRE(again.token_cells == s.token_cells);
      REQUIRE(at::equal(again.tokens, s.tokens));
      REQUIRE(at::equal(again.coords, s.coords));
      REQUIRE(at::equal(again.scores, s.scores));
    }
  }
}

TEST_CASE("bf16 features keep their dtype and the selection properties") {
  const at::Tensor feats = structured_features(64, 2, at::kBFloat16);
  const SelectorParams p = params_of(SelectionMode::kShirg);
  const Selection s = select_tokens(SelectionInput{feats, kGrid, {}, {}}, p);
  check_selection(s, feats, p, 1152);
}

TEST_CASE("merging happens on smooth features and is switched off by no-merge") {
  const at::Tensor feats = structured_features(64, 3);
  const Selection merged =
      select_tokens(SelectionInput{feats, kGrid, {}, {}}, params_of(SelectionMode::kShirg));
  const Selection plain =
      select_tokens(SelectionInput{feats, kGrid, {}, {}}, params_of(SelectionMode::kNoMerge));
  CHECK(merged.merged_groups > 0);
  CHECK(merged.kept_indices.size() > 1152u);  // merged tokens cover more cells per token
  CHECK(plain.merged_groups == 0);
  CHECK(plain.kept_indices.size() == 1152u);
  // The scores do not depend on merging.
  CHECK(at::equal(merged.scores, plain.scores));
}

TEST_CASE("score terms are normalised and combined with the configured weights") {
  const at::Tensor feats = structured_features(64, 4);
  const Selection s =
      select_tokens(SelectionInput{feats, kGrid, {}, {}}, params_of(SelectionMode::kShirg));
  for (const at::Tensor& t : {s.sim_term, s.neighbor_term, s.center_term}) {
    CHECK(t.min().item<float>() >= 0.0f);
    CHECK(t.max().item<float>() <= 1.0f);
  }
  CHECK(s.sim_term.max().item<float>() == 1.0f);
  CHECK(s.neighbor_term.max().item<float>() == 1.0f);
  CHECK(at::allclose(s.scores, 0.7 * s.sim_term - 0.2 * s.neighbor_term - 0.1 * s.center_term, 0,
                     1e-6));
  const Selection so = select_tokens(SelectionInput{feats, kGrid, {}, {}},
                                     params_of(SelectionMode::kSimilarityOnly));
  CHECK(at::allclose(so.scores, 0.7 * so.sim_term, 0, 1e-6));
  SelectorParams custom = params_of(SelectionMode::kShirg);
  custom.weights = ScoreWeights{1.0, 0.5, 0.0};
  const Selection cw = select_tokens(SelectionInput{feats, kGrid, {}, {}}, custom);
  CHECK(at::allclose(cw.scores, cw.sim_term - 0.5 * cw.neighbor_term, 0, 1e-6));
}

TEST_CASE("adaptive K stays within its bounds and grows with image complexity") {
  SelectionOptions o;
  o.adaptive_k = true;
  o.k_min = 400;
  o.k_max = 1600;
  const SelectorParams p = params_for(o, 0);
  // Flat image (one feature vector everywhere): no detail -> k_min, and still exactly K tokens.
  const at::Tensor flat = at::randn({1, 64}).expand({kGrid * kGrid, 64}).contiguous();
  const Selection sf = select_tokens(SelectionInput{flat, kGrid, {}, {}}, p);
  CHECK(sf.complexity == 0.0);
  check_selection(sf, flat, p, 400);
  CHECK(sf.merged_groups > 0);
  // Smooth image with one busy patch vs. a fully busy image.
  const at::Tensor some = structured_features(64, 5);
  at::manual_seed(6);
  const at::Tensor busy = at::randn({kGrid * kGrid, 64});
  const Selection ss = select_tokens(SelectionInput{some, kGrid, {}, {}}, p);
  const Selection sb = select_tokens(SelectionInput{busy, kGrid, {}, {}}, p);
  check_selection(ss, some, p, ss.k);
  check_selection(sb, busy, p, sb.k);
  CHECK(ss.k >= 400);
  CHECK(sb.k <= 1600);
  CHECK(ss.k < sb.k);
  CHECK(sf.k < ss.k);
}

TEST_CASE("a flat image still yields exactly K tokens (budget repair after merging)") {
  const at::Tensor flat = at::ones({kGrid * kGrid, 32});
  const SelectorParams p = params_of(SelectionMode::kShirg, 1152);
  const Selection s = select_tokens(SelectionInput{flat, kGrid, {}, {}}, p);
  check_selection(s, flat, p, 1152);
  CHECK(s.merged_groups > 0);
  CHECK(s.kept_indices.size() > 1152u);
}

TEST_CASE("query-agnostic selection ignores the question, query-aware depends on it") {
  const at::Tensor feats = structured_features(64, 8);
  at::manual_seed(9);
  const at::Tensor projected = at::randn({kGrid * kGrid, 48});
  const at::Tensor q1 = at::randn({5, 48}), q2 = at::randn({3, 48});
  SelectorParams agn = params_of(SelectionMode::kShirg);
  const Selection a1 = select_tokens(SelectionInput{feats, kGrid, projected, q1}, agn);
  const Selection a2 = select_tokens(SelectionInput{feats, kGrid, projected, q2}, agn);
  const Selection a0 = select_tokens(SelectionInput{feats, kGrid, {}, {}}, agn);
  CHECK(a1.kept_indices == a2.kept_indices);
  CHECK(a1.kept_indices == a0.kept_indices);
  CHECK(at::equal(a1.scores, a2.scores));

  SelectorParams qa = agn;
  qa.query_aware = true;
  const Selection b1 = select_tokens(SelectionInput{feats, kGrid, projected, q1}, qa);
  const Selection b2 = select_tokens(SelectionInput{feats, kGrid, projected, q2}, qa);
  check_selection(b1, feats, qa, 1152);
  CHECK(b1.kept_indices != b2.kept_indices);
  CHECK_FALSE(at::equal(b1.scores, b2.scores));
  // Sim = max over question tokens of the cosine, normalised: the best-matching token is 1.
  const at::Tensor cos =
      at::matmul(projected / projected.norm(2, 1, true), (q1 / q1.norm(2, 1, true)).t());
  const int64_t best = std::get<0>(cos.max(1)).argmax().item<int64_t>();
  CHECK(b1.sim_term[best].item<float>() == 1.0f);
  // A projected token equal to a question token is maximally similar.
  at::Tensor proj2 = projected.clone();
  proj2[100] = q2[1] * 3.0;
  const Selection b3 = select_tokens(SelectionInput{feats, kGrid, proj2, q2}, qa);
  CHECK(b3.sim_term[100].item<float>() == 1.0f);
  // bf16 projected / query work too.
  const Selection b4 = select_tokens(
      SelectionInput{feats, kGrid, projected.to(at::kBFloat16), q1.to(at::kBFloat16)}, qa);
  check_selection(b4, feats, qa, 1152);
}

TEST_CASE("bad input gives clear errors") {
  const at::Tensor feats = structured_features(16, 10);
  const SelectorParams p = params_of(SelectionMode::kShirg);
  CHECK_THROWS_WITH(select_tokens(SelectionInput{at::Tensor(), kGrid, {}, {}}, p),
                    Catch::Matchers::ContainsSubstring("undefined"));
  CHECK_THROWS_WITH(select_tokens(SelectionInput{feats.slice(0, 0, 2000), kGrid, {}, {}}, p),
                    Catch::Matchers::ContainsSubstring("[2304, Dv]"));
  CHECK_THROWS_WITH(select_tokens(SelectionInput{feats, 47, {}, {}}, p),
                    Catch::Matchers::ContainsSubstring("[2209, Dv]"));
  CHECK_THROWS_WITH(select_tokens(SelectionInput{feats.to(at::kInt), kGrid, {}, {}}, p),
                    Catch::Matchers::ContainsSubstring("float dtype"));
  CHECK_THROWS_WITH(select_tokens(SelectionInput{feats.view({kGrid, kGrid, 16}), kGrid, {}, {}}, p),
                    Catch::Matchers::ContainsSubstring("[2304, Dv]"));
  CHECK_THROWS_WITH(select_tokens(SelectionInput{at::zeros({16, 4}), 4, {}, {}}, p),
                    Catch::Matchers::ContainsSubstring("grid >= 8"));
  at::Tensor nan = feats.clone();
  nan[5][3] = NAN;
  CHECK_THROWS_WITH(select_tokens(SelectionInput{nan, kGrid, {}, {}}, p),
                    Catch::Matchers::ContainsSubstring("not finite"));
  SelectorParams qa = p;
  qa.query_aware = true;
  CHECK_THROWS_WITH(select_tokens(SelectionInput{feats, kGrid, {}, {}}, qa),
                    Catch::Matchers::ContainsSubstring("query-aware"));
  CHECK_THROWS_WITH(
      select_tokens(SelectionInput{feats, kGrid, at::zeros({2304, 8}), at::zeros({3, 9})}, qa),
      Catch::Matchers::ContainsSubstring("query_embeds"));
  SelectorParams badk = p;
  badk.k = -3;
  CHECK_THROWS_WITH(select_tokens(SelectionInput{feats, kGrid, {}, {}}, badk),
                    Catch::Matchers::ContainsSubstring("k must be >= 1"));
  // Grids without a scaffold may be small; K larger than the grid keeps every cell.
  SelectorParams small = params_of(SelectionMode::kNoScaffold, 100);
  const Selection s = select_tokens(SelectionInput{at::randn({16, 4}), 4, {}, {}}, small);
  CHECK(s.hi_detail_tokens == 16);
  CHECK(s.kept_indices.size() == 16u);
}

TEST_CASE("scaffold on a grid not divisible by 8 equals adaptive average pooling") {
  const int64_t g = 12, dv = 5;
  at::manual_seed(12);
  const at::Tensor feats = at::randn({g * g, dv});
  SelectorParams p;
  p.k = 40;
  const Selection s = select_tokens(SelectionInput{feats, g, {}, {}}, p);
  REQUIRE(s.scaffold_tokens == 64);
  REQUIRE(s.hi_detail_tokens == 40);
  const at::Tensor ref =
      at::adaptive_avg_pool2d(feats.t().reshape({1, dv, g, g}), {8, 8}).reshape({dv, 64}).t();
  CHECK(at::allclose(s.tokens.slice(0, 0, 64), ref, 1e-5, 1e-6));
  // Window (1, 2): rows [1, 3), columns [3, 5) -> centre (4/12, 2/12), size (2/12, 2/12).
  const ScaffoldWindow w = scaffold_window(g, 1, 2);
  CHECK(w.r0 == 1);
  CHECK(w.r1 == 3);
  CHECK(w.c0 == 3);
  CHECK(w.c1 == 5);
  CHECK(s.coords[10][0].item<float>() == Approx(4.0 / 12));
  CHECK(s.coords[10][1].item<float>() == Approx(2.0 / 12));
  CHECK(s.coords[10][2].item<float>() == Approx(2.0 / 12));
}

TEST_CASE("raw feature terms match a brute-force reference (standardised distances)") {
  for (int64_t g : {2, 5, 48}) {
    const int64_t dv = 7, n = g * g;
    at::manual_seed(g);
    const at::Tensor f = at::randn({n, dv}, at::kDouble) * at::linspace(0.1, 10, dv, at::kDouble);
    at::Tensor work = f.to(at::kFloat).contiguous();
    const RawFeatureTerms t = raw_feature_terms(work, g);
    const at::Tensor mean = f.mean(0), var = f.var(0, false);
    const double energy = (var + mean * mean).mean().item<double>();
    const at::Tensor z = (f - mean) / (var + 1e-6 * energy).sqrt();
    for (int64_t i = 0; i < n; ++i) {
      REQUIRE(t.saliency[static_cast<size_t>(i)] ==
              Approx(z[i].norm().item<double>() / std::sqrt(7.0)).epsilon(1e-4));
      const int64_t r = i / g, c = i % g;
      double sum = 0;
      int count = 0;
      for (int64_t dr = -1; dr <= 1; ++dr)
        for (int64_t dc = -1; dc <= 1; ++dc) {
          const int64_t rr = r + dr, cc = c + dc;
          if ((dr == 0 && dc == 0) || rr < 0 || cc < 0 || rr >= g || cc >= g) continue;
          sum += (z[i] - z[rr * g + cc]).norm().item<double>();
          ++count;
        }
      REQUIRE(t.neighbor[static_cast<size_t>(i)] ==
              Approx(sum / count / std::sqrt(7.0)).epsilon(1e-4));
    }
  }
}
