#pragma once
// protobuf (shirg.v1) <-> native engine types, at the edge. Conversions into the engine
// validate what needs no model (enum values, option ranges, UTF-8, sizes) and return
// INVALID_ARGUMENT with a message naming the field, its allowed range and the value received.
// Model-dependent checks (question tokens, image decoding) stay in the engine.
#include <grpcpp/support/status.h>

#include <cstdint>
#include <optional>
#include <string>

#include "engine/api/request.h"
#include "engine/api/request_limits.h"
#include "engine/api/status.h"
#include "engine/runtime/executor.h"
#include "shirg/v1/inference.pb.h"

namespace shirg::rpc {

// What the edge enforces: the request limits the executor enforces too (one RequestLimits made
// from the server's --max-* flags), plus the edge's own default.
// The default K bound before a model is loaded: hi-detail candidates at 672 (48 x 48); the
// server replaces it by the loaded model's (EdgeLimits::max_k).
inline constexpr int64_t kMaxK = 2304;

struct EdgeLimits : RequestLimits {
  // generation.gen_length when the request leaves it unset: the model's generation_config.json
  // max_new_tokens (clamped to max_gen_length; see default_gen_length_for), else 32.
  int64_t default_gen_length = 32;
  // selection.k / k_min / k_max upper bound: the model's hi-detail grid cells
  // (ModelConfig::hires_tokens(), 2304 at 672x672 with 14-px patches).
  int64_t max_k = kMaxK;
};

// The default answer length for a model: its generation_config.json max_new_tokens when set and
// positive, clamped to max_gen_length; else 32 (the engine's default).
int64_t default_gen_length_for(std::optional<int64_t> max_new_tokens, int64_t max_gen_length);

// Range constants of the options (documented in docs/server.md).
inline constexpr double kMaxTemperature = 100;  // temperature in [0, 100]
inline constexpr double kMaxStepRatio = 64;     // step_ratio in (0, 64]
inline constexpr double kMaxShift = 100;        // shift in (0, 100]
inline constexpr std::size_t kMaxRequestIdBytes = 128;

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool is_valid_utf8(const std::string& s);

// Request ids: [A-Za-z0-9._:-]{1,128}. A new one: "req-" + 16 lower-case hex digits.
bool is_valid_request_id(const std::string& id);
std::string make_request_id();

// GenerateRequest: image and question present and within limits, options in range; unset
// options get the engine defaults (block_length defaults to gen_length). request_id is copied
// when given (validated), else left empty. deadline / want_step_events are not touched.
Status from_proto(const v1::GenerateRequest& in, const EdgeLimits& lim, GenerateRequest* out);
// k, k_min, k_max in [1, max_k] (the model's hi-detail cell count, EdgeLimits::max_k).
Status from_proto(const v1::SelectionOptions& in, SelectionOptions* out, int64_t max_k = kMaxK);
Status from_proto(const v1::SelectionMapRequest& in, const EdgeLimits& lim,
                  SelectionMapRequest* out);

void to_proto(const SelectionSummary& in, v1::SelectionSummary* out);
void to_proto(const StageTimings& in, v1::StageTimings* out);
void to_proto(const std::string& request_id, const GenerateResult& in, v1::GenerateResponse* out);
void to_proto(const PrefixReadyEvent& in, v1::PrefixReadyEvent* out);
void to_proto(const StepEvent& in, v1::StepEvent* out);
void to_proto(const SelectionMapResult& in, v1::SelectionMapResponse* out);

v1::SelectionMode to_proto(SelectionMode m);
// Engine status -> gRPC status (the engine's codes are the canonical gRPC codes).
grpc::Status to_grpc(const Status& s);

}  // namespace shirg::rpc
