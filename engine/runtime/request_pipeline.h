#pragma once
// The stages of a request as the executor drives them (the seam between scheduling and model
// execution): Pipeline implements them over a loaded model; tests substitute a fake to check the
// executor's scheduling, batching and failure handling without a model.
//
// Threading: every method may be called from several threads at once for different requests; a
// RequestState is used by one thread at a time.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <vector>

#include "engine/api/request.h"
#include "engine/api/selection_map.h"
#include "engine/api/status.h"
#include "engine/runtime/request_state.h"

namespace shirg {

class RequestPipeline {
 public:
  virtual ~RequestPipeline() = default;

  // Cheap checks that need no model execution; may normalise the request's options.
  // INVALID_ARGUMENT on error.
  virtual Status validate(GenerateRequest& req) const = 0;
  virtual Status validate_selection(SelectionMapRequest& req) const = 0;

  // The stages before step 0: fills `st`. Not OK: the request ends with that status.
  virtual Status prepare(const GenerateRequest& req, const RunControl& ctl,
                         RequestState* st) const = 0;
  // One denoising step for every request in `batch` (none done), in one call. Returns each
  // request's logits (for after_step). Throws when the step fails: then no state was advanced,
  // so each request may be stepped again (alone) by the caller.
  virtual std::vector<at::Tensor> step_batch(const std::vector<RequestState*>& batch) const = 0;
  // After a step of this request: events, dump, control check. Not OK: the request ends.
  virtual Status after_step(const GenerateRequest& req, const RunControl& ctl, RequestState& st,
                            const at::Tensor& logits) const = 0;
  // No more steps for this request.
  virtual bool done(const RequestState& st) const = 0;
  // Fills st.result for a request that is done.
  virtual void finish(const RunControl& ctl, RequestState& st) const = 0;

  virtual Status run_selection_map(const SelectionMapRequest& req, const RunControl& ctl,
                                   SelectionMapResult* out) const = 0;

  // Where the requests' tensors live (memory released there after an out-of-memory error).
  virtual at::Device device() const = 0;
};

}  // namespace shirg
