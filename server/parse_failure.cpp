#include "server/parse_failure.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <string>

namespace shirg::rpc {
namespace {

constexpr const char* kPrefix = "/shirg.v1.Inference/";

class ParseFailureInterceptor final : public grpc::experimental::Interceptor {
 public:
  ParseFailureInterceptor(ServerMetrics& metrics, std::string rpc)
      : metrics_(metrics), rpc_(std::move(rpc)), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* m) override {
    using H = grpc::experimental::InterceptionHookPoints;
    if (m->QueryInterceptionHookPoint(H::PRE_SEND_STATUS)) {
      const grpc::Status s = m->GetSendStatus();
      // Our reactors never answer UNIMPLEMENTED; gRPC does, with no message, exactly when the
      // request message failed to deserialize.
      if (s.error_code() == grpc::StatusCode::UNIMPLEMENTED && s.error_message().empty()) {
        const std::string msg = "the request is not a valid shirg.v1 " + rpc_ +
                                " message (protobuf parsing failed, e.g. a string field with "
                                "invalid UTF-8)";
        m->ModifySendStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, msg));
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        metrics_.record_request(rpc_, "INVALID_ARGUMENT", secs);
        spdlog::warn("{} INVALID_ARGUMENT in {:.1f} ms: {}", rpc_, secs * 1000.0, msg);
      }
    }
    m->Proceed();
  }

 private:
  ServerMetrics& metrics_;
  std::string rpc_;
  std::chrono::steady_clock::time_point start_;
};

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(ServerMetrics& metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    const char* method = info->method();
    if (!method || std::strncmp(method, kPrefix, std::strlen(kPrefix)) != 0) return nullptr;
    return new ParseFailureInterceptor(metrics_, method + std::strlen(kPrefix));
  }

 private:
  ServerMetrics& metrics_;
};

}  // namespace

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
parse_failure_interceptors(ServerMetrics& metrics) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> out;
  out.push_back(std::make_unique<Factory>(metrics));
  return out;
}

}  // namespace shirg::rpc
