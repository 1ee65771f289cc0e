#include "engine/runtime/executor.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>

#include "engine/platform/device.h"
#include "engine/runtime/failure.h"
#include "engine/runtime/pipeline.h"

namespace shirg {
namespace {
using Clock = std::chrono::steady_clock;

struct GenerateTask {
  GenerateRequest request;
  std::shared_ptr<RequestObserver> observer;
};
struct SelectionTask {
  SelectionMapRequest request;
  Executor::SelectionMapCallback done;
};

// Per-request state owned by the executor while the request is queued or running.
struct Task {
  uint64_t id = 0;
  Clock::time_point enqueued;
  std::atomic<bool> cancelled{false};
  std::variant<GenerateTask, SelectionTask> work;
  // Generate tasks, once a worker picked them up: the pipeline's per-request state and control
  // (they live as long as the task), the queue time and the cache bytes reserved.
  RequestState state;
  RunControl ctl;
  at::Tensor logits;  // of the step just run (for after_step); reset right after
  double queue_ms = 0;
  int64_t reserved_bytes = 0;

  std::optional<Clock::time_point> deadline() const {
    if (auto* g = std::get_if<GenerateTask>(&work)) return g->request.deadline;
    return std::get<SelectionTask>(work).request.deadline;
  }
};

// A queued task taken out of the queue before it ran (cancelled, or its deadline passed), with
// the status its observer gets.
struct Reaped {
  std::shared_ptr<Task> task;
  Status status;
};

}  // namespace

struct Executor::Impl {
  ExecutorConfig config;
  std::shared_ptr<const RequestPipeline> pipeline;

  mutable std::mutex mu;
  std::condition_variable cv;       // workers wait for tasks
  std::condition_variable idle_cv;  // shutdown waits for the queue to drain
  std::deque<std::shared_ptr<Task>> queue;
  std::map<uint64_t, std::shared_ptr<Task>> live;  // queued or running
  bool accepting = true;
  bool stopping = false;
  uint64_t next_id = 1;
  ExecutorStats stats;
  std::vector<std::thread> workers;
  // The reaper answers queued tasks that are cancelled or expire while waiting, at once (they
  // leave the queue and free their slot without waiting for a worker).
  std::thread reaper;
  std::condition_variable reaper_cv;
  std::deque<Reaped> reaped;
  bool reaper_stop = false;
  // Continuous batching (see ExecutorConfig::max_batch): generate tasks holding a slot, the
  // prepared ones handed to the step loop, the step loop's thread.
  int slots_in_use = 0;
  std::deque<std::shared_ptr<Task>> ready;  // prepared, not yet in the step loop's running set
  std::thread stepper;
  std::condition_variable step_cv;
  bool step_stop = false;
  int preparing = 0;  // generate tasks in their prefix stages on a worker (StepSchedule)
  // Admission by memory.
  std::condition_variable budget_cv;
  int64_t cache_in_use = 0;
  int64_t waiting_for_memory = 0;

  Impl(std::shared_ptr<const RequestPipeline> p, ExecutorConfig c)
      : config(std::move(c)), pipeline(std::move(p)) {
    stats.max_queue = static_cast<int64_t>(config.max_queue);
  }

  // Called with mu held. Decides admission.
  Status admit(std::shared_ptr<Task> task, uint64_t* id) {
    if (!accepting)
      return Status::Error(StatusCode::kUnavailable,
                           "server is shutting down; not accepting requests");
    if (queue.size() >= config.max_queue) {
      ++stats.rejected;
      return Status::Error(StatusCode::kResourceExhausted,
                           "request queue is full (" + std::to_string(config.max_queue) +
                               " waiting); retry with backoff or scale out");
    }
    task->id = next_id++;
    task->enqueued = Clock::now();
    queue.push_back(task);
    live[task->id] = task;
    *id = task->id;
    cv.notify_one();
    if (task->deadline()) reaper_cv.notify_one();  // it may be the earliest deadline now
    return Status::Ok();
  }

