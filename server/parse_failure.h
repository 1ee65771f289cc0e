#pragma once
// Requests gRPC cannot parse into their protobuf type (e.g. a string field holding invalid
// UTF-8, which only a hand-made message can contain). gRPC 1.51's callback layer answers them
// before our reactors run, with UNIMPLEMENTED and an empty message; this server interceptor
// turns that into INVALID_ARGUMENT with a clear message, counts the call in
// shirg_requests_total and logs it like every other call.
#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <vector>

#include "server/server_metrics.h"

namespace shirg::rpc {

// One factory for ServerBuilder::experimental().SetInterceptorCreators; applies to shirg.v1
// methods only. `metrics` must outlive the server.
std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
parse_failure_interceptors(ServerMetrics& metrics);

}  // namespace shirg::rpc
