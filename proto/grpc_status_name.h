#pragma once
// The canonical upper-case name of a gRPC status code ("INVALID_ARGUMENT", ...), shared by the
// server (metric labels, logs) and the clients (messages, load-test reports). Codes outside the
// canonical set are named "CODE_<n>".
#include <grpcpp/support/status.h>

#include <string>

namespace shirg {

std::string grpc_status_name(grpc::StatusCode code);

}  // namespace shirg
