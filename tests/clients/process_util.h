// Test helpers: run a command and capture its output / exit status; start a background process
// (a server) and stop it. POSIX only.
#pragma once

#include <string>
#include <vector>

namespace shirg::test {

struct RunResult {
  int exit_code = -1;  // the process's exit status; 128+N when killed by signal N
  std::string out, err;
};

// Runs argv[0] with the arguments (no shell), stdin from /dev/null, with a time limit
// (killed with SIGKILL after timeout_s seconds; exit_code is then 128+9).
RunResult run(const std::vector<std::string>& argv, double timeout_s = 120);

// A background process whose stdout+stderr go to log_path; killed (SIGTERM, then SIGKILL after
// 10 s) when destroyed.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::string& log_path);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  bool running();
  // Sends SIGTERM and waits up to timeout_s; returns the exit status (or -1 if it had to be
  // killed).
  int stop(double timeout_s = 10);
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
  int status_ = -1;
  bool reaped_ = false;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();
// Reads a whole file ("" if missing).
std::string slurp(const std::string& path);

}  // namespace shirg::test
