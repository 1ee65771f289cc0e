// Load-test results: per-request samples folded into one LevelResult per concurrency / rate
// level, and the outputs (text table, JSON, CSV). No gRPC here (unit-tested on its own).
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "clients/stats.h"

namespace shirg::clients {

// Server-side stages of StageTimings, in proto order (all milliseconds).
constexpr std::array<const char*, 8> kStageNames = {"queue",     "decode",  "vision", "selection",
                                                    "projector", "prefill", "steps",  "total"};

// One measured (non-warm-up) request.
struct Sample {
  std::string code = "OK";           // gRPC status name ("OK", "UNAVAILABLE", ...) or "DROPPED"
  double latency_ms = 0;             // client-side, from the (scheduled) send to the completion
  int64_t answer_tokens = 0;         // successes only
  std::array<double, 8> stage_ms{};  // the response's StageTimings, successes only
  double first_step_ms = -1;  // --stream: send to the first step event; -1: none / not streamed
};

struct LevelResult {
  std::string mode;  // "closed" (level = concurrency) or "open" (level = requests/s)
  double level = 0;
  std::size_t requests = 0;  // measured requests (warm-up excluded), == successes + errors
  std::size_t successes = 0;
  std::map<std::string, std::size_t> errors;  // by status name, sum == requests - successes
  double wall_s = 0;                          // first send to last completion
  double throughput_rps = 0;                  // successes / wall_s
  int64_t answer_tokens = 0;
  double tokens_per_s = 0;  // answer tokens / wall_s
  Summary latency_ms;       // successes only
  Histogram latency_hist_ms;
  std::array<double, 8> stage_mean_ms{};  // mean over successes, kStageNames order
  Summary first_step_ms;  // successes that streamed a step event (--stream); count 0 otherwise
};

// Folds the samples of one level (throws std::invalid_argument if wall_s < 0).
LevelResult make_level_result(const std::string& mode, double level,
                              const std::vector<Sample>& samples, double wall_s);

// The final table printed by shirg-loadtest (one block per level).
std::string format_table(const std::vector<LevelResult>& levels);
// {"config": config, "levels": [...]} with every field above.
nlohmann::json to_json(const std::vector<LevelResult>& levels, const nlohmann::json& config);
// One header line + one row per level; errors as "CODE=n;CODE=n".
std::string to_csv(const std::vector<LevelResult>& levels);

}  // namespace shirg::clients
