#pragma once
// SIGTERM / SIGINT handling that works whichever thread the kernel picks (LibTorch and gRPC
// start threads of their own, some before main): an async-signal-safe handler counts the signal
// and writes one byte to a self-pipe; a watcher thread turns that into condition-variable
// wake-ups. SIGPIPE is ignored. One instance per process.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace shirg::rpc {

class SignalWatcher {
 public:
  SignalWatcher();   // installs the handlers; throws std::runtime_error if that fails
  ~SignalWatcher();  // restores the default handlers, stops the watcher thread
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // Number of SIGTERM/SIGINT received so far (1: drain, 2 or more: cancel at once).
  int count() const;
  // Waits until at least `n` signals arrived or `timeout` passed; true if they arrived.
  bool wait_for(int n, std::chrono::milliseconds timeout);
  // Waits without a time limit until at least `n` signals arrived.
  void wait(int n);

 private:
  void run();
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace shirg::rpc
