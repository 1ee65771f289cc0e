// SHIRG plain-C++ core: parameters per mode, score normalisation, merging, budget, top-K.
#include "tests/common/catch.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "shirg/score_math.h"
#include "shirg/select_params.h"
#include "shirg/token_groups.h"

using namespace shirg;
using namespace shirg::select;

namespace {

// Every cell of the grid is covered by exactly one group, groups are in raster order and are
// rectangles of at most 2x2 inside the grid.
void check_partition(const std::vector<TokenGroup>& groups, int64_t grid) {
  std::vector<int> covered(static_cast<size_t>(grid * grid), 0);
  int64_t prev = -1;
  for (const TokenGroup& g : groups) {
    REQUIRE(g.rows >= 1);
    REQUIRE(g.rows <= 2);
    REQUIRE(g.cols >= 1);
    REQUIRE(g.cols <= 2);
    REQUIRE(g.row + g.rows <= grid);
    REQUIRE(g.col + g.cols <= grid);
    REQUIRE(g.rep(grid) > prev);
    prev = g.rep(grid);
    for (int64_t r = g.row; r < g.row + g.rows; ++r)
      for (int64_t c = g.col; c < g.col + g.cols; ++c) ++covered[static_cast<size_t>(r * grid + c)];
  }
  for (int v : covered) REQUIRE(v == 1);
}

}  // namespace

TEST_CASE("params_for maps every SHIRG mode and rejects the non-selecting ones") {
  SelectionOptions o;
  o.k = 700;
  o.mode = SelectionMode::kShirg;
  SelectorParams p = params_for(o, 9);
  CHECK(p.k == 700);
  CHECK(p.scaffold);
  CHECK(p.merge);
  CHECK(p.distance_terms);
  CHECK(p.coords);
  CHECK_FALSE(p.random_k);
  CHECK(p.seed == 9);
  o.mode = SelectionMode::kNoScaffold;
  CHECK_FALSE(params_for(o, 0).scaffold);
  o.mode = SelectionMode::kNoCoords;
  CHECK_FALSE(params_for(o, 0).coords);
  CHECK(params_for(o, 0).scaffold);
  o.mode = SelectionMode::kSimilarityOnly;
  CHECK_FALSE(params_for(o, 0).distance_terms);
  o.mode = SelectionMode::kNoMerge;
  CHECK_FALSE(params_for(o, 0).merge);
  o.mode = SelectionMode::kRandomK;
  CHECK(params_for(o, 0).random_k);
  CHECK_FALSE(params_for(o, 0).merge);
  for (SelectionMode m : {SelectionMode::kBaseline384, SelectionMode::kLavida384,
                          SelectionMode::kLavidaHd, SelectionMode::kFull672}) {
    o.mode = m;
    CHECK_THROWS_AS(params_for(o, 0), std::invalid_argument);
  }
  o.mode = SelectionMode::kShirg;
  o.k = 0;
  CHECK_THROWS_WITH(params_for(o, 0), Catch::Matchers::ContainsSubstring("k must be >= 1"));
  o.adaptive_k = true;
  o.k_min = 800;
  o.k_max = 700;
  CHECK_THROWS_WITH(params_for(o, 0), Catch::Matchers::ContainsSubstring("k_max"));
  SelectorParams bad;
  bad.weights.sim = NAN;
  CHECK_THROWS_AS(validate(bad), std::invalid_argument);
  bad = SelectorParams{};
  bad.epsilon = -1;
  CHECK_THROWS_AS(validate(bad), std::invalid_argument);
}

TEST_CASE("percentile normalisation maps to [0,1], clips outliers and zeroes flat terms") {
  std::vector<float> raw(200);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<float>(i);
  raw[7] = 1e6f;  // one outlier must not squash the others
  const std::vector<float> n = percentile_unit_range(raw, 1e-3, "t");
  for (float v : n) {
    REQUIRE(v >= 0.0f);
    REQUIRE(v <= 1.0f);
  }
  CHECK(n[7] == 1.0f);
  CHECK(n[100] == Approx(0.5).margin(0.02));  // the median stays mid-range
  CHECK(n[0] == 0.0f);
  const std::vector<float> flat = percentile_unit_range(std::vector<float>(50, 3.0f), 1e-3, "t");
  for (float v : flat) CHECK(v == 0.0f);
  std::vector<float> with_nan(10, 1.0f);
  with_nan[3] = NAN;
  CHECK_THROWS_WITH(percentile_unit_range(with_nan, 1e-3, "saliency"),
                    Catch::Matchers::ContainsSubstring("saliency"));
}

TEST_CASE("D_center is 0 at the centre, below 1 at the corners, symmetric") {
  const std::vector<float> c = center_distance(48);
  REQUIRE(c.size() == 48u * 48u);
  const float corner = c[0];
  CHECK(corner == Approx(std::sqrt(2.0) * (0.5 - 0.5 / 48) / std::sqrt(0.5)));
  CHECK(corner < 1.0f);
  CHECK(c[47] == corner);
  CHECK(c[47 * 48] == corner);
  CHECK(c[48 * 48 - 1] == corner);
  CHECK(*std::min_element(c.begin(), c.end()) ==
        Approx(std::sqrt(2.0) * 0.5 / 48 / std::sqrt(0.5)));
  CHECK(*std::max_element(c.begin(), c.end()) == corner);
}

