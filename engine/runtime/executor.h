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

#include "engine/runtime/request.h"
#include "engine/runtime/status.h"
#include "kvcache/cache_dtype.h"

namespace shirg {

struct Model;

// Receives the events of one request. on_done is called exactly once, last.
class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  virtual void on_started(double queue_ms) {}
  virtual void on_prefix_ready(const PrefixReadyEvent& e) {}
  virtual void on_step(const StepEvent& e) {}
  virtual void on_done(const Status& status, const GenerateResult& result) = 0;
};

struct SelectionMapRequest {
  std::string request_id;
  std::string image_bytes;
  std::string question;  // used when selection.query_aware
  SelectionOptions selection;
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

struct SelectionMapResult {
  int64_t grid = 48;                  // hi-detail grid side
  std::vector<int64_t> kept_indices;  // raster indices into the grid (hi-detail tokens kept)
  std::vector<float> scores;          // one per grid cell (raster order)
  int64_t scaffold_tokens = 0;
  std::string overlay_png;  // PNG bytes
  SelectionSummary summary;
  double selection_ms = 0;
};

struct ExecutorConfig {
  int workers = 1;             // model-executing threads
  std::size_t max_queue = 16;  // queued (not yet running) requests; beyond -> RESOURCE_EXHAUSTED
  int64_t max_question_bytes = 8192;
  int64_t max_question_tokens = 512;
  int64_t max_gen_length = 1024;
  int64_t max_steps = 1024;
  std::size_t max_image_bytes = 32u << 20;
  int64_t max_image_pixels = 50'000'000;
  kv::CacheDType cache_dtype = kv::CacheDType::kBf16;  // prefix KV cache storage
};

struct ExecutorStats {
  int64_t queued = 0;     // waiting
  int64_t running = 0;    // executing now
  int64_t completed = 0;  // finished OK
  int64_t failed = 0;     // finished with an error (incl. cancelled / deadline)
  int64_t rejected = 0;   // refused at enqueue
  int64_t max_queue = 0;
};

class Executor {
 public:
  Executor(std::shared_ptr<const Model> model, ExecutorConfig config);
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

  const Model& model() const;
  const ExecutorConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shirg
