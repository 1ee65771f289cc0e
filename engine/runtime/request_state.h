#pragma once
// What one generate request owns while it runs (the whisper.cpp "state"), and how it is observed
// and stopped: shared by the pipeline that advances it and the executor that schedules it.
#include <ATen/core/Tensor.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "engine/api/observer.h"
#include "engine/api/request.h"
#include "engine/api/status.h"
#include "engine/sampler/sampler.h"
#include "kvcache/prefix_cache.h"

namespace shirg {

// How a running request is observed and stopped.
// Control points (where cancellation and the deadline are checked): before start, after every
// SigLIP encoder layer, between stages, after every prefill layer, between denoising steps.
struct RunControl {
  const std::atomic<bool>* cancelled = nullptr;  // checked at every control point
  std::optional<std::chrono::steady_clock::time_point> deadline;
  RequestObserver* observer = nullptr;  // may be null
  // Called at every control point, before the check, with where it is ("in the vision encoder",
  // "in the prefill", ...): tracing and tests. May be empty.
  std::function<void(const char* where)> on_check;
  // When set, intermediate tensors are stored here (CPU): visual tokens, selection, prefix,
  // per-step logits and committed tokens (offline tool --dump).
  std::map<std::string, at::Tensor>* dump = nullptr;
  // Called once the prefix length is known, before the prefill, with the exact bytes the
  // request's prefix cache will hold (admission by memory: it may wait for room). A non-OK
  // status ends the request with it. Empty: no budget.
  std::function<Status(int64_t cache_bytes)> reserve_cache;
};

// At a control point: calls ctl.on_check, then CANCELLED when ctl.cancelled is set, then
// DEADLINE_EXCEEDED when the deadline passed ("request cancelled <where>", ...), else OK.
Status check_control(const RunControl& ctl, const char* where);

// Everything one generate request owns between its stages (the whisper.cpp state): the frozen
// prefix cache, the sampler (answer ids, schedule, RNG) and the result being filled in. Made by
// Pipeline::prepare, advanced by Pipeline::step_batch, closed by Pipeline::finish. Owned by one
// thread at a time (the executor hands it from a prefix worker to the step loop).
struct RequestState {
  kv::PrefixCache cache;
  std::optional<sampler::SamplerState> sampler;
  GenerateResult result;  // timings, selection summary, prefix tokens, cache bytes so far
  // Every step computes the logits of all answer positions (the dump), not only the rows the
  // sampler reads (SamplerState::logit_rows).
  bool all_logits = false;
  // When prepare began, and when the first step began (set once sampler->steps_run() > 0).
  std::chrono::steady_clock::time_point started, first_step;
};

}  // namespace shirg