  // Called with mu held: takes `task` out of the queue (when still there) and hands it to the
  // reaper with `status`. Returns false when the task is not queued (running or finished).
  bool reap_locked(const std::shared_ptr<Task>& task, Status status) {
    auto it = std::find(queue.begin(), queue.end(), task);
    if (it == queue.end()) return false;
    queue.erase(it);
    live.erase(task->id);
    ++stats.failed;
    reaped.push_back({task, std::move(status)});
    reaper_cv.notify_one();
    idle_cv.notify_all();
    return true;
  }

  // Answers reaped tasks on the reaper thread; finds queued tasks whose deadline passed.
  void reaper_loop() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      const auto now = Clock::now();
      std::optional<Clock::time_point> next;
      std::vector<std::shared_ptr<Task>> expired;
      for (const auto& t : queue) {
        const auto d = t->deadline();
        if (!d) continue;
        if (*d <= now)
          expired.push_back(t);
        else if (!next || *d < *next)
          next = *d;
      }
      for (const auto& t : expired)
        reap_locked(t, Status::Error(StatusCode::kDeadlineExceeded,
                                     "deadline exceeded while waiting in the queue"));
      while (!reaped.empty()) {
        Reaped r = std::move(reaped.front());
        reaped.pop_front();
        lock.unlock();
        answer(*r.task, r.status);
        lock.lock();
      }
      if (reaper_stop) return;
      // Any notify (a new deadline, a reaped task, stop) or the earliest deadline: rescan.
      if (next)
        reaper_cv.wait_until(lock, *next);
      else
        reaper_cv.wait(lock);
    }
  }

  // The observer / callback of a task that never ran hears `s` (no mutex held).
  static void answer(Task& task, const Status& s) {
    const double queue_ms =
        std::chrono::duration<double, std::milli>(Clock::now() - task.enqueued).count();
    if (auto* g = std::get_if<GenerateTask>(&task.work)) {
      GenerateResult result;
      result.timings.queue_ms = queue_ms;
      result.timings.total_ms = queue_ms;
      g->observer->on_done(s, result);
      return;
    }
    std::get<SelectionTask>(task.work).done(s, SelectionMapResult{});
  }

  bool is_generate(const Task& t) const { return std::holds_alternative<GenerateTask>(t.work); }

  // Called with mu held: the queue's head may start (a selection map always; a generate
  // request when a slot is free).
  bool can_start_locked() const {
    if (queue.empty()) return false;
    return !is_generate(*queue.front()) || slots_in_use < std::max(1, config.max_batch);
  }

  void worker_loop() {
    for (;;) {
      std::shared_ptr<Task> task;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return can_start_locked() || (stopping && queue.empty()); });
        if (queue.empty()) return;  // stopping and drained
        task = queue.front();
        queue.pop_front();
        ++stats.running;
        if (is_generate(*task)) {
          ++slots_in_use;
          ++preparing;
        }
      }
      execute(task);
    }
  }

  // Counts a finished task. Runs BEFORE its observer hears the outcome, so whoever has the
  // answer also sees it in stats(). Frees its slot and its cache reservation.
  void settle(Task& task, bool ok) {
    {
      std::lock_guard<std::mutex> lock(mu);
      --stats.running;
      ok ? ++stats.completed : ++stats.failed;
      live.erase(task.id);
      if (is_generate(task)) --slots_in_use;
      cache_in_use -= task.reserved_bytes;
      task.reserved_bytes = 0;
    }
    cv.notify_all();  // a slot is free
    budget_cv.notify_all();
    idle_cv.notify_all();
  }

  // Admission by memory, on the prefix worker, before the prefill (RunControl::reserve_cache).
  Status reserve_cache(Task& task, int64_t bytes) {
    const int64_t budget = config.cache_budget_bytes;
    std::unique_lock<std::mutex> lock(mu);
    if (budget > 0 && bytes > budget)
      return Status::Error(StatusCode::kResourceExhausted,
                           "this request's prefix cache needs " + std::to_string(bytes >> 20) +
                               " MiB, more than the whole prefix-cache budget of " +
                               std::to_string(budget >> 20) +
                               " MiB; use fewer visual tokens or raise the budget");
    ++waiting_for_memory;
    step_cv.notify_one();  // kPrefixFirst: a request waiting for memory holds no step back
    Status s = Status::Ok();
    while (budget > 0 && cache_in_use + bytes > budget) {
      if (task.cancelled.load()) {
        s = Status::Error(StatusCode::kCancelled, "request cancelled while waiting for memory");
        break;
      }
      const auto now = Clock::now();
      const auto deadline = task.ctl.deadline;
      if (deadline && now >= *deadline) {
        s = Status::Error(StatusCode::kDeadlineExceeded,
                          "deadline exceeded while waiting for prefix-cache memory");
        break;
      }
      auto until = now + std::chrono::milliseconds(50);
      if (deadline && *deadline < until) until = *deadline;
      budget_cv.wait_until(lock, until);
    }
    --waiting_for_memory;
    if (s.ok()) {
      cache_in_use += bytes;
      task.reserved_bytes = bytes;
    }
    return s;
  }

  // Ends a generate task: frees its cache, counts it, frees its slot, then its observer hears
  // the outcome.
  void complete(Task& task, const Status& s) {
    auto& g = std::get<GenerateTask>(task.work);
    GenerateResult result = std::move(task.state.result);
    result.timings.queue_ms = task.queue_ms;
    result.timings.total_ms += task.queue_ms;
    task.state = RequestState{};
    settle(task, s.ok());
    g.observer->on_done(s, result);
  }

  void execute(const std::shared_ptr<Task>& owner) {
    Task& task = *owner;
    task.queue_ms = std::chrono::duration<double, std::milli>(Clock::now() - task.enqueued).count();
    RunControl& ctl = task.ctl;
    ctl.cancelled = &task.cancelled;
    if (auto* g = std::get_if<GenerateTask>(&task.work)) {
      ctl.deadline = g->request.deadline;
      ctl.observer = g->observer.get();
      ctl.reserve_cache = [this, &task](int64_t bytes) { return reserve_cache(task, bytes); };
      g->observer->on_started(task.queue_ms);
      Status s = pipeline->prepare(g->request, ctl, &task.state);
      {
        std::lock_guard<std::mutex> lock(mu);
        --preparing;
        if (s.ok()) ready.push_back(owner);
      }
      step_cv.notify_one();
      if (!s.ok()) complete(task, s);
      return;
    }
    auto& sel = std::get<SelectionTask>(task.work);
    ctl.deadline = sel.request.deadline;
    SelectionMapResult result;
    Status s = pipeline->run_selection_map(sel.request, ctl, &result);
    settle(task, s.ok());
    sel.done(s, result);
  }

  // The step loop: every iteration advances each prepared request by one denoising step in one
  // batched LLaDA call; requests join (from `ready`) and leave (done, cancelled, deadline)
  // between iterations. The prefix stages of new requests run meanwhile on the workers, so a
  // long prefill never holds back the running requests' steps.
  // Called with mu held: kPrefixFirst holds the next step while a generate request is in its
  // prefix stages (not waiting for memory) or at the queue's head with a slot free.
  bool hold_for_prefix_locked() const {
    if (config.schedule != StepSchedule::kPrefixFirst || step_stop) return false;
    if (preparing - waiting_for_memory > 0) return true;
    return can_start_locked() && is_generate(*queue.front());
  }

  // While a step is held: ends the running requests that were cancelled or whose deadline
  // passed (called without mu).
  void end_stopped(std::vector<std::shared_ptr<Task>>& running) {
    std::vector<std::shared_ptr<Task>> still;
    for (auto& t : running) {
      Status s = check_control(t->ctl, "between denoising steps");
      if (s.ok()) {
        still.push_back(std::move(t));
        continue;
      }
      complete(*t, s);
    }
    running = std::move(still);
  }

  // One denoising step of every running request in one batched call; each request's logits go
  // to its task. When the batch fails for lack of memory (the batch's rows exceed the device),
  // every request is stepped alone instead (no state was advanced by the failed call), so only
  // a request that fails by itself ends. Returns each request's status.
  std::vector<Status> step_running(const std::vector<std::shared_ptr<Task>>& running) {
    std::vector<RequestState*> batch;
    for (const auto& t : running) batch.push_back(&t->state);
    std::vector<Status> out(running.size(), Status::Ok());
    Status batch_status = Status::Ok();
    try {
      std::vector<at::Tensor> logits = pipeline->step_batch(batch);
      for (size_t i = 0; i < running.size(); ++i) running[i]->logits = std::move(logits[i]);
      return out;
    } catch (const std::exception& e) {
      batch_status = failure_status(e, pipeline->device(), "in a denoising step");
    }
    if (batch_status.code != StatusCode::kResourceExhausted || running.size() == 1)
      return std::vector<Status>(running.size(), batch_status);
    for (size_t i = 0; i < running.size(); ++i) {
      try {
        running[i]->logits = pipeline->step_batch({batch[i]})[0];
      } catch (const std::exception& e) {
        out[i] = failure_status(e, pipeline->device(), "in a denoising step");
      }
    }
    return out;
  }

  void step_loop() {
    std::vector<std::shared_ptr<Task>> running;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        std::optional<Clock::time_point> held_since;  // this step's hold began (kPrefixFirst)
        for (;;) {
          while (!ready.empty()) {  // they join the running set between steps
            running.push_back(std::move(ready.front()));
            ready.pop_front();
          }
          if (running.empty() && step_stop) return;  // drained
          if (!running.empty() && !hold_for_prefix_locked()) break;
          if (running.empty()) {
            step_cv.wait(lock);
            continue;
          }
          // Held: polled (a queued request may leave without a notify), and the running
          // requests still hear cancellation and their deadline; at most max_hold.
          const auto now = Clock::now();
          if (!held_since) held_since = now;
          auto wait = std::chrono::milliseconds(50);
          if (config.max_hold.count() > 0) {
            const auto left = *held_since + config.max_hold - now;
            if (left <= Clock::duration::zero()) {
              ++stats.holds_expired;
              break;
            }
            if (left < wait) wait = std::chrono::ceil<std::chrono::milliseconds>(left);
          }
          step_cv.wait_for(lock, wait);
          lock.unlock();
          end_stopped(running);
          lock.lock();
        }
        stats.batched_steps += 1;
        stats.batched_rows += static_cast<int64_t>(running.size());
      }
      const std::vector<Status> step_status = step_running(running);
      if (config.on_batch_step) config.on_batch_step(static_cast<int64_t>(running.size()));
      std::vector<std::shared_ptr<Task>> still;
      for (size_t i = 0; i < running.size(); ++i) {
        Task& t = *running[i];
        Status s = step_status[i];
        if (s.ok()) {
          try {
            s = pipeline->after_step(std::get<GenerateTask>(t.work).request, t.ctl, t.state,
                                     t.logits);
            t.logits.reset();
            if (s.ok() && pipeline->done(t.state)) {
              pipeline->finish(t.ctl, t.state);
              complete(t, s);
              continue;
            }
          } catch (const std::exception& e) {
            s = failure_status(e, pipeline->device(), "after a denoising step");
          }
        }
        if (!s.ok()) {
          complete(t, s);
          continue;
        }
        still.push_back(std::move(running[i]));
      }
      running = std::move(still);
    }
  }
};

