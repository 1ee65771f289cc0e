// shirg-eval's input: a JSONL VQA set (one example per line) and the evidence-cell mapping.
// No gRPC here (unit-tested alone). Line format (training/vqa_data.py writes it):
//   {"question": "...", "answer": "765" | ["765", ...], "image": "images/x.png",
//    "family": "boxes", "evidence_box": [x0, y0, x1, y1], ...other fields ignored}
// "family" defaults to "all"; "evidence_box" (image pixels, x1/y1 exclusive) is optional.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace shirg::clients {

// Bad input data: the message names the file / line ("eval.jsonl:3: ...").
struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Example {
  std::size_t line = 0;  // 1-based line in the JSONL file
  std::string question;
  std::vector<std::string> answers;  // at least one
  std::string family = "all";
  std::string image;  // path as written in the file, resolved against the file's folder
  std::optional<std::array<double, 4>> evidence_box;  // x0, y0, x1, y1 in image pixels
};

// Parses JSONL text; blank lines are skipped. Relative image paths are joined to base_dir.
// Throws DataError("<source>:<line>: <what>") on the first bad line, or if there is no example.
std::vector<Example> parse_examples(const std::string& text, const std::string& base_dir,
                                    const std::string& source = "input");
// Reads the file and parses it with base_dir = the file's folder (DataError if unreadable).
std::vector<Example> load_examples(const std::string& path);

// Width and height of an encoded PNG or JPEG from its header (no decoding); throws DataError
// on anything else.
std::array<int64_t, 2> image_size(const std::string& bytes);

// Raster indices (row * grid + col, ascending) of the grid x grid cells of the image that
// overlap the box with positive area, the box scaled from a width x height image onto the grid
// (the 672 view is resized from the whole image). Throws DataError when the box does not
// overlap the image or width / height / grid are not positive.
std::vector<int64_t> evidence_cells(const std::array<double, 4>& box, int64_t width, int64_t height,
                                    int64_t grid);

// The share of cells that are among kept (kept need not be sorted); throws
// std::invalid_argument when cells is empty.
double evidence_recall(const std::vector<int64_t>& cells, const std::vector<int64_t>& kept);

// The share of cells among the k best-scored cells of the grid (scores in raster order, higher
// first, ties to the lower index): whether the scoring ranks the evidence high, independent of
// merging. Throws std::invalid_argument when cells is empty or a cell is outside scores.
double score_recall(const std::vector<int64_t>& cells, const std::vector<float>& scores, int64_t k);

}  // namespace shirg::clients
