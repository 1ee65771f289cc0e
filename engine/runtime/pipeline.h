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

#include "engine/runtime/executor.h"
#include "engine/runtime/request.h"
#include "engine/runtime/status.h"
#include "kvcache/cache_dtype.h"

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
};

struct PipelineLimits {
  int64_t max_question_bytes = 8192;
  int64_t max_question_tokens = 512;
  int64_t max_gen_length = 1024;
  int64_t max_steps = 1024;
  std::size_t max_image_bytes = 32u << 20;
  int64_t max_image_pixels = 50'000'000;
};

class Pipeline {
 public:
  // `cache_dtype`: storage of each request's prefix KV cache (bf16, or the 32-bit fallback).
  Pipeline(std::shared_ptr<const Model> model, PipelineLimits limits,
           kv::CacheDType cache_dtype = kv::CacheDType::kBf16);

  // Cheap checks that need no model execution (question text and length, option ranges, image
  // size and magic bytes). Normalises options (defaults, step_ratio). INVALID_ARGUMENT on error.
  Status validate(GenerateRequest& req) const;
  Status validate_selection(SelectionMapRequest& req) const;

  // Runs a validated request. Errors: INVALID_ARGUMENT (undecodable image, prefix too long),
  // CANCELLED, DEADLINE_EXCEEDED, INTERNAL.
  Status run(const GenerateRequest& req, const RunControl& ctl, GenerateResult* out) const;
  Status run_selection_map(const SelectionMapRequest& req, const RunControl& ctl,
                           SelectionMapResult* out) const;

  const Model& model() const { return *model_; }
  const PipelineLimits& limits() const { return limits_; }
  kv::CacheDType cache_dtype() const { return cache_dtype_; }

 private:
  std::shared_ptr<const Model> model_;
  PipelineLimits limits_;
  kv::CacheDType cache_dtype_;
};

}  // namespace shirg
