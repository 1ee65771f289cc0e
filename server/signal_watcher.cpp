#include "server/signal_watcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace shirg::rpc {
namespace {

// Process-wide state touched by the signal handler (lock-free atomics and a pipe only).
std::atomic<int> g_count{0};
int g_pipe[2] = {-1, -1};

void on_signal(int) {
  const int saved = errno;
  g_count.fetch_add(1);
  if (g_pipe[1] >= 0) {
    const char b = 1;
    [[maybe_unused]] const ssize_t n = write(g_pipe[1], &b, 1);
  }
  errno = saved;
}

}  // namespace

SignalWatcher::SignalWatcher() {
  if (pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    throw std::runtime_error("cannot create the signal pipe");
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (sigaction(SIGTERM, &sa, nullptr) != 0 || sigaction(SIGINT, &sa, nullptr) != 0)
    throw std::runtime_error("cannot install the SIGTERM/SIGINT handlers");
  signal(SIGPIPE, SIG_IGN);
  thread_ = std::thread([this] { run(); });
}

SignalWatcher::~SignalWatcher() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
}

int SignalWatcher::count() const {
  return g_count.load();
}

void SignalWatcher::run() {
  while (!stop_.load()) {
    pollfd p{g_pipe[0], POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[16];
      while (read(g_pipe[0], buf, sizeof buf) > 0) {
      }
      { std::lock_guard<std::mutex> lock(mu_); }  // pairs with the waiters' predicate check
      cv_.notify_all();
    }
  }
}

bool SignalWatcher::wait_for(int n, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return g_count.load() >= n; });
}

void SignalWatcher::wait(int n) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return g_count.load() >= n; });
}

}  // namespace shirg::rpc
