#pragma once
// The engine API the RPC layer sits on (after TensorRT-LLM's Executor): enqueue, cancel, stats,
// shutdown. A bounded queue feeds worker threads that own all model execution; enqueue never
// blocks on the model. Observer callbacks run on a worker thread and must not block.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/api/observer.h"
#include "engine/api/request.h"
#include "engine/api/request_limits.h"
#include "engine/api/selection_map.h"
#include "engine/api/status.h"
#include "kvcache/cache_dtype.h"

namespace shirg {

struct Model;
class RequestPipeline;

// When the step loop runs its next batched step while generate requests are in their prefix
// stages (decode, vision, selection, projector, prefill) on the workers.
enum class StepSchedule {
  // Steps go on while prefixes are computed (the two share the cores): a streaming client's
  // step events never wait for another request's prefix. Requests reach the step loop one
  // prefix time apart, so on a machine whose prefix stages take longer than the steps the
  // batches stay small.
  kInterleave,
  // The step loop holds its next step while any generate request is in its prefix stages (not
  // while one waits for cache memory): requests admitted together reach step 0 together and
  // step as one batch (vLLM's prefill-first policy). A running request's steps may pause for
  // one prefix time per newly admitted request (at most max_batch - 1 of them), or at most
  // ExecutorConfig::max_hold; cancellation and deadlines are still answered within 50 ms during
  // the pause.
  kPrefixFirst,
};

struct ExecutorConfig {
  // Prefix workers: threads that run the stages before step 0 (decode, vision, selection,
  // projector, prefill) and the selection-map requests. The denoising steps of every running
  // request run on one more thread, the step loop, batched (max_batch).
  int workers = 1;
  // Continuous batching: at most this many generate requests hold a slot (from the start of
  // their prefix stages to their last step); each iteration of the step loop advances every
  // prepared one by one denoising step in ONE batched LLaDA call. 1 = one request at a time.
  int max_batch = 1;
  StepSchedule schedule = StepSchedule::kInterleave;
  // kPrefixFirst only: the longest time the step loop holds its next step for prefix stages
  // (0: no limit, it holds while any is computed). When the hold runs out, the running requests
  // take one step (sharing the cores with the prefix) and the next hold begins: a streaming
  // client's step events pause at most max_hold plus one step.
  std::chrono::milliseconds max_hold{0};
  // Admission by memory: the prefix caches of the requests holding a slot may use at most this
  // many bytes together (0 = no limit). A request whose cache does not fit waits before its
  // prefill (cancellable, deadline honoured); one larger than the whole budget fails with
  // RESOURCE_EXHAUSTED.
  int64_t cache_budget_bytes = 0;
  // Called on the step loop after every batched step with the batch size (metrics). May be empty;
  // must not block.
  std::function<void(int64_t batch_size)> on_batch_step;
  std::size_t max_queue = 16;  // queued (not yet running) requests; beyond -> RESOURCE_EXHAUSTED
  RequestLimits limits;        // checked at enqueue (cheap checks) and while running
  kv::CacheDType cache_dtype = kv::CacheDType::kBf16;  // prefix KV cache storage
};

struct ExecutorStats {
  int64_t queued = 0;              // waiting for a worker / a slot
  int64_t running = 0;             // executing now (prefix stages, steps, selection maps)
  int64_t stepping = 0;            // generate requests in the step loop's running set
  int64_t waiting_for_memory = 0;  // prefix stages done, waiting for cache budget
  int64_t cache_bytes_in_use = 0;  // prefix-cache bytes reserved by requests holding a slot
  int64_t cache_budget_bytes = 0;  // ExecutorConfig::cache_budget_bytes (0 = no limit)
  int64_t batched_steps = 0;       // step-loop iterations (batched LLaDA calls) so far
  int64_t batched_rows = 0;        // sum of their batch sizes (mean batch = rows / steps)
  int64_t holds_expired = 0;       // kPrefixFirst: steps run because max_hold ran out
  int64_t completed = 0;           // finished OK
  int64_t failed = 0;              // finished with an error (incl. cancelled / deadline)
  int64_t rejected = 0;            // refused at enqueue
  int64_t max_queue = 0;
};

class Executor {
 public:
  // Runs requests on `model` through a Pipeline (config.limits, config.cache_dtype).
  Executor(std::shared_ptr<const Model> model, ExecutorConfig config);
  // Runs requests through any RequestPipeline (tests: a fake one, to check the scheduling).
  Executor(std::shared_ptr<const RequestPipeline> pipeline, ExecutorConfig config);
  ~Executor();  // shutdown(0)
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Cheap validation, then queue. OK: `*id` set and the observer will get on_done. Not OK
  // (INVALID_ARGUMENT, RESOURCE_EXHAUSTED when the queue is full, UNAVAILABLE when shutting
  // down): the observer is never called.
  Status enqueue(GenerateRequest request, std::shared_ptr<RequestObserver> observer, uint64_t* id);
  // The selection only (no language model), with the overlay. Same queue and workers.
  using SelectionMapCallback = std::function<void(const Status&, const SelectionMapResult&)>;
  Status enqueue_selection_map(SelectionMapRequest request, SelectionMapCallback done,
                               uint64_t* id);
  // Cancels a queued or running request. Queued: it leaves the queue at once (freeing its slot
  // and the queue count) and on_done(CANCELLED) follows from an executor thread without waiting
  // for a worker. Running: on_done(CANCELLED) follows at the next check (between SigLIP layers,
  // prefill chunks, stages and denoising steps). A queued request whose deadline passes also
  // leaves the queue at once with DEADLINE_EXCEEDED.
  void cancel(uint64_t id);
  ExecutorStats stats() const;
  // Stops accepting (UNAVAILABLE), lets running/queued work finish for `grace`, then cancels the
  // rest and joins the workers. Idempotent.
  void shutdown(std::chrono::milliseconds grace);

  const ExecutorConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shirg
