// What shirg-client and shirg-loadtest share on the gRPC side: connection flags (address, TLS,
// token, deadline), status-code names and exit codes, and the request options of the proto.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "clients/args.h"
#include "proto/grpc_status_name.h"
#include "shirg/v1/inference.grpc.pb.h"

namespace shirg::clients {

// Exit statuses of both tools (docs/clients.md). An RPC that fails with gRPC status code C
// exits with kExitRpcBase + C (e.g. INVALID_ARGUMENT=3 -> 13, UNAVAILABLE=14 -> 24).
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;     // anything else (load test with failed requests, ...)
constexpr int kExitUsage = 2;       // bad command line
constexpr int kExitLocalIo = 3;     // cannot read an input / write an output file
constexpr int kExitNotServing = 4;  // --health answered NOT_SERVING / UNKNOWN
constexpr int kExitRpcBase = 10;
int exit_code_for(grpc::StatusCode code);

// "CODE: message" as printed by the tools.
std::string format_status(const grpc::Status& status);

struct ConnectionOptions {
  std::string addr = "localhost:50051";
  bool tls = false;
  std::string ca_cert_pem, client_cert_pem, client_key_pem, tls_server_name;
  std::string token;     // sent as "authorization: Bearer <token>" when not empty
  double timeout_s = 0;  // per-call deadline; <= 0 means none
};

// Registers --addr --tls --ca-cert --client-cert --client-key --tls-server-name --token --timeout.
void add_connection_options(ArgParser& args, const std::string& default_timeout_s);
// Reads them (certificate files are read here: LocalIoError when unreadable). --token falls back
// to the SHIRG_TOKEN environment variable.
ConnectionOptions connection_options(const ArgParser& args);

struct LocalIoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
std::string read_file(const std::string& path);                      // throws LocalIoError
void write_file(const std::string& path, const std::string& bytes);  // throws LocalIoError

std::shared_ptr<grpc::Channel> make_channel(const ConnectionOptions& c);
// Sets the deadline (now + timeout) and the authorization metadata on a fresh context.
void prepare_context(grpc::ClientContext& ctx, const ConnectionOptions& c);

// Registers the GenerationOptions / SelectionOptions flags of the proto (docs/clients.md):
// add_request_options registers both groups.
void add_generation_options(ArgParser& args);
void add_selection_options(ArgParser& args);
void add_request_options(ArgParser& args);
// Builds the proto messages; only options given on the command line are set (others stay unset
// so the server applies its defaults). Throws UsageError on unknown enum names.
// generation_options needs add_generation_options, selection_options add_selection_options.
shirg::v1::GenerationOptions generation_options(const ArgParser& args);
shirg::v1::SelectionOptions selection_options(const ArgParser& args);

// Enum names as used on the command line: "shirg", "baseline-384", "low-confidence", ...
shirg::v1::SelectionMode parse_selection_mode(const std::string& s);
shirg::v1::Remasking parse_remasking(const std::string& s);
shirg::v1::Schedule parse_schedule(const std::string& s);

// A message as JSON with the proto field names and every field printed (also zero ones).
std::string to_json(const google::protobuf::Message& m, bool pretty);

}  // namespace shirg::clients
