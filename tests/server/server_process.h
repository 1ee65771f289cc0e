#pragma once
// A real shirg-server process for integration tests: started on 127.0.0.1 with OS-chosen gRPC
// and metrics ports (read back from --port-file), logs in a private temp directory, and always
// reaped: the destructor kills a process that is still running, and the child dies with the
// test process (PR_SET_PDEATHSIG). Every wait is bounded.
#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace shirg::testing {

struct ServerLaunch {
  std::vector<std::string> extra_args;  // appended to the defaults (later flags win)
  bool wait_serving = true;             // wait until health reports SERVING
  std::chrono::seconds timeout{180};    // for the port file and for SERVING
};

class ServerProcess {
 public:
  // Throws std::runtime_error (with the server log) if the process exits or times out first.
  explicit ServerProcess(ServerLaunch launch = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  int http_port() const { return http_port_; }  // -1 unless launched with --http-port
  std::string address() const { return "127.0.0.1:" + std::to_string(grpc_port_); }
  const std::string& dir() const { return dir_; }  // private temp directory
  std::string log() const;                         // everything the server wrote so far

  // Plaintext channel to the server.
  std::shared_ptr<grpc::Channel> channel() const;

  // Sends SIGTERM and waits up to `timeout` for the exit. Returns the exit status, or nullopt
  // if it did not exit in time (it is then killed) or died from a signal.
  std::optional<int> terminate(std::chrono::seconds timeout = std::chrono::seconds(60));
  void send_signal(int sig) const;
  // Waits up to `timeout` for the process to exit by itself; exit status as in terminate().
  std::optional<int> wait_exit(std::chrono::seconds timeout);
  bool running();

  // Default arguments every launch gets (before extra_args).
  static std::vector<std::string> default_args(const std::string& dir);

 private:
  void wait_for_ports(std::chrono::seconds timeout);
  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_status_ = -1;
  std::string dir_;
  int grpc_port_ = 0;
  int metrics_port_ = -1;
  int http_port_ = -1;
};

// Paths of the artefacts the tests use (built by CMake before the tests run).
std::string server_binary();
std::string offline_binary();  // "" when shirg-offline is not built
std::string tiny_model_dir();

// Runs a shell command, returns its exit status and stdout.
int run_command(const std::string& cmd, std::string* out);
std::string write_temp_file(const std::string& dir, const std::string& name,
                            const std::string& bytes);

}  // namespace shirg::testing
