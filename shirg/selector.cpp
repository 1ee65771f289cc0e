#include "shirg/selector.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "shirg/feature_terms.h"
#include "shirg/score_math.h"
#include "shirg/token_groups.h"

namespace shirg::select {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::invalid_argument("SHIRG selection: " + what);
}

std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

void check_input(const SelectionInput& in, const SelectorParams& p) {
  validate(p);
  if (!in.features.defined()) fail("features are undefined");
  if (in.grid < 2) fail("grid must be >= 2 (got " + std::to_string(in.grid) + ")");
  if (p.scaffold && in.grid < kScaffoldSide)
    fail("the 8x8 scaffold needs grid >= 8 (got " + std::to_string(in.grid) + ")");
  if (in.features.dim() != 2 || in.features.size(0) != in.grid * in.grid || in.features.size(1) < 1)
    fail("features must be [grid*grid, Dv] = [" + std::to_string(in.grid * in.grid) +
         ", Dv], got " + shape_of(in.features));
  if (!at::isFloatingType(in.features.scalar_type())) fail("features must be a float dtype");
  if (p.query_aware) {
    if (!in.projected.defined() || !in.query_embeds.defined())
      fail("query-aware selection needs the projected tokens and the question's embeddings");
    if (in.projected.dim() != 2 || in.projected.size(0) != in.grid * in.grid)
      fail("projected must be [grid*grid, D], got " + shape_of(in.projected));
    if (in.query_embeds.dim() != 2 || in.query_embeds.size(0) < 1 ||
        in.query_embeds.size(1) != in.projected.size(1))
      fail("query_embeds must be [T >= 1, D] with the projected tokens' D, got " +
           shape_of(in.query_embeds) + " vs projected " + shape_of(in.projected));
    if (!at::isFloatingType(in.projected.scalar_type()) ||
        !at::isFloatingType(in.query_embeds.scalar_type()))
      fail("projected and query_embeds must be float dtypes");
  }
}

// Average-pooling matrix [8, grid] (fp32): row i averages cells [floor(i*G/8), ceil((i+1)*G/8)).
at::Tensor pool_matrix(int64_t grid, const at::TensorOptions& opts) {
  at::Tensor m = at::zeros({kScaffoldSide, grid}, at::kFloat);
  float* p = m.data_ptr<float>();
  for (int64_t i = 0; i < kScaffoldSide; ++i) {
    const ScaffoldWindow w = scaffold_window(grid, i, 0);
    for (int64_t r = w.r0; r < w.r1; ++r) p[i * grid + r] = 1.0f / static_cast<float>(w.r1 - w.r0);
  }
  return m.to(opts.device());
}

// [64, Dv] fp32: scaffold tokens, raster over the 8x8 windows. x: [G*G, Dv] fp32 contiguous.
at::Tensor scaffold_tokens(const at::Tensor& x, int64_t grid) {
  const int64_t dv = x.size(1);
  if (grid % kScaffoldSide == 0) {  // disjoint windows (G = 48: 6x6): two summing passes
    const int64_t w = grid / kScaffoldSide;
    return x.view({kScaffoldSide, w, grid * dv})
        .sum(1)
        .view({kScaffoldSide, kScaffoldSide, w, dv})
        .sum(2)
        .div_(static_cast<double>(w * w))
        .view({kScaffoldSide * kScaffoldSide, dv});
  }
  // Overlapping adaptive windows: pooling matrices over rows, then columns.
  const at::Tensor pm = pool_matrix(grid, x.options());
  const at::Tensor rows = at::mm(pm, x.view({grid, grid * dv})).view({kScaffoldSide, grid, dv});
  return at::matmul(pm, rows).view({kScaffoldSide * kScaffoldSide, dv});  // [8, 8, Dv]
}

at::Tensor to_tensor(const std::vector<float>& v) {
  return at::from_blob(const_cast<float*>(v.data()), {static_cast<int64_t>(v.size())}, at::kFloat)
      .clone();
}

}  // namespace

ScaffoldWindow scaffold_window(int64_t grid, int64_t i, int64_t j) {
  auto lo = [grid](int64_t a) { return a * grid / kScaffoldSide; };
  auto hi = [grid](int64_t a) { return ((a + 1) * grid + kScaffoldSide - 1) / kScaffoldSide; };
  return ScaffoldWindow{lo(i), hi(i), lo(j), hi(j)};
}

