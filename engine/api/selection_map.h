#pragma once
// The selection-map request (SHIRG's choice of tokens for one image, without the language model)
// and its result, in the engine API's native types.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/api/request.h"

namespace shirg {

struct SelectionMapRequest {
  std::string request_id;
  std::string image_bytes;
  std::string question;  // used when selection.query_aware
  SelectionOptions selection;
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

struct SelectionMapResult {
  int64_t grid = 48;                  // hi-detail grid side
  std::vector<int64_t> kept_indices;  // raster indices into the grid (hi-detail tokens kept)
  std::vector<float> scores;          // one per grid cell (raster order)
  int64_t scaffold_tokens = 0;
  std::string overlay_png;  // PNG bytes
  SelectionSummary summary;
  double selection_ms = 0;
};

}  // namespace shirg
