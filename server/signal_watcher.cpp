#include "server/signal_watcher.h"

#include <pthread.h>
#include <signal.h>

#include <cstring>
#include <ctime>

namespace shirg::rpc {
namespace {

sigset_t watched_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

SignalWatcher::SignalWatcher() {
  signal(SIGPIPE, SIG_IGN);
  sigset_t set = watched_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // inherited by every thread started later
  thread_ = std::thread([this] { run(); });
}

SignalWatcher::~SignalWatcher() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void SignalWatcher::run() {
  const sigset_t set = watched_set();
  const timespec tick{0, 100 * 1000 * 1000};  // re-check stop_ every 100 ms
  while (!stop_.load()) {
    siginfo_t info;
    const int sig = sigtimedwait(&set, &info, &tick);
    if (sig == SIGTERM || sig == SIGINT) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        count_.fetch_add(1);
      }
      cv_.notify_all();
    }
  }
}

bool SignalWatcher::wait_for(int n, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return count_.load() >= n; });
}

void SignalWatcher::wait(int n) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return count_.load() >= n; });
}

}  // namespace shirg::rpc
