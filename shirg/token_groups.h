#pragma once
// Neighbour-aware merging, budget repair and top-K over the cells of a grid x grid raster.
// No LibTorch: plain C++ over one score per cell.
#include <cstdint>
#include <vector>

namespace shirg::select {

// A hi-detail output token: a rectangle of cells [row, row+rows) x [col, col+cols) of the grid
// (1x1, 1x2, 2x1 or 2x2). score = mean of its cells' scores.
struct TokenGroup {
  int64_t row = 0, col = 0, rows = 1, cols = 1;
  float score = 0;
  int64_t rep(int64_t grid) const { return row * grid + col; }  // top-left cell: raster key
  int64_t cells() const { return rows * cols; }
};

// Partitions the grid into groups, in raster order of their top-left cell. With merge = false
// every cell is its own group. With merge = true, per aligned 2x2 block: the block becomes one
// group when max - min of its scores < epsilon; otherwise its rows are paired when
// |difference| < epsilon, then its columns (among cells still single); the rest stay single.
// Cells of a last odd row/column pair only with each other.
std::vector<TokenGroup> merge_groups(const std::vector<float>& scores, int64_t grid, bool merge,
                                     double epsilon);

// While there are fewer than k groups, splits the highest-scoring multi-cell group (ties: lower
// top-left cell first) back into single cells, each with its own score. Returns groups in raster
// order; k is clamped to the cell count.
std::vector<TokenGroup> split_to_budget(std::vector<TokenGroup> groups,
                                        const std::vector<float>& scores, int64_t grid, int64_t k);

// The k best groups by (score descending, top-left cell ascending), returned in raster order.
std::vector<TokenGroup> top_k_groups(const std::vector<TokenGroup>& groups, int64_t grid,
                                     int64_t k);

// k distinct single cells drawn uniformly with std::mt19937_64(seed) (partial Fisher-Yates),
// returned in raster order with their scores.
std::vector<TokenGroup> random_groups(const std::vector<float>& scores, int64_t grid, int64_t k,
                                      uint64_t seed);

}  // namespace shirg::select
