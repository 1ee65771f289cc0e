#pragma once
// One request from bytes to answer, on the calling thread: decode -> vision -> selection ->
// projector -> prompt + prefix -> prefill (PrefixCache, owned by this call) -> denoising steps ->
// decode. Used by the Executor's workers and by the offline tool. Holds no per-request state:
// everything a request mutates lives in the run() call's locals.
#include <ATen/core/Tensor.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/api/observer.h"
#include "engine/api/request.h"
#include "engine/api/request_limits.h"
#include "engine/api/status.h"
#include "engine/runtime/executor.h"
#include "engine/sampler/sampler.h"
#include "kvcache/cache_dtype.h"
#include "kvcache/prefix_cache.h"

namespace shirg {

struct Model;

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

class Pipeline {
 public:
  // `cache_dtype`: storage of each request's prefix KV cache (bf16, or the 32-bit fallback).
  Pipeline(std::shared_ptr<const Model> model, RequestLimits limits,
           kv::CacheDType cache_dtype = kv::CacheDType::kBf16);

  // Cheap checks that need no model execution (question text and length, option ranges, image
  // size and magic bytes). Normalises options (defaults, step_ratio). INVALID_ARGUMENT on error.
  Status validate(GenerateRequest& req) const;
  Status validate_selection(SelectionMapRequest& req) const;

  // Runs a validated request to the end on the calling thread: prepare, then step_batch of
  // this request alone until done, then finish. Errors: INVALID_ARGUMENT (undecodable image,
  // prefix too long), CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (from reserve_cache),
  // INTERNAL.
  Status run(const GenerateRequest& req, const RunControl& ctl, GenerateResult* out) const;

  // The stages before step 0 (decode, vision, selection, projector, prompt, prefill): fills
  // `st` (its cache and sampler) and tells the observer on_prefix_ready. Same errors as run().
  Status prepare(const GenerateRequest& req, const RunControl& ctl, RequestState* st) const;
  // One denoising step for every request in `batch` (none may be done) in one batched LLaDA
  // call (llada::answer_logits_batch). Returns each request's logits fp32: [L, V] when
  // all_logits, else the rows of its sampler's logit_rows() only. Throws on an
  // internal error (the whole batch then fails).
  std::vector<at::Tensor> step_batch(const std::vector<RequestState*>& batch) const;
  // After a step: dump, step event (partial_answer rendered only when req.want_step_events),
  // then the control check.
  // `logits`: this request's logits of the step (for the dump; may be undefined).
  Status after_step(const GenerateRequest& req, const RunControl& ctl, RequestState& st,
                    const at::Tensor& logits) const;
  // Decodes the answer of a finished state into st.result (stop reason, ids, text, timings).
  void finish(const RunControl& ctl, RequestState& st) const;
  Status run_selection_map(const SelectionMapRequest& req, const RunControl& ctl,
                           SelectionMapResult* out) const;

  const Model& model() const { return *model_; }
  const RequestLimits& limits() const { return limits_; }
  kv::CacheDType cache_dtype() const { return cache_dtype_; }

 private:
  std::shared_ptr<const Model> model_;
  RequestLimits limits_;
  kv::CacheDType cache_dtype_;
};

}  // namespace shirg
