#pragma once
// A RequestObserver for executor tests: counts step events, runs an optional hook on each (it runs
// on the executor's step loop) and on the prefix-ready event (on the prefix worker, inside the
// prefix stages), keeps the outcome; wait() is bounded.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

#include "engine/api/observer.h"

namespace shirg::testing {

struct Recorder : RequestObserver {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status status;
  GenerateResult result;
  std::atomic<int> steps{0};
  std::atomic<bool> prefix_ready{false};
  std::function<void(const StepEvent&)> on_step_hook;
  std::function<void()> on_prefix_ready_hook;
  void on_prefix_ready(const PrefixReadyEvent&) override {
    prefix_ready = true;
    if (on_prefix_ready_hook) on_prefix_ready_hook();
  }
  void on_step(const StepEvent& e) override {
    ++steps;
    if (on_step_hook) on_step_hook(e);
  }
  void on_done(const Status& s, const GenerateResult& r) override {
    std::lock_guard<std::mutex> l(mu);
    status = s;
    result = r;
    done = true;
    cv.notify_all();
  }
  bool wait(std::chrono::seconds limit = std::chrono::seconds(180)) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, limit, [&] { return done; });
  }
};

}  // namespace shirg::testing
