#include "shirg/token_groups.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

namespace shirg::select {
namespace {

float mean_score(const std::vector<float>& s, int64_t grid, const TokenGroup& g) {
  double sum = 0;
  for (int64_t r = g.row; r < g.row + g.rows; ++r)
    for (int64_t c = g.col; c < g.col + g.cols; ++c) sum += s[static_cast<size_t>(r * grid + c)];
  return static_cast<float>(sum / static_cast<double>(g.cells()));
}

void sort_raster(std::vector<TokenGroup>& groups, int64_t grid) {
  std::sort(groups.begin(), groups.end(),
            [grid](const TokenGroup& a, const TokenGroup& b) { return a.rep(grid) < b.rep(grid); });
}

// True when group a ranks before group b in top-K order.
bool ranks_before(const TokenGroup& a, const TokenGroup& b, int64_t grid) {
  if (a.score != b.score) return a.score > b.score;
  return a.rep(grid) < b.rep(grid);
}

}  // namespace

std::vector<TokenGroup> merge_groups(const std::vector<float>& scores, int64_t grid, bool merge,
                                     double epsilon) {
  if (grid < 1 || static_cast<int64_t>(scores.size()) != grid * grid)
    throw std::invalid_argument("SHIRG merge: scores must hold grid*grid values");
  std::vector<TokenGroup> out;
  out.reserve(scores.size());
  auto s = [&](int64_t r, int64_t c) { return scores[static_cast<size_t>(r * grid + c)]; };
  auto close = [&](float a, float b) { return std::fabs(static_cast<double>(a) - b) < epsilon; };
  auto add = [&](int64_t r, int64_t c, int64_t rows, int64_t cols) {
    TokenGroup g{r, c, rows, cols, 0};
    g.score = mean_score(scores, grid, g);
    out.push_back(g);
  };
  if (!merge) {
    for (int64_t r = 0; r < grid; ++r)
      for (int64_t c = 0; c < grid; ++c) add(r, c, 1, 1);
    return out;
  }
  for (int64_t r0 = 0; r0 < grid; r0 += 2) {
    for (int64_t c0 = 0; c0 < grid; c0 += 2) {
      const bool has_r1 = r0 + 1 < grid, has_c1 = c0 + 1 < grid;
      if (has_r1 && has_c1) {
        const float v[4] = {s(r0, c0), s(r0, c0 + 1), s(r0 + 1, c0), s(r0 + 1, c0 + 1)};
        const auto [mn, mx] = std::minmax_element(v, v + 4);
        if (static_cast<double>(*mx) - *mn < epsilon) {
          add(r0, c0, 2, 2);
          continue;
        }
      }
      // Cells of the block: 0 = (r0,c0), 1 = (r0,c0+1), 2 = (r0+1,c0), 3 = (r0+1,c0+1).
      bool used[4] = {false, !has_c1, !has_r1, !(has_r1 && has_c1)};
      if (has_c1 && close(s(r0, c0), s(r0, c0 + 1))) {  // top row pair
        add(r0, c0, 1, 2);
        used[0] = used[1] = true;
      }
      if (has_r1 && has_c1 && close(s(r0 + 1, c0), s(r0 + 1, c0 + 1))) {  // bottom row pair
        add(r0 + 1, c0, 1, 2);
        used[2] = used[3] = true;
      }
      if (has_r1 && !used[0] && !used[2] && close(s(r0, c0), s(r0 + 1, c0))) {  // left column
        add(r0, c0, 2, 1);
        used[0] = used[2] = true;
      }
      if (has_r1 && has_c1 && !used[1] && !used[3] && close(s(r0, c0 + 1), s(r0 + 1, c0 + 1))) {
        add(r0, c0 + 1, 2, 1);  // right column
        used[1] = used[3] = true;
      }
      const int64_t dr[4] = {0, 0, 1, 1}, dc[4] = {0, 1, 0, 1};
      for (int i = 0; i < 4; ++i)
        if (!used[i]) add(r0 + dr[i], c0 + dc[i], 1, 1);
    }
  }
  sort_raster(out, grid);
  return out;
}

std::vector<TokenGroup> split_to_budget(std::vector<TokenGroup> groups,
                                        const std::vector<float>& scores, int64_t grid, int64_t k) {
  k = std::min(k, grid * grid);
  if (static_cast<int64_t>(groups.size()) >= k) return groups;
  // Multi-cell groups in top-K order; split from the front until the budget is reachable.
  std::vector<size_t> multi;
  for (size_t i = 0; i < groups.size(); ++i)
    if (groups[i].cells() > 1) multi.push_back(i);
  std::sort(multi.begin(), multi.end(),
            [&](size_t a, size_t b) { return ranks_before(groups[a], groups[b], grid); });
  std::vector<TokenGroup> added;
  std::vector<bool> removed(groups.size(), false);
  int64_t count = static_cast<int64_t>(groups.size());
  for (size_t i = 0; i < multi.size() && count < k; ++i) {
    const TokenGroup g = groups[multi[i]];
    removed[multi[i]] = true;
    count += g.cells() - 1;
    for (int64_t r = g.row; r < g.row + g.rows; ++r)
      for (int64_t c = g.col; c < g.col + g.cols; ++c) {
        // A split cell competes with its own score (not the group mean).
        added.push_back(TokenGroup{r, c, 1, 1, scores[static_cast<size_t>(r * grid + c)]});
      }
  }
  std::vector<TokenGroup> out;
  out.reserve(static_cast<size_t>(count));
  for (size_t i = 0; i < groups.size(); ++i)
    if (!removed[i]) out.push_back(groups[i]);
  for (TokenGroup& g : added) out.push_back(g);
  sort_raster(out, grid);
  return out;
}

std::vector<TokenGroup> top_k_groups(const std::vector<TokenGroup>& groups, int64_t grid,
                                     int64_t k) {
  k = std::clamp<int64_t>(k, 0, static_cast<int64_t>(groups.size()));
  std::vector<TokenGroup> ranked(groups);
  std::partial_sort(
      ranked.begin(), ranked.begin() + k, ranked.end(),
      [grid](const TokenGroup& a, const TokenGroup& b) { return ranks_before(a, b, grid); });
  ranked.resize(static_cast<size_t>(k));
  sort_raster(ranked, grid);
  return ranked;
}

std::vector<TokenGroup> random_groups(const std::vector<float>& scores, int64_t grid, int64_t k,
                                      uint64_t seed) {
  const int64_t n = grid * grid;
  if (static_cast<int64_t>(scores.size()) != n)
    throw std::invalid_argument("SHIRG random-K: scores must hold grid*grid values");
  k = std::clamp<int64_t>(k, 0, n);
  std::vector<int64_t> cells(static_cast<size_t>(n));
  std::iota(cells.begin(), cells.end(), 0);
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < k; ++i) {
    // rng() % m: the modulo bias for m <= a few thousand is below 1e-15; portable, unlike
    // std::uniform_int_distribution whose algorithm differs between standard libraries.
    const int64_t j = i + static_cast<int64_t>(rng() % static_cast<uint64_t>(n - i));
    std::swap(cells[static_cast<size_t>(i)], cells[static_cast<size_t>(j)]);
  }
  cells.resize(static_cast<size_t>(k));
  std::sort(cells.begin(), cells.end());
  std::vector<TokenGroup> out;
  out.reserve(cells.size());
  for (int64_t cell : cells)
    out.push_back(TokenGroup{cell / grid, cell % grid, 1, 1, scores[static_cast<size_t>(cell)]});
  return out;
}

}  // namespace shirg::select
