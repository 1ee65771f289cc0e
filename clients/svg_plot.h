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

// Escapes &, <, >, " for SVG text.
std::string xml_escape(const std::string& s);

}  // namespace shirg::clients
