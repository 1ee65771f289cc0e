#include "server/proto_convert.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>

namespace shirg::rpc {
namespace {

Status invalid(std::string m) {
  return Status::Error(StatusCode::kInvalidArgument, std::move(m));
}

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

Status check_image(const std::string& bytes, const EdgeLimits& lim) {
  if (bytes.empty())
    return invalid("image is empty: send the encoded JPEG or PNG bytes in `image`");
  if (static_cast<int64_t>(bytes.size()) > lim.max_image_bytes)
    return invalid("image is " + std::to_string(bytes.size()) + " bytes, the limit is " +
                   std::to_string(lim.max_image_bytes));
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  const bool jpeg = bytes.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF;
  static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  const bool png = bytes.size() >= 8 && std::equal(kPng, kPng + 8, b);
  if (!jpeg && !png) {
    char hex[3 * 8 + 1] = {0};
    for (std::size_t i = 0; i < std::min<std::size_t>(bytes.size(), 8); ++i)
      std::snprintf(hex + 3 * i, 4, "%02x ", b[i]);
    std::string h(hex);
    if (!h.empty()) h.pop_back();
    return invalid("image is neither JPEG nor PNG (first bytes: " + h + ")");
  }
  return Status::Ok();
}

Status check_question(const std::string& q, const EdgeLimits& lim, bool required) {
  if (static_cast<int64_t>(q.size()) > lim.max_question_bytes)
    return invalid("question is " + std::to_string(q.size()) + " bytes, the limit is " +
                   std::to_string(lim.max_question_bytes));
  if (!is_valid_utf8(q)) return invalid("question is not valid UTF-8");
  if (required && q.find_first_not_of(" \t\r\n") == std::string::npos)
    return invalid("question is empty");
  return Status::Ok();
}

Status check_int(const char* field, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi)
    return invalid(std::string(field) + " must be in [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "], got " + std::to_string(v));
  return Status::Ok();
}

// (lo, hi] when lo_open, else [lo, hi]; NaN and infinities are refused.
Status check_real(const char* field, double v, double lo, double hi, bool lo_open) {
  const bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi;
  if (!ok)
    return invalid(std::string(field) + " must be in " + (lo_open ? "(" : "[") + num(lo) + ", " +
                   num(hi) + "], got " + num(v));
  return Status::Ok();
}

Status generation_from_proto(const v1::GenerationOptions& in, const EdgeLimits& lim,
                             GenerationOptions* out) {
  GenerationOptions g;  // engine defaults
  g.gen_length = in.has_gen_length() ? in.gen_length() : lim.default_gen_length;
  if (Status s = check_int("generation.gen_length", g.gen_length, 1, lim.max_gen_length); !s.ok())
    return s;
  g.block_length = in.has_block_length() ? in.block_length() : g.gen_length;
  if (Status s = check_int("generation.block_length", g.block_length, 1, g.gen_length); !s.ok())
    return s;
  if (g.gen_length % g.block_length != 0)
    return invalid("generation.block_length (" + std::to_string(g.block_length) +
                   ") must divide gen_length (" + std::to_string(g.gen_length) + ")");
  if (in.has_steps()) g.steps = in.steps();
  if (Status s = check_int("generation.steps", g.steps, 1, lim.max_steps); !s.ok()) return s;
  if (in.has_step_ratio()) {
    if (Status s = check_real("generation.step_ratio", in.step_ratio(), 0, kMaxStepRatio, true);
        !s.ok())
      return s;
    g.step_ratio = in.step_ratio();
  }
  if (in.has_steps_per_block()) {
    if (Status s = check_int("generation.steps_per_block", in.steps_per_block(), 1, g.block_length);
        !s.ok())
      return s;
    if (in.has_step_ratio())
      return invalid("generation: set at most one of step_ratio and steps_per_block");
    g.steps_per_block = in.steps_per_block();
  }
  if (in.has_temperature()) {
    if (Status s =
            check_real("generation.temperature", in.temperature(), 0, kMaxTemperature, false);
        !s.ok())
      return s;
    g.temperature = in.temperature();
  }
  switch (in.remasking()) {
    case v1::REMASKING_UNSPECIFIED:
    case v1::REMASKING_LOW_CONFIDENCE:
      g.remasking = Remasking::kLowConfidence;
      break;
    case v1::REMASKING_RANDOM:
      g.remasking = Remasking::kRandom;
      break;
    case v1::REMASKING_ENTROPY:
      g.remasking = Remasking::kEntropy;
      break;
    case v1::REMASKING_MARGIN:
      g.remasking = Remasking::kMargin;
      break;
    default:
      return invalid("generation.remasking: unknown value " + std::to_string(in.remasking()));
  }
  switch (in.schedule()) {
    case v1::SCHEDULE_UNSPECIFIED:
    case v1::SCHEDULE_UNIFORM:
      g.schedule = TransferSchedule::kUniform;
      break;
    case v1::SCHEDULE_SHIFT:
      g.schedule = TransferSchedule::kShift;
      break;
    default:
      return invalid("generation.schedule: unknown value " + std::to_string(in.schedule()));
  }
  if (in.has_shift()) {
    if (Status s = check_real("generation.shift", in.shift(), 0, kMaxShift, true); !s.ok())
      return s;
    g.shift = in.shift();
  }
  if (in.has_seed()) g.seed = in.seed();
  *out = g;
  return Status::Ok();
}

}  // namespace

