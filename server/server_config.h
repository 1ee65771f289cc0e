#pragma once
// shirg-server configuration: command-line flags and an optional JSON file (--config FILE).
// Every flag has a JSON key of the same name without the leading dashes ("max-queue", and
// "max_queue" is accepted too). Precedence: built-in defaults < JSON file < command line.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/api/request_limits.h"

namespace shirg::rpc {

// A bad flag, value or config file. The message names the flag / key and the bad value.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ServerConfig {
  // Network (docs/architecture.md "Ports, flags and metrics").
  std::string host = "0.0.0.0";
  int port = 50051;              // 0: the OS chooses (see port_file)
  int metrics_port = 9400;       // 0: the OS chooses; -1: no metrics endpoint
  std::string metrics_host;      // metrics listen address; empty: the same as host
  std::string port_file;         // when set: "grpc=<port>\nmetrics=<port>\n" written after binding
  int64_t max_receive_mib = 32;  // largest request message accepted (gRPC max receive size)
  int http_port = -1;  // OpenAI-compatible HTTP API (also "http=<port>" in port_file); -1: off
  // The HTTP API's transport (server/http; docs/server.md "HTTP transport limits").
  int64_t http_max_body_kib = 0;  // request body (decoded); 0: --max-receive-mib x 4/3 + 64 KiB
  int64_t http_max_request_line_bytes = 8192;
  int64_t http_max_header_line_bytes = 8192;
  int64_t http_max_headers = 100;
  int64_t http_max_head_bytes = 32768;        // request line + headers (+ trailers)
  int64_t http_max_connections = 256;         // open connections (the inference slots are apart)
  int64_t http_max_body_buffer_mib = 256;     // request bodies in memory at once, all together
  int64_t http_header_timeout_ms = 10'000;    // accept / first byte -> end of the request head
  int64_t http_body_timeout_ms = 120'000;     // end of the head -> end of the body
  int64_t http_idle_timeout_ms = 10'000;      // no byte while reading a request or writing
  int64_t http_keepalive_timeout_ms = 5'000;  // idle between requests

  // Model and execution.
  std::string model_dir;
  // --adapter-dir, repeatable: PEFT adapters merged in this order. A config file's list is
  // replaced by the command line's when that gives any.
  std::vector<std::string> adapter_dirs;
  std::string adapter_dir;  // adapter_dirs joined with "," (logs, metrics label); set by validate
  std::string device = "auto";       // auto | cpu | cuda | cuda:N (engine/platform/device.h)
  std::string kernels = "auto";      // auto | generic (engine/platform/kernels.h)
  std::string dtype = "auto";        // auto | bf16 | fp32
  std::string llm_weights = "auto";  // auto | bf16 | fp32 (LLaDA matrix storage under fp32)
  std::string gemm = "auto";         // auto | aten | packed (LLaDA matrices, engine/gemm)
  std::string cache_dtype = "bf16";  // bf16 | fp32 (prefix KV cache; fp32: twice the bytes)
  int threads = 0;                   // LibTorch intra-op threads; 0: number of cores
  int workers = 1;  // prefix workers: threads running the stages before step 0 (and selection maps)
  // Continuous batching: requests holding a slot (prefix stages to last step); every step of the
  // engine loop advances all of them in one batched LLaDA call. 1: one request at a time.
  int max_batch = 4;
  // When batched steps run while a new request's prefix stages do (ExecutorConfig::schedule):
  // interleave (steps never wait for a prefix) | prefix-first (larger batches).
  std::string schedule = "interleave";
  // prefix-first: the longest pause of the running requests' steps for prefix stages, in ms
  // (ExecutorConfig::max_hold; 0: no limit).
  int64_t max_hold_ms = 0;
  // Prefix-cache budget in MiB for the requests holding a slot; -1: half the memory available
  // after the model is loaded; 0: no limit. A request whose cache does not fit waits.
  int64_t cache_budget_mib = -1;
  int64_t max_queue = 16;   // waiting requests beyond the running ones; more: RESOURCE_EXHAUSTED
  bool warmup = true;       // run warm-up request(s) before reporting SERVING
  int warmup_requests = 1;  // how many warm-up requests

  // Request limits.
  int64_t max_image_mib = 32;
  int64_t max_image_pixels = 50'000'000;
  int64_t max_question_bytes = 8192;
  int64_t max_question_tokens = 512;
  int64_t max_gen_length = 1024;
  int64_t max_steps = 1024;

  // Lifecycle.
  double grace_period_seconds = 30;  // SIGTERM/SIGINT: time in-flight requests get to finish

  // Security.
  std::string tls_cert;         // PEM server certificate chain (with tls_key: TLS on)
  std::string tls_key;          // PEM private key
  std::string auth_token;       // non-empty: shirg.v1 RPCs need "authorization: Bearer <token>"
  std::string auth_token_file;  // the token read from a file (trailing whitespace trimmed)

  // Logging.
  std::string log_format = "text";  // text | json (JSON lines)
  std::string log_level = "info";   // trace | debug | info | warn | error

  std::string config_file;  // the --config file that was read, if any

  // The HTTP API's largest request body in bytes (after transfer and content decoding): the
  // base64 of the largest image plus room for the JSON around it, unless --http-max-body-kib.
  int64_t http_body_limit_bytes() const {
    if (http_max_body_kib > 0) return http_max_body_kib << 10;
    return (max_receive_mib << 20) / 3 * 4 + (int64_t{64} << 10);
  }

  // The --max-* request limits, shared by the edge and the engine.
  RequestLimits request_limits() const {
    RequestLimits l;
    l.max_image_bytes = max_image_mib << 20;
    l.max_image_pixels = max_image_pixels;
    l.max_question_bytes = max_question_bytes;
    l.max_question_tokens = max_question_tokens;
    l.max_gen_length = max_gen_length;
    l.max_steps = max_steps;
    return l;
  }
};

// What parse_server_args decided.
struct ParsedArgs {
  ServerConfig config;
  bool help = false;  // --help / -h: print server_help() and exit 0
};

// Parses argv (argv[0] ignored). Reads --config FILE first (wherever it appears), then applies
// the other flags over it. Accepts "--flag value" and "--flag=value"; booleans take
// true|false|1|0|yes|no. Throws ConfigError on unknown flags, bad values, unreadable or invalid
// JSON, and on an inconsistent result (see validate_server_config).
ParsedArgs parse_server_args(int argc, const char* const* argv);
ParsedArgs parse_server_args(const std::vector<std::string>& args);

// Cross-field checks: model_dir set, ports in range, tls_cert and tls_key together, known dtype,
// log format and level, positive limits. Reads auth_token_file into auth_token. Throws ConfigError.
void validate_server_config(ServerConfig& c);

// The --help text: every flag with its value, default and meaning.
std::string server_help();

// Every flag name (without dashes), in --help order; docs/server.md lists the same set.
std::vector<std::string> server_flag_names();

}  // namespace shirg::rpc
