#pragma once
// Native request/response types of the engine API. The RPC layer converts protobuf to these at
// the edge; nothing here knows gRPC.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace shirg {

enum class Remasking { kLowConfidence, kRandom, kEntropy, kMargin };
enum class TransferSchedule { kUniform, kShift };

struct GenerationOptions {
  int64_t gen_length = 32;    // answer length in tokens (all start masked)
  int64_t block_length = 32;  // must divide gen_length
  int64_t steps = 16;         // total denoising steps, split evenly over blocks
  // LaViDa's controls (generate()): > 0 replaces `steps` by blocks x per-block steps, where
  // per-block = int((gen_length / blocks) * step_ratio), or = steps_per_block. At most one of
  // the two may be set. Resolved into `steps` by sampler::resolve_options (then both are 0).
  double step_ratio = 0;
  int64_t steps_per_block = 0;
  double temperature = 0;  // 0 = greedy; > 0: float64 Gumbel noise
  Remasking remasking = Remasking::kLowConfidence;
  TransferSchedule schedule = TransferSchedule::kUniform;
  // Shift schedule parameter s; 0.33 is the value LaViDa's evaluation scripts pass (its float32
  // schedule can differ from s = 1/3).
  double shift = 0.33;
  uint64_t seed = 0;
};

// Which visual tokens form the prefix.
enum class SelectionMode {
  kBaseline384,     // one 384x384 view, 729 tokens (the seed's framing of LaViDa)
  kLavida384,       // LaViDa's own single view: 384x384 pooled 2x2 (196) + 1 image_newline
  kLavidaHd,        // LaViDa anyres layout (pooled tiles + base view + newlines)
  kFull672,         // one 672x672 view, 2304 tokens
  kShirg,           // 64 scaffold + K selected hi-detail tokens (fixed or adaptive K)
  kNoScaffold,      // ablation: K selected tokens, no scaffold
  kNoCoords,        // ablation: no coordinate embedding
  kSimilarityOnly,  // ablation: score = Sim only (no distance terms)
  kNoMerge,         // ablation: no neighbour merging
  kRandomK,         // ablation: K random hi-detail tokens (seeded) + scaffold
};

inline constexpr SelectionMode kAllSelectionModes[] = {
    SelectionMode::kShirg,    SelectionMode::kBaseline384,    SelectionMode::kLavida384,
    SelectionMode::kLavidaHd, SelectionMode::kFull672,        SelectionMode::kNoScaffold,
    SelectionMode::kNoCoords, SelectionMode::kSimilarityOnly, SelectionMode::kNoMerge,
    SelectionMode::kRandomK};

// Stable names for the API, flags, logs, overlays and benchmarks: "shirg", "baseline-384", ...
inline const char* selection_mode_name(SelectionMode m) {
  switch (m) {
    case SelectionMode::kBaseline384:
      return "baseline-384";
    case SelectionMode::kLavida384:
      return "lavida-384";
    case SelectionMode::kLavidaHd:
      return "lavida-hd";
    case SelectionMode::kFull672:
      return "full-672";
    case SelectionMode::kShirg:
      return "shirg";
    case SelectionMode::kNoScaffold:
      return "no-scaffold";
    case SelectionMode::kNoCoords:
      return "no-coords";
    case SelectionMode::kSimilarityOnly:
      return "similarity-only";
    case SelectionMode::kNoMerge:
      return "no-merge";
    case SelectionMode::kRandomK:
      return "random-k";
  }
  return "unknown";
}

// The SHIRG family selects tokens (shirg and its ablations); the others are LaViDa's layouts.
inline bool is_shirg_family(SelectionMode m) {
  return m != SelectionMode::kBaseline384 && m != SelectionMode::kLavida384 &&
         m != SelectionMode::kLavidaHd && m != SelectionMode::kFull672;
}

inline std::optional<SelectionMode> parse_selection_mode(const std::string& s) {
  for (SelectionMode m : kAllSelectionModes)
    if (s == selection_mode_name(m)) return m;
  return std::nullopt;
}

struct SelectionOptions {
  SelectionMode mode = SelectionMode::kShirg;
  int64_t k = 1152;
  bool adaptive_k = false;
  int64_t k_min = 576;
  int64_t k_max = 1536;
  bool query_aware = false;
};

struct GenerateRequest {
  std::string request_id;   // set by the caller (logs carry it)
  std::string image_bytes;  // encoded JPEG or PNG
  std::string question;     // UTF-8
  GenerationOptions generation;
  SelectionOptions selection;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  bool want_step_events = false;  // stream one event per denoising step
};

// Milliseconds per stage.
struct StageTimings {
  double queue_ms = 0, decode_ms = 0, vision_ms = 0, selection_ms = 0, projector_ms = 0,
         prefill_ms = 0, steps_ms = 0, total_ms = 0;
};

struct SelectionSummary {
  int64_t scaffold_tokens = 0;
  int64_t hi_detail_tokens = 0;  // selected (after merging) hi-detail tokens
  int64_t merged_groups = 0;     // tokens that absorbed neighbours
  int64_t newline_tokens = 0;    // lavida-hd only
  int64_t visual_tokens = 0;     // total visual tokens in the prefix
  int64_t candidate_tokens = 0;  // hi-detail tokens before selection (2304 at 672)
};

enum class StopReason { kLength, kStopToken };

struct GenerateResult {
  std::string answer;
  std::vector<int64_t> answer_ids;  // committed ids up to (excluding) the first stop token
  int64_t prefix_tokens = 0;
  StopReason stop_reason = StopReason::kLength;
  SelectionSummary selection;
  StageTimings timings;
  int64_t cache_bytes = 0;
  int64_t steps_run = 0;
};

struct PrefixReadyEvent {
  SelectionSummary selection;
  int64_t prefix_tokens = 0;
  int64_t cache_bytes = 0;  // PrefixCache::bytes() of this request's cache, alive until it ends
  StageTimings timings;     // stages up to prefill
};

struct StepEvent {
  int64_t step = 0;  // 1-based
  int64_t total_steps = 0;
  std::string partial_answer;  // masked positions shown as kMaskGlyph
  int64_t committed = 0;       // answer tokens unmasked so far
};

inline constexpr const char* kMaskGlyph = "\u2591";  // '░'

}  // namespace shirg
