// A latency-versus-load line chart written as a standalone SVG file (no plotting library).
#pragma once

#include <string>
#include <vector>

#include "clients/report.h"

namespace shirg::clients {

// Lines for mean, p50, p90 and p99 latency (ms, y axis) against the level (x axis: concurrency
// for closed-loop results, requests/s for open-loop ones), plus throughput as labelled points.
// Uses the levels of the first result's mode; throws std::invalid_argument if levels is empty.
std::string latency_svg(const std::vector<LevelResult>& levels, const std::string& title);

// A scatter chart of labelled points, one panel per entry side by side (shirg-eval's accuracy
// versus visual tokens / latency). Axes start at 0; y_max > 0 fixes the y range (else from the
// data). Throws std::invalid_argument if panels is empty or a panel has no point.
struct ScatterPoint {
  std::string label;
  double x = 0, y = 0;
};
struct ScatterPanel {
  std::string title, x_label, y_label;
  double y_max = 0;
  std::vector<ScatterPoint> points;
};
std::string scatter_svg(const std::string& title, const std::vector<ScatterPanel>& panels);

// Escapes &, <, >, " for SVG text.
std::string xml_escape(const std::string& s);

}  // namespace shirg::clients
