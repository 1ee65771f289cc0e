// shirg-eval's results: per-example outcomes folded into one ModeReport per selection mode, and
// the outputs (Markdown table, JSON, CSV, SVG plot). No gRPC here (unit-tested alone).
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace shirg::clients {

// Server-side stages reported per mode (means of the responses' StageTimings, milliseconds).
constexpr std::array<const char*, 5> kEvalStages = {"vision", "selection", "prefill", "steps",
                                                    "total"};

// One example run under one mode.
struct Outcome {
  std::size_t line = 0;  // the example's JSONL line
  std::string family = "all";
  bool answered = false;  // Generate succeeded (false when it failed or was not run)
  std::string error;      // "CODE: message" of a failed call, else empty
  std::string prediction;
  double em = 0, anls = 0, relaxed = 0;  // this example's scores (answered only)
  int64_t visual_tokens = -1;            // from Generate or SelectionMap; -1 = unknown
  std::array<double, 5> stage_ms{};      // kEvalStages order (answered only)
  int64_t cache_bytes = 0;               // answered only
  std::optional<double> recall;          // evidence recall in [0, 1] when measured
  std::optional<double> score_recall;    // evidence cells among the top-K scores (score_recall)
};

// Means over the answered examples of a family (or of all of them).
struct Score {
  std::size_t n = 0;
  double em = 0, anls = 0, relaxed = 0;
};

struct ModeReport {
  std::string mode;
  std::size_t examples = 0, answered = 0, errors = 0;
  std::string first_error;
  std::map<std::string, Score> families;  // only families with answered examples
  Score overall;
  std::optional<double> visual_tokens;  // mean over outcomes that reported it
  std::optional<double> recall;         // mean over outcomes with a recall
  std::size_t recall_n = 0;
  std::optional<double> score_recall;                  // mean over outcomes with a score recall
  std::optional<std::array<double, 5>> stage_mean_ms;  // when answered > 0
  std::optional<double> cache_mib;                     // mean cache bytes / 2^20
  std::vector<Outcome> outcomes;
};

// Folds one mode's outcomes.
ModeReport make_mode_report(const std::string& mode, std::vector<Outcome> outcomes);

// Every family seen in any report, sorted.
std::vector<std::string> report_families(const std::vector<ModeReport>& reports);

// One row per mode: per-family EM and relaxed accuracy (%), overall EM / relaxed / ANLS (%),
// visual tokens, recall and score recall (%), stage means (ms), cache MiB, errors. Empty cells show
// "-".
std::string format_markdown(const std::vector<ModeReport>& reports);
// --recall-only's table: mode, visual tokens, evidence recall and score recall (%), examples
// with a recall, errors.
std::string format_recall_markdown(const std::vector<ModeReport>& reports);
// {"config": config, "modes": [{mode, examples, answered, errors, families, overall,
//  visual_tokens, recall, recall_n, score_recall, stage_mean_ms, cache_mib, outcomes: [...]}]};
//  scores are
// fractions in [0, 1], unknown values null.
nlohmann::json eval_json(const std::vector<ModeReport>& reports, const nlohmann::json& config);
// One header line + one row per mode (scores as fractions, unknown values empty).
std::string eval_csv(const std::vector<ModeReport>& reports);
// Two panels: overall relaxed accuracy versus visual tokens and versus mean total latency, one
// labelled point per mode that has both values. Throws std::invalid_argument if no mode has.
std::string eval_svg(const std::vector<ModeReport>& reports, const std::string& title);

}  // namespace shirg::clients
