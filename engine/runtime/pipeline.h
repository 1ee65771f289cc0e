#pragma once
// One request from bytes to answer, on the calling thread: decode -> vision -> selection ->
// projector -> prompt + prefix -> prefill (PrefixCache, owned by this call) -> denoising steps ->
// decode. Used by the Executor's workers and by the offline tool. Holds no per-request state:
// everything a request mutates lives in the run() call's locals.
#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

#include "engine/api/request.h"
#include "engine/api/request_limits.h"
#include "engine/api/selection_map.h"
#include "engine/api/status.h"
#include "engine/runtime/request_pipeline.h"
#include "engine/runtime/request_state.h"
#include "kvcache/cache_dtype.h"

namespace shirg {

struct Model;

class Pipeline final : public RequestPipeline {
 public:
  // `cache_dtype`: storage of each request's prefix KV cache (bf16, or the 32-bit fallback).
  Pipeline(std::shared_ptr<const Model> model, RequestLimits limits,
           kv::CacheDType cache_dtype = kv::CacheDType::kBf16);

  // Cheap checks that need no model execution (question text and length, option ranges, image
  // size and magic bytes). Normalises options (defaults, step_ratio). INVALID_ARGUMENT on error.
  Status validate(GenerateRequest& req) const override;
  Status validate_selection(SelectionMapRequest& req) const override;

  // Runs a validated request to the end on the calling thread: prepare, then step_batch of
  // this request alone until done, then finish. Errors: INVALID_ARGUMENT (undecodable image,
  // prefix too long), CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (from reserve_cache),
  // INTERNAL.
  Status run(const GenerateRequest& req, const RunControl& ctl, GenerateResult* out) const;

  // The stages before step 0 (decode, vision, selection, projector, prompt, prefill): fills
  // `st` (its cache and sampler) and tells the observer on_prefix_ready. Same errors as run().
  Status prepare(const GenerateRequest& req, const RunControl& ctl,
                 RequestState* st) const override;
  // One denoising step for every request in `batch` (none may be done) in one batched LLaDA
  // call (llada::answer_logits_batch). Returns each request's logits fp32: [L, V] when
  // all_logits, else the rows of its sampler's logit_rows() only. Throws on an
  // internal error (the whole batch then fails).
  std::vector<at::Tensor> step_batch(const std::vector<RequestState*>& batch) const override;
  // After a step: dump, step event (partial_answer rendered only when req.want_step_events),
  // then the control check.
  // `logits`: this request's logits of the step (for the dump; may be undefined).
  Status after_step(const GenerateRequest& req, const RunControl& ctl, RequestState& st,
                    const at::Tensor& logits) const override;
  bool done(const RequestState& st) const override { return st.sampler->done(); }
  // Decodes the answer of a finished state into st.result (stop reason, ids, text, timings).
  void finish(const RunControl& ctl, RequestState& st) const override;
  Status run_selection_map(const SelectionMapRequest& req, const RunControl& ctl,
                           SelectionMapResult* out) const override;
  at::Device device() const override;

  const Model& model() const { return *model_; }
  const RequestLimits& limits() const { return limits_; }
  kv::CacheDType cache_dtype() const { return cache_dtype_; }

 private:
  std::shared_ptr<const Model> model_;
  RequestLimits limits_;
  kv::CacheDType cache_dtype_;
};

}  // namespace shirg
