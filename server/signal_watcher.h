#pragma once
// SIGTERM / SIGINT handling without async-signal hazards: the signals are blocked in every
// thread (construct this before starting any other thread) and a dedicated thread receives
// them with sigwait(). SIGPIPE is ignored.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace shirg::rpc {

class SignalWatcher {
 public:
  SignalWatcher();
  ~SignalWatcher();  // stops the watcher thread
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // Number of SIGTERM/SIGINT received so far (1: drain, 2 or more: cancel at once).
  int count() const { return count_.load(); }
  // Waits until at least `n` signals arrived or `timeout` passed; true if they arrived.
  bool wait_for(int n, std::chrono::milliseconds timeout);
  // Waits without a time limit until at least `n` signals arrived.
  void wait(int n);

 private:
  void run();
  std::atomic<int> count_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace shirg::rpc
