#include "tests/server/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"

namespace shirg::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<int> decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return std::nullopt;
}

}  // namespace

std::string server_binary() {
  return SHIRG_SERVER_BIN;
}
std::string offline_binary() {
  return SHIRG_OFFLINE_BIN;
}
std::string tiny_model_dir() {
  return std::string(SHIRG_BINARY_DIR) + "/models/tiny";
}

int run_command(const std::string& cmd, std::string* out) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  const int status = pclose(p);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string write_temp_file(const std::string& dir, const std::string& name,
                            const std::string& bytes) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::vector<std::string> ServerProcess::default_args(const std::string& dir) {
  return {"--model-dir",
          tiny_model_dir(),
          "--host",
          "127.0.0.1",
          "--port",
          "0",
          "--metrics-port",
          "0",
          "--port-file",
          dir + "/ports",
          "--threads",
          "1",
          "--grace-period-seconds",
          "30"};
}

ServerProcess::ServerProcess(ServerLaunch launch) {
  char tmpl[] = "/tmp/shirg_server_test_XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  std::vector<std::string> args = {server_binary()};
  for (auto& a : default_args(dir_)) args.push_back(a);
  for (auto& a : launch.extra_args) args.push_back(a);
  const std::string log_path = dir_ + "/server.log";

  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
    if (getppid() != parent) _exit(127);
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    std::fprintf(stderr, "execv %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  try {
    wait_for_ports(launch.timeout);
    if (launch.wait_serving) {
      const auto until = Clock::now() + launch.timeout;
      auto stub = grpc::health::v1::Health::NewStub(channel());
      for (;;) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
        grpc::health::v1::HealthCheckRequest req;
        grpc::health::v1::HealthCheckResponse resp;
        const grpc::Status s = stub->Check(&ctx, req, &resp);
        if (s.ok() && resp.status() == grpc::health::v1::HealthCheckResponse::SERVING) break;
        if (!running()) throw std::runtime_error("shirg-server exited before SERVING");
        if (Clock::now() > until) throw std::runtime_error("shirg-server not SERVING in time");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  } catch (const std::exception& e) {
    const std::string log_text = log();
    if (running()) {
      kill(pid_, SIGKILL);
      wait_exit(std::chrono::seconds(10));
    }
    throw std::runtime_error(std::string(e.what()) + "\n--- server log ---\n" + log_text);
  }
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && running()) {
    kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds(10));
  }
  if (!dir_.empty()) {
    const std::string cmd = "rm -rf '" + dir_ + "'";
    std::system(cmd.c_str());
  }
}

void ServerProcess::wait_for_ports(std::chrono::seconds timeout) {
  const auto until = Clock::now() + timeout;
  const std::string path = dir_ + "/ports";
  for (;;) {
    std::ifstream in(path);
    if (in) {
      std::string line;
      while (std::getline(in, line)) {
        if (line.rfind("grpc=", 0) == 0) grpc_port_ = std::stoi(line.substr(5));
        if (line.rfind("metrics=", 0) == 0) metrics_port_ = std::stoi(line.substr(8));
        if (line.rfind("http=", 0) == 0) http_port_ = std::stoi(line.substr(5));
      }
      if (grpc_port_ > 0) return;
    }
    if (!running()) throw std::runtime_error("shirg-server exited before binding its ports");
    if (Clock::now() > until)
      throw std::runtime_error("shirg-server did not write its port file in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string ServerProcess::log() const {
  return read_all(dir_ + "/server.log");
}

std::shared_ptr<grpc::Channel> ServerProcess::channel() const {
  return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
}

bool ServerProcess::running() {
  if (reaped_) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    exit_status_ = status;
    return false;
  }
  return r == 0;
}

void ServerProcess::send_signal(int sig) const {
  if (!reaped_) kill(pid_, sig);
}

std::optional<int> ServerProcess::wait_exit(std::chrono::seconds timeout) {
  const auto until = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() > until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return decode_status(exit_status_);
}

std::optional<int> ServerProcess::terminate(std::chrono::seconds timeout) {
  send_signal(SIGTERM);
  auto r = wait_exit(timeout);
  if (!r && running()) {
    kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds(10));
    return std::nullopt;
  }
  return r;
}

}  // namespace shirg::testing