Selection select_tokens(const SelectionInput& in, const SelectorParams& p) {
  check_input(in, p);
  const int64_t grid = in.grid, n = grid * grid;
  // fp32 working copy (always a fresh tensor we own: raw_feature_terms overwrites it).
  at::Tensor work = in.features.scalar_type() == at::kFloat
                        ? in.features.contiguous().clone()
                        : in.features.to(at::kFloat).contiguous();
  const int64_t dv = work.size(1);
  const at::Tensor scaffold =
      p.scaffold ? scaffold_tokens(work, grid).to(in.features.scalar_type()) : at::Tensor();

  // 1. Score terms, each normalised to [0, 1] over the image.
  const RawFeatureTerms raw = raw_feature_terms(work, grid);
  work.reset();
  const std::vector<float> sim =
      p.query_aware ? percentile_unit_range(query_similarity(in.projected, in.query_embeds), 1e-3,
                                            "query similarity")
                    : percentile_unit_range(raw.saliency, 1e-3, "saliency");
  const std::vector<float> neighbor = percentile_unit_range(raw.neighbor, 1e-3, "D_neighbors");
  const std::vector<float> center = center_distance(grid);
  const std::vector<float> scores =
      combine_scores(sim, neighbor, center, p.weights, p.distance_terms);

  // 2. Budget, merging, top-K (plain C++ over G*G floats).
  Selection sel;
  sel.complexity = image_complexity(neighbor);
  sel.k = std::min<int64_t>(p.adaptive_k ? adaptive_k(sel.complexity, p.k_min, p.k_max) : p.k, n);
  std::vector<TokenGroup> kept;
  if (p.random_k) {
    kept = random_groups(scores, grid, sel.k, p.seed);
  } else {
    kept = top_k_groups(
        split_to_budget(merge_groups(scores, grid, p.merge, p.epsilon), scores, grid, sel.k), grid,
        sel.k);
  }

  // 3. Output tensors.
  const int64_t kk = static_cast<int64_t>(kept.size());
  std::vector<int64_t> members, member_token;
  std::vector<float> member_weight, boxes;
  sel.token_cells.reserve(kept.size());
  bool any_merged = false;
  for (int64_t t = 0; t < kk; ++t) {
    const TokenGroup& g = kept[static_cast<size_t>(t)];
    std::vector<int64_t> cells;
    for (int64_t r = g.row; r < g.row + g.rows; ++r)
      for (int64_t c = g.col; c < g.col + g.cols; ++c) {
        cells.push_back(r * grid + c);
        members.push_back(r * grid + c);
        member_token.push_back(t);
        // Area weight of the cell within its token (all cells have area 1/G^2).
        member_weight.push_back(1.0f / static_cast<float>(g.cells()));
      }
    if (g.cells() > 1) {
      any_merged = true;
      ++sel.merged_groups;
    }
    sel.kept_indices.insert(sel.kept_indices.end(), cells.begin(), cells.end());
    sel.token_cells.push_back(std::move(cells));
  }
  std::sort(sel.kept_indices.begin(), sel.kept_indices.end());

  const auto dev = in.features.device();
  const auto long_opts = at::TensorOptions().dtype(at::kLong);
  at::Tensor hi;
  if (!any_merged) {
    hi = in.features.index_select(0, at::tensor(members, long_opts).to(dev));
  } else {
    const at::Tensor gathered = in.features.index_select(0, at::tensor(members, long_opts).to(dev))
                                    .to(at::kFloat)
                                    .mul_(to_tensor(member_weight).to(dev).unsqueeze(1));
    hi = at::zeros({kk, dv}, gathered.options())
             .index_add_(0, at::tensor(member_token, long_opts).to(dev), gathered)
             .to(in.features.scalar_type());
  }

  const double gd = static_cast<double>(grid);
  auto add_box = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    boxes.push_back(static_cast<float>((c0 + c1) / (2.0 * gd)));
    boxes.push_back(static_cast<float>((r0 + r1) / (2.0 * gd)));
    boxes.push_back(static_cast<float>((c1 - c0) / gd));
    boxes.push_back(static_cast<float>((r1 - r0) / gd));
  };
  if (p.scaffold) {
    sel.scaffold_tokens = kScaffoldSide * kScaffoldSide;
    for (int64_t i = 0; i < kScaffoldSide; ++i)
      for (int64_t j = 0; j < kScaffoldSide; ++j) {
        const ScaffoldWindow w = scaffold_window(grid, i, j);
        add_box(w.r0, w.r1, w.c0, w.c1);
      }
    sel.tokens = at::cat({scaffold, hi}, 0);
  } else {
    sel.tokens = hi;
  }
  for (const TokenGroup& g : kept) add_box(g.row, g.row + g.rows, g.col, g.col + g.cols);
  sel.coords = to_tensor(boxes).view({-1, 4}).to(dev);
  sel.hi_detail_tokens = kk;
  sel.scores = to_tensor(scores);
  sel.sim_term = to_tensor(sim);
  sel.neighbor_term = to_tensor(neighbor);
  sel.center_term = to_tensor(center);
  return sel;
}

}  // namespace shirg::select