bool is_valid_utf8(const std::string& s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t len;
    uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2, cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3, cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4, cp = b & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

bool is_valid_request_id(const std::string& id) {
  if (id.empty() || id.size() > kMaxRequestIdBytes) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string make_request_id() {
  thread_local std::mt19937_64 rng(std::random_device{}() ^
                                   (static_cast<uint64_t>(std::random_device{}()) << 32));
  char buf[24];
  std::snprintf(buf, sizeof buf, "req-%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

int64_t default_gen_length_for(std::optional<int64_t> max_new_tokens, int64_t max_gen_length) {
  if (!max_new_tokens || *max_new_tokens < 1) return GenerationOptions{}.gen_length;
  return std::min(*max_new_tokens, max_gen_length);
}

Status from_proto(const v1::SelectionOptions& in, SelectionOptions* out, int64_t max_k) {
  SelectionOptions s;  // engine defaults
  switch (in.mode()) {
    case v1::SELECTION_MODE_UNSPECIFIED:
    case v1::SELECTION_MODE_SHIRG:
      s.mode = SelectionMode::kShirg;
      break;
    case v1::SELECTION_MODE_BASELINE_384:
      s.mode = SelectionMode::kBaseline384;
      break;
    case v1::SELECTION_MODE_LAVIDA_384:
      s.mode = SelectionMode::kLavida384;
      break;
    case v1::SELECTION_MODE_LAVIDA_HD:
      s.mode = SelectionMode::kLavidaHd;
      break;
    case v1::SELECTION_MODE_FULL_672:
      s.mode = SelectionMode::kFull672;
      break;
    case v1::SELECTION_MODE_NO_SCAFFOLD:
      s.mode = SelectionMode::kNoScaffold;
      break;
    case v1::SELECTION_MODE_NO_COORDS:
      s.mode = SelectionMode::kNoCoords;
      break;
    case v1::SELECTION_MODE_SIMILARITY_ONLY:
      s.mode = SelectionMode::kSimilarityOnly;
      break;
    case v1::SELECTION_MODE_NO_MERGE:
      s.mode = SelectionMode::kNoMerge;
      break;
    case v1::SELECTION_MODE_RANDOM_K:
      s.mode = SelectionMode::kRandomK;
      break;
    default:
      return invalid("selection.mode: unknown value " + std::to_string(in.mode()));
  }
  if (in.has_k()) s.k = in.k();
  if (Status st = check_int("selection.k", s.k, 1, max_k); !st.ok()) return st;
  if (in.has_adaptive_k()) s.adaptive_k = in.adaptive_k();
  if (in.has_k_min()) s.k_min = in.k_min();
  if (in.has_k_max()) s.k_max = in.k_max();
  if (in.has_k_min() || s.adaptive_k)
    if (Status st = check_int("selection.k_min", s.k_min, 1, max_k); !st.ok()) return st;
  if (in.has_k_max() || s.adaptive_k)
    if (Status st = check_int("selection.k_max", s.k_max, 1, max_k); !st.ok()) return st;
  if (s.adaptive_k && s.k_min > s.k_max)
    return invalid("selection.k_min (" + std::to_string(s.k_min) +
                   ") must not exceed selection.k_max (" + std::to_string(s.k_max) + ")");
  if (in.has_query_aware()) s.query_aware = in.query_aware();
  *out = s;
  return Status::Ok();
}

Status from_proto(const v1::GenerateRequest& in, const EdgeLimits& lim, GenerateRequest* out) {
  if (!in.request_id().empty() && !is_valid_request_id(in.request_id()))
    return invalid("request_id must be 1-128 characters of [A-Za-z0-9._:-]");
  if (Status s = check_image(in.image(), lim); !s.ok()) return s;
  if (Status s = check_question(in.question(), lim, true); !s.ok()) return s;
  GenerateRequest r;
  if (Status s = generation_from_proto(in.generation(), lim, &r.generation); !s.ok()) return s;
  if (Status s = from_proto(in.selection(), &r.selection, lim.max_k); !s.ok()) return s;
  r.request_id = in.request_id();
  r.image_bytes = in.image();
  r.question = in.question();
  r.deadline = out->deadline;
  r.want_step_events = out->want_step_events;
  *out = std::move(r);
  return Status::Ok();
}

Status from_proto(const v1::SelectionMapRequest& in, const EdgeLimits& lim,
                  SelectionMapRequest* out) {
  if (Status s = check_image(in.image(), lim); !s.ok()) return s;
  SelectionMapRequest r;
  if (Status s = from_proto(in.selection(), &r.selection, lim.max_k); !s.ok()) return s;
  if (!is_shirg_family(r.selection.mode))
    return invalid(
        "SelectionMap needs a SHIRG selection mode (shirg or an ablation), not a fixed layout");
  if (Status s = check_question(in.question(), lim, r.selection.query_aware); !s.ok()) {
    if (s.message == "question is empty")
      s.message = "question is required when selection.query_aware is true";
    return s;
  }
  r.image_bytes = in.image();
  r.question = in.question();
  r.request_id = out->request_id;
  r.deadline = out->deadline;
  *out = std::move(r);
  return Status::Ok();
}

void to_proto(const SelectionSummary& in, v1::SelectionSummary* out) {
  out->set_scaffold_tokens(in.scaffold_tokens);
  out->set_hi_detail_tokens(in.hi_detail_tokens);
  out->set_merged_groups(in.merged_groups);
  out->set_newline_tokens(in.newline_tokens);
  out->set_visual_tokens(in.visual_tokens);
  out->set_candidate_tokens(in.candidate_tokens);
}

void to_proto(const StageTimings& in, v1::StageTimings* out) {
  out->set_queue_ms(in.queue_ms);
  out->set_decode_ms(in.decode_ms);
  out->set_vision_ms(in.vision_ms);
  out->set_selection_ms(in.selection_ms);
  out->set_projector_ms(in.projector_ms);
  out->set_prefill_ms(in.prefill_ms);
  out->set_steps_ms(in.steps_ms);
  out->set_total_ms(in.total_ms);
}

void to_proto(const std::string& request_id, const GenerateResult& in, v1::GenerateResponse* out) {
  out->set_request_id(request_id);
  out->set_answer(in.answer);
  out->set_answer_tokens(static_cast<int64_t>(in.answer_ids.size()));
  out->set_stop_reason(in.stop_reason == StopReason::kStopToken ? v1::STOP_REASON_STOP_TOKEN
                                                                : v1::STOP_REASON_LENGTH);
  to_proto(in.selection, out->mutable_selection());
  to_proto(in.timings, out->mutable_timings());
  out->set_cache_bytes(in.cache_bytes);
  out->set_prefix_tokens(in.prefix_tokens);
  out->set_steps(in.steps_run);
}

void to_proto(const PrefixReadyEvent& in, v1::PrefixReadyEvent* out) {
  to_proto(in.selection, out->mutable_selection());
  out->set_prefix_tokens(in.prefix_tokens);
  out->set_cache_bytes(in.cache_bytes);
  to_proto(in.timings, out->mutable_timings());
}

void to_proto(const StepEvent& in, v1::StepEvent* out) {
  out->set_step(in.step);
  out->set_total_steps(in.total_steps);
  out->set_partial_answer(in.partial_answer);
  out->set_committed_tokens(in.committed);
}

void to_proto(const SelectionMapResult& in, v1::SelectionMapResponse* out) {
  out->set_grid(in.grid);
  out->mutable_kept_indices()->Assign(in.kept_indices.begin(), in.kept_indices.end());
  out->mutable_scores()->Assign(in.scores.begin(), in.scores.end());
  out->set_scaffold_tokens(in.scaffold_tokens);
  out->set_overlay_png(in.overlay_png);
  to_proto(in.summary, out->mutable_selection());
  out->set_selection_ms(in.selection_ms);
}

v1::SelectionMode to_proto(SelectionMode m) {
  switch (m) {
    case SelectionMode::kBaseline384:
      return v1::SELECTION_MODE_BASELINE_384;
    case SelectionMode::kLavida384:
      return v1::SELECTION_MODE_LAVIDA_384;
    case SelectionMode::kLavidaHd:
      return v1::SELECTION_MODE_LAVIDA_HD;
    case SelectionMode::kFull672:
      return v1::SELECTION_MODE_FULL_672;
    case SelectionMode::kShirg:
      return v1::SELECTION_MODE_SHIRG;
    case SelectionMode::kNoScaffold:
      return v1::SELECTION_MODE_NO_SCAFFOLD;
    case SelectionMode::kNoCoords:
      return v1::SELECTION_MODE_NO_COORDS;
    case SelectionMode::kSimilarityOnly:
      return v1::SELECTION_MODE_SIMILARITY_ONLY;
    case SelectionMode::kNoMerge:
      return v1::SELECTION_MODE_NO_MERGE;
    case SelectionMode::kRandomK:
      return v1::SELECTION_MODE_RANDOM_K;
  }
  return v1::SELECTION_MODE_UNSPECIFIED;
}

grpc::Status to_grpc(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(static_cast<int>(s.code)), s.message);
}

}  // namespace shirg::rpc