Executor::Executor(std::shared_ptr<const Model> model, ExecutorConfig config)
    : Executor(std::make_shared<Pipeline>(std::move(model), config.limits, config.cache_dtype),
               config) {}

Executor::Executor(std::shared_ptr<const RequestPipeline> pipeline, ExecutorConfig config)
    : impl_(std::make_unique<Impl>(std::move(pipeline), config)) {
  const int n = std::max(1, config.workers);
  for (int i = 0; i < n; ++i) impl_->workers.emplace_back([this] { impl_->worker_loop(); });
  impl_->stepper = std::thread([this] { impl_->step_loop(); });
  impl_->reaper = std::thread([this] { impl_->reaper_loop(); });
}

Executor::~Executor() {
  shutdown(std::chrono::milliseconds(0));
}

Status Executor::enqueue(GenerateRequest request, std::shared_ptr<RequestObserver> observer,
                         uint64_t* id) {
  if (!observer) return Status::Error(StatusCode::kInternal, "enqueue needs an observer");
  if (Status s = impl_->pipeline->validate(request); !s.ok()) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    ++impl_->stats.rejected;
    return s;
  }
  auto task = std::make_shared<Task>();
  task->work = GenerateTask{std::move(request), std::move(observer)};
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->admit(task, id);
}

Status Executor::enqueue_selection_map(SelectionMapRequest request, SelectionMapCallback done,
                                       uint64_t* id) {
  if (!done) return Status::Error(StatusCode::kInternal, "enqueue_selection_map needs a callback");
  if (Status s = impl_->pipeline->validate_selection(request); !s.ok()) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    ++impl_->stats.rejected;
    return s;
  }
  auto task = std::make_shared<Task>();
  task->work = SelectionTask{std::move(request), std::move(done)};
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->admit(task, id);
}

