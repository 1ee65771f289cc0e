#pragma once
// The shirg-server process: start-up, serving and graceful shutdown.
//
// Start-up: signals blocked (SignalWatcher), logging, metrics endpoint, gRPC server with health
// (NOT_SERVING) and reflection, --port-file written, LibTorch threads, model load, Executor,
// warm-up, then health SERVING and shirg.v1 calls admitted.
// SIGTERM/SIGINT: health NOT_SERVING, new shirg.v1 calls answered UNAVAILABLE, in-flight calls
// get --grace-period-seconds to finish (a second signal ends the wait), the rest is cancelled
// (each call still gets its status), the gRPC server stops, exit status 0.
#include "server/server_config.h"

namespace shirg::rpc {

// Runs the server until a shutdown signal. Returns the process exit status: 0 after a clean
// shutdown, 1 when start-up fails (ports, TLS files, model, warm-up).
int run_server(const ServerConfig& config);

}  // namespace shirg::rpc
