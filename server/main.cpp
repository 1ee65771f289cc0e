// shirg-server: the gRPC inference server (see docs/server.md).
#include <cstdio>

#include "engine/platform/device.h"
#include "engine/platform/process_setup.h"
#include "server/server_app.h"
#include "server/server_config.h"

int main(int argc, char** argv) {
  shirg::prepare_process(argv);  // first: before any thread starts
  shirg::rpc::ParsedArgs args;
  try {
    args = shirg::rpc::parse_server_args(argc, argv);
  } catch (const shirg::rpc::ConfigError& e) {
    std::fprintf(stderr, "shirg-server: %s\n", e.what());
    return 2;
  }
  if (args.help) {
    std::fputs(shirg::rpc::server_help().c_str(), stdout);
    return 0;
  }
  try {
    shirg::resolve_device(args.config.device);  // a GPU that is not there: one line, exit 2
  } catch (const shirg::DeviceError& e) {
    std::fprintf(stderr, "shirg-server: %s\n", e.what());
    return 2;
  }
  return shirg::rpc::run_server(args.config);
}
