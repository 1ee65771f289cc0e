#pragma once
// How the engine reports on one request (the executor's callbacks, implemented by the RPC layer
// and by tests). Events arrive on an engine thread, in order: on_started, on_prefix_ready,
// on_step (once per denoising step), on_done (exactly once, last). Implementations must not
// block: the step loop that calls on_step advances every running request.
#include "engine/api/request.h"
#include "engine/api/status.h"

namespace shirg {

class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  virtual void on_started(double queue_ms) {}
  virtual void on_prefix_ready(const PrefixReadyEvent& e) {}
  virtual void on_step(const StepEvent& e) {}
  virtual void on_done(const Status& status, const GenerateResult& result) = 0;
};

}  // namespace shirg