void Executor::cancel(uint64_t id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->live.find(id);
  if (it == impl_->live.end()) return;
  const std::shared_ptr<Task> task = it->second;
  task->cancelled.store(true);
  // Still queued: out of the queue now (its slot and the queue gauge are freed at once), and
  // answered CANCELLED by the reaper. Running: the worker or the step loop sees the flag at its
  // next check.
  impl_->reap_locked(task, Status::Error(StatusCode::kCancelled, "request cancelled while queued"));
  impl_->budget_cv.notify_all();  // a request waiting for memory sees it at once
}

ExecutorStats Executor::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  ExecutorStats s = impl_->stats;
  s.queued = static_cast<int64_t>(impl_->queue.size());
  s.stepping = impl_->slots_in_use;
  s.waiting_for_memory = impl_->waiting_for_memory;
  s.cache_bytes_in_use = impl_->cache_in_use;
  s.cache_budget_bytes = impl_->config.cache_budget_bytes;
  return s;
}

void Executor::shutdown(std::chrono::milliseconds grace) {
  {
    std::unique_lock<std::mutex> lock(impl_->mu);
    if (impl_->stopping && impl_->workers.empty() && !impl_->reaper.joinable() &&
        !impl_->stepper.joinable())
      return;
    impl_->accepting = false;
    // Let queued and running work finish within the grace period...
    impl_->idle_cv.wait_for(lock, grace, [&] { return impl_->live.empty(); });
    // ...then cancel what is left: running requests stop within one step; queued ones are
    // started, see the flag at once and answer CANCELLED.
    for (auto& [id, task] : impl_->live) task->cancelled.store(true);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->budget_cv.notify_all();
  for (auto& w : impl_->workers)
    if (w.joinable()) w.join();
  impl_->workers.clear();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->step_stop = true;  // it finishes (cancelled) what it holds, then ends
  }
  impl_->step_cv.notify_all();
  if (impl_->stepper.joinable()) impl_->stepper.join();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->reaper_stop = true;  // it answers what it still holds, then ends
  }
  impl_->reaper_cv.notify_all();
  if (impl_->reaper.joinable()) impl_->reaper.join();
}

const ExecutorConfig& Executor::config() const {
  return impl_->config;
}

}  // namespace shirg
