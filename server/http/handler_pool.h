#pragma once
// A fixed set of threads running posted jobs in order of arrival (the HTTP handlers that may
// take milliseconds). Jobs still queued at stop() are dropped, running ones finish.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace shirg::http {

class HandlerPool {
 public:
  explicit HandlerPool(int threads);
  ~HandlerPool();  // stop()
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  void post(std::function<void()> job);  // ignored after stop()
  void stop();                           // idempotent; joins the threads

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopped_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace shirg::http