TEST_CASE("scores combine the weights, similarity-only drops the distance terms") {
  const std::vector<float> sim = {1, 0, 0.5f}, nb = {0, 1, 0.5f}, ct = {0, 0, 1};
  const std::vector<float> s = combine_scores(sim, nb, ct, ScoreWeights{}, true);
  CHECK(s[0] == Approx(0.7));
  CHECK(s[1] == Approx(-0.2));
  CHECK(s[2] == Approx(0.35 - 0.1 - 0.1));
  const std::vector<float> so = combine_scores(sim, nb, ct, ScoreWeights{}, false);
  CHECK(so[1] == Approx(0.0));
  CHECK(so[2] == Approx(0.35));
}

TEST_CASE("adaptive K follows complexity within the bounds") {
  CHECK(adaptive_k(0.0, 576, 1536) == 576);
  CHECK(adaptive_k(1.0, 576, 1536) == 1536);
  CHECK(adaptive_k(0.5, 576, 1536) == 1056);
  CHECK(adaptive_k(7.0, 576, 1536) == 1536);
  const std::vector<float> term = {0.0f, 0.49f, 0.5f, 0.9f};
  CHECK(image_complexity(term) == Approx(0.5));
}

TEST_CASE("merging: uniform 2x2 blocks merge, pairs when only two agree, none at epsilon 0") {
  const int64_t g = 4;
  // Block (0,0): flat -> one 2x2. Block (0,1): top row equal, bottom differs -> a pair + singles.
  // Block (1,0): left column equal -> a vertical pair. Block (1,1): all different -> 4 singles.
  std::vector<float> s = {0.1f,  0.1f, 0.5f, 0.52f,  //
                          0.1f,  0.1f, 0.0f, 0.9f,   //
                          0.3f,  0.8f, 0.0f, 0.2f,   //
                          0.32f, 0.0f, 0.4f, 0.6f};
  const auto groups = merge_groups(s, g, true, 0.05);
  check_partition(groups, g);
  auto find = [&](int64_t r, int64_t c) {
    for (const auto& gr : groups)
      if (gr.row == r && gr.col == c) return gr;
    FAIL("no group at " << r << "," << c);
    return TokenGroup{};
  };
  CHECK(find(0, 0).cells() == 4);
  CHECK(find(0, 0).score == Approx(0.1f));
  CHECK(find(0, 2).cols == 2);
  CHECK(find(0, 2).rows == 1);
  CHECK(find(0, 2).score == Approx(0.51f));
  CHECK(find(1, 2).cells() == 1);
  CHECK(find(2, 0).rows == 2);
  CHECK(find(2, 0).cols == 1);
  CHECK(find(2, 3).cells() == 1);
  CHECK(groups.size() == 1 + 3 + 3 + 4);
  // epsilon 0: the comparison is strict, nothing merges even for equal scores.
  const auto none = merge_groups(s, g, true, 0.0);
  CHECK(none.size() == 16u);
  check_partition(none, g);
  // Odd grid: the last row/column still gets partitioned.
  std::vector<float> flat5(25, 0.2f);
  const auto odd = merge_groups(flat5, 5, true, 0.05);
  check_partition(odd, 5);
  CHECK(odd.size() == 4 + 2 + 2 + 1);
}

TEST_CASE("budget repair splits the best groups until K tokens exist and top-K is exact") {
  const int64_t g = 8;
  std::vector<float> s(64);
  for (int64_t i = 0; i < 64; ++i) s[static_cast<size_t>(i)] = 0.001f * static_cast<float>(i / 16);
  const auto merged = merge_groups(s, g, true, 0.05);
  REQUIRE(merged.size() == 16u);  // every 2x2 block merges
  for (int64_t k : {1, 16, 17, 30, 40, 64}) {
    const auto repaired = split_to_budget(merged, s, g, k);
    check_partition(repaired, g);
    REQUIRE(static_cast<int64_t>(repaired.size()) >= k);
    const auto top = top_k_groups(repaired, g, k);
    REQUIRE(static_cast<int64_t>(top.size()) == k);
    for (size_t i = 1; i < top.size(); ++i) REQUIRE(top[i - 1].rep(g) < top[i].rep(g));
  }
  // Split groups come from the top of the ranking (highest score = last rows here).
  const auto r17 = split_to_budget(merged, s, g, 17);
  int64_t singles_low_rows = 0;
  for (const auto& gr : r17)
    if (gr.cells() == 1 && gr.row < 6) ++singles_low_rows;
  CHECK(singles_low_rows == 0);
}

TEST_CASE("top-K breaks ties by raster index") {
  std::vector<float> s(16, 0.5f);
  std::vector<TokenGroup> groups;
  for (int64_t i = 0; i < 16; ++i) groups.push_back(TokenGroup{i / 4, i % 4, 1, 1, 0.5f});
  groups[9].score = 0.9f;
  const auto top = top_k_groups(groups, 4, 3);
  REQUIRE(top.size() == 3u);
  CHECK(top[0].rep(4) == 0);
  CHECK(top[1].rep(4) == 1);
  CHECK(top[2].rep(4) == 9);
}

TEST_CASE("random-K draws K distinct cells, seeded and reproducible") {
  std::vector<float> s(2304, 0.0f);
  const auto a = random_groups(s, 48, 1152, 1), b = random_groups(s, 48, 1152, 1),
             c = random_groups(s, 48, 1152, 2);
  REQUIRE(a.size() == 1152u);
  std::set<int64_t> cells;
  for (size_t i = 0; i < a.size(); ++i) {
    cells.insert(a[i].rep(48));
    REQUIRE(a[i].rep(48) == b[i].rep(48));
    if (i) REQUIRE(a[i - 1].rep(48) < a[i].rep(48));
  }
  CHECK(cells.size() == 1152u);
  int64_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i].rep(48) == c[i].rep(48);
  CHECK(same < 1152);
}
