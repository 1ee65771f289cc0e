#include "server/server_config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

namespace shirg::rpc {
namespace {

// One flag: its name, value placeholder, help line and how a textual value is applied.
struct Option {
  const char* name;
  const char* metavar;  // "" for a boolean flag that takes an optional value
  const char* help;
  std::function<std::string(const ServerConfig&)> show;        // the current (default) value
  std::function<void(ServerConfig&, const std::string&)> set;  // throws ConfigError
};

int64_t to_int(const std::string& flag, const std::string& v, int64_t lo, int64_t hi) {
  errno = 0;
  char* end = nullptr;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE)
    throw ConfigError("--" + flag + ": not an integer: '" + v + "'");
  if (x < lo || x > hi)
    throw ConfigError("--" + flag + " must be in [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + "], got " + v);
  return x;
}

double to_double(const std::string& flag, const std::string& v, double lo, double hi) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(x))
    throw ConfigError("--" + flag + ": not a number: '" + v + "'");
  if (x < lo || x > hi) throw ConfigError("--" + flag + " out of range, got " + v);
  return x;
}

bool to_bool(const std::string& flag, const std::string& v) {
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  throw ConfigError("--" + flag + " takes true or false, got '" + v + "'");
}

std::string one_of(const std::string& flag, const std::string& v,
                   std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (v == a) return v;
    list += list.empty() ? a : std::string("|") + a;
  }
  throw ConfigError("--" + flag + " must be " + list + ", got '" + v + "'");
}

std::string join_dirs(const std::vector<std::string>& dirs) {
  std::string out;
  for (const auto& d : dirs) out += (out.empty() ? "" : ",") + d;
  return out;
}

std::string show_double(double d) {
  std::ostringstream os;
  os << d;
  return os.str();
}

constexpr int64_t kMaxI = INT64_C(1) << 53;

#define STR_OPT(NAME, FIELD, META, HELP)                             \
  Option {                                                           \
    NAME, META, HELP, [](const ServerConfig& c) { return c.FIELD; }, \
        [](ServerConfig& c, const std::string& v) { c.FIELD = v; }   \
  }
#define INT_OPT(NAME, FIELD, LO, HI, HELP)                                          \
  Option {                                                                          \
    NAME, "N", HELP, [](const ServerConfig& c) { return std::to_string(c.FIELD); }, \
        [](ServerConfig& c, const std::string& v) {                                 \
          c.FIELD = static_cast<decltype(c.FIELD)>(to_int(NAME, v, LO, HI));        \
        }                                                                           \
  }

const std::vector<Option>& options() {
  static const std::vector<Option> opts = {
      STR_OPT("config", config_file, "FILE",
              "JSON file with any of these flags as keys (\"max-queue\": 4); flags given on the "
              "command line win"),
      STR_OPT("host", host, "ADDR", "gRPC listen address"),
      INT_OPT("port", port, 0, 65535, "gRPC port (0: the OS chooses; see --port-file)"),
      INT_OPT("metrics-port", metrics_port, -1, 65535,
              "Prometheus /metrics HTTP port on --host (0: the OS chooses, -1: disabled)"),
      STR_OPT("metrics-host", metrics_host, "ADDR",
              "metrics listen address, e.g. 127.0.0.1 to keep /metrics on this machine (empty: "
              "--host)"),
      STR_OPT("port-file", port_file, "FILE",
              "after binding, write \"grpc=<port>\" and \"metrics=<port>\" lines to FILE (and "
              "\"http=<port>\" with --http-port)"),
      INT_OPT("max-receive-mib", max_receive_mib, 1, 2047, "largest request message in MiB"),
      INT_OPT("http-port", http_port, -1, 65535,
              "OpenAI-compatible HTTP API (POST /v1/chat/completions, GET /v1/models) on --host, "
              "with the gRPC port's TLS and token (0: the OS chooses, -1: off)"),
      INT_OPT("http-max-body-kib", http_max_body_kib, 0, int64_t{1} << 31,
              "HTTP API: largest request body in KiB, after transfer and content decoding; "
              "larger: 413 before it is read (0: --max-receive-mib x 4/3 + 64 KiB)"),
      INT_OPT("http-max-request-line-bytes", http_max_request_line_bytes, 64, 1 << 20,
              "HTTP API: longest request line (method, target, version); longer: 414"),
      INT_OPT("http-max-header-line-bytes", http_max_header_line_bytes, 64, 1 << 20,
              "HTTP API: longest header line; longer: 431"),
      INT_OPT("http-max-headers", http_max_headers, 1, 10000,
              "HTTP API: most header lines in a request; more: 431"),
      INT_OPT("http-max-head-bytes", http_max_head_bytes, 256, 16 << 20,
              "HTTP API: largest request head (request line and headers); larger: 431"),
      INT_OPT("http-max-connections", http_max_connections, 1, 100000,
              "HTTP API: open connections; a new one replaces the oldest idle one, else 429 "
              "(apart from the inference slots, --max-batch and --max-queue)"),
      INT_OPT("http-max-body-buffer-mib", http_max_body_buffer_mib, 1, int64_t{1} << 20,
              "HTTP API: request bodies held in memory at once, all connections together; a "
              "request whose body does not fit gets 429 before it is read"),
      INT_OPT("http-header-timeout-ms", http_header_timeout_ms, 1, 3'600'000,
              "HTTP API: time from the connection (or a request's first byte) to the end of "
              "the request head; then 408"),
      INT_OPT("http-body-timeout-ms", http_body_timeout_ms, 1, 3'600'000,
              "HTTP API: time from the end of the head to the end of the body; then 408"),
      INT_OPT("http-idle-timeout-ms", http_idle_timeout_ms, 1, 3'600'000,
              "HTTP API: no byte received while a request is read (408), or none taken by the "
              "client while a response waits (closed)"),
      INT_OPT("http-keepalive-timeout-ms", http_keepalive_timeout_ms, 1, 3'600'000,
              "HTTP API: idle time between requests on a kept-alive connection; then closed"),
      STR_OPT("model-dir", model_dir, "DIR", "LaViDa-format checkpoint directory (required)"),
      Option{"adapter-dir", "DIR",
             "PEFT LoRA adapter merged at load into the SHIRG modes' weights (repeatable: "
             "applied in order; LaViDa's own modes keep the base weights)",
             [](const ServerConfig& c) { return join_dirs(c.adapter_dirs); },
             [](ServerConfig& c, const std::string& v) {
               if (v.empty()) throw ConfigError("--adapter-dir must not be empty");
               c.adapter_dirs.push_back(v);
             }},
      Option{"device", "auto|cpu|cuda|cuda:N",
             "where the model runs (auto: the first CUDA device LibTorch sees, else the CPU); "
             "a CUDA device that is not visible stops the server at start with one line",
             [](const ServerConfig& c) { return c.device; },
             [](ServerConfig& c, const std::string& v) {
               const bool cuda_n = v.rfind("cuda:", 0) == 0 && v.size() > 5 && v.size() <= 8 &&
                                   v.find_first_not_of("0123456789", 5) == std::string::npos;
               if (!cuda_n && v != "auto" && v != "cpu" && v != "cuda")
                 throw ConfigError("--device must be auto|cpu|cuda|cuda:N, got '" + v + "'");
               c.device = v;
             }},
      Option{"kernels", "auto|generic",
             "auto: the CPU-specialised kernels on the CPU (packed GEMMs, the cached-step "
             "attention), the generic path on a GPU; generic: the generic path (what CUDA runs) "
             "on every device",
             [](const ServerConfig& c) { return c.kernels; },
             [](ServerConfig& c, const std::string& v) {
               c.kernels = one_of("kernels", v, {"auto", "generic"});
             }},
      Option{"dtype", "auto|bf16|fp32",
             "compute dtype (auto: bf16 on a GPU or where the CPU has native bf16, else fp32)",
             [](const ServerConfig& c) { return c.dtype; },
             [](ServerConfig& c, const std::string& v) {
               c.dtype = one_of("dtype", v, {"auto", "bf16", "fp32"});
             }},
      Option{"llm-weights", "auto|bf16|fp32",
             "storage of the LLaDA matrices under fp32 compute (auto: fp32 when the model fits "
             "in memory, else bf16 upcast per use at half the memory)",
             [](const ServerConfig& c) { return c.llm_weights; },
             [](ServerConfig& c, const std::string& v) {
               c.llm_weights = one_of("llm-weights", v, {"auto", "bf16", "fp32"});
             }},
      Option{"gemm", "auto|aten|packed",
             "how the LLaDA matrices run on the CPU (auto: packed once at load into oneDNN's "
             "blocked layout where it has one for this CPU and dtype, else LibTorch's linear; "
             "aten: LibTorch's linear; packed: oneDNN or refuse to start)",
             [](const ServerConfig& c) { return c.gemm; },
             [](ServerConfig& c, const std::string& v) {
               c.gemm = one_of("gemm", v, {"auto", "aten", "packed"});
             }},
      Option{"cache-dtype", "bf16|fp32",
             "prefix KV cache storage (fp32: twice the bytes; with --dtype fp32 exact to the "
             "fp32 computation)",
             [](const ServerConfig& c) { return c.cache_dtype; },
             [](ServerConfig& c, const std::string& v) {
               c.cache_dtype = one_of("cache-dtype", v, {"bf16", "fp32"});
             }},
      INT_OPT("threads", threads, 0, 4096, "LibTorch intra-op threads (0: number of cores)"),
      INT_OPT("workers", workers, 1, 256,
              "prefix workers: threads that run the stages before the denoising steps"),
      INT_OPT("max-batch", max_batch, 1, 256,
              "continuous batching: requests whose denoising steps run together in one batched "
              "call (1: one request at a time)"),
      Option{"schedule", "interleave|prefix-first",
             "interleave: denoising steps go on while new requests' prefixes are computed; "
             "prefix-first: steps wait while a prefix is computed, so requests admitted together "
             "step as one batch (more throughput, step events may pause for a prefix)",
             [](const ServerConfig& c) { return c.schedule; },
             [](ServerConfig& c, const std::string& v) {
               c.schedule = one_of("schedule", v, {"interleave", "prefix-first"});
             }},
      INT_OPT("max-hold-ms", max_hold_ms, 0, 3'600'000,
              "prefix-first: the longest pause, in ms, of the running requests' steps while new "
              "requests' prefixes are computed (then one step runs; 0: no limit)"),
      INT_OPT("cache-budget-mib", cache_budget_mib, -1, kMaxI,
              "prefix-cache memory of the running requests in MiB; a request that does not fit "
              "waits (-1: half the memory available after loading the model, 0: no limit)"),
      INT_OPT("max-queue", max_queue, 1, 1000000,
              "requests waiting beyond the running ones; more are refused with RESOURCE_EXHAUSTED "
              "(every request waits in the queue first, so at least 1)"),
      Option{"warmup", "true|false", "run warm-up request(s) before health reports SERVING",
             [](const ServerConfig& c) { return std::string(c.warmup ? "true" : "false"); },
             [](ServerConfig& c, const std::string& v) { c.warmup = to_bool("warmup", v); }},
      INT_OPT("warmup-requests", warmup_requests, 1, 1000, "number of warm-up requests"),
      INT_OPT("max-image-mib", max_image_mib, 1, 2047, "largest encoded image in MiB"),
      INT_OPT("max-image-pixels", max_image_pixels, 1, kMaxI,
              "largest decoded image (width x height)"),
      INT_OPT("max-question-bytes", max_question_bytes, 1, 1 << 20,
              "longest question in UTF-8 bytes"),
      INT_OPT("max-question-tokens", max_question_tokens, 1, 1 << 20, "longest question in tokens"),
      INT_OPT("max-gen-length", max_gen_length, 1, 1 << 20, "largest generation.gen_length"),
      INT_OPT("max-steps", max_steps, 1, 1 << 20, "largest number of denoising steps"),
      Option{
          "grace-period-seconds", "S",
          "on SIGTERM/SIGINT: seconds in-flight requests get to finish before they are cancelled",
          [](const ServerConfig& c) { return show_double(c.grace_period_seconds); },
          [](ServerConfig& c, const std::string& v) {
            c.grace_period_seconds = to_double("grace-period-seconds", v, 0, 86400);
          }},
      STR_OPT("tls-cert", tls_cert, "FILE", "PEM server certificate chain (TLS on with --tls-key)"),
      STR_OPT("tls-key", tls_key, "FILE", "PEM private key of --tls-cert"),
      Option{"auth-token", "TOKEN",
             "require \"authorization: Bearer TOKEN\" on shirg.v1 RPCs (health and reflection "
             "stay open); an empty TOKEN is refused",
             [](const ServerConfig& c) { return c.auth_token; },
             [](ServerConfig& c, const std::string& v) {
               // An unset shell variable (--auth-token "$TOKEN") must not start an open server.
               if (v.empty())
                 throw ConfigError(
                     "--auth-token is empty (an unset variable?); give a token, or leave the "
                     "flag out to run without authentication");
               c.auth_token = v;
             }},
      STR_OPT("auth-token-file", auth_token_file, "FILE",
              "read the bearer token from FILE (keeps it out of the process list)"),
      Option{"log-format", "text|json", "log lines as text or JSON lines",
             [](const ServerConfig& c) { return c.log_format; },
             [](ServerConfig& c, const std::string& v) {
               c.log_format = one_of("log-format", v, {"text", "json"});
             }},
      Option{"log-level", "LEVEL", "trace|debug|info|warn|error",
             [](const ServerConfig& c) { return c.log_level; },
             [](ServerConfig& c, const std::string& v) {
               c.log_level = one_of("log-level", v, {"trace", "debug", "info", "warn", "error"});
             }},
  };
  return opts;
}

#undef STR_OPT
#undef INT_OPT

const Option* find_option(std::string name) {
  for (char& ch : name)
    if (ch == '_') ch = '-';
  for (const Option& o : options())
    if (name == o.name) return &o;
  return nullptr;
}

std::string read_text_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot read " + what + " '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// JSON scalars become the same text a flag would carry.
std::string json_scalar(const std::string& key, const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_float()) {
    std::ostringstream os;
    os.precision(17);
    os << v.get<double>();
    return os.str();
  }
  throw ConfigError("config key \"" + key + "\" must be a string, number or boolean");
}

void apply_json_file(const std::string& path, ServerConfig& c) {
  const std::string text = read_text_file(path, "config file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError("config file '" + path + "' is not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw ConfigError("config file '" + path + "' must hold a JSON object");
  for (const auto& [key, value] : j.items()) {
    const Option* o = find_option(key);
    if (!o || std::string(o->name) == "config")
      throw ConfigError("config file '" + path + "': unknown key \"" + key + "\"");
    try {
      if (value.is_array() && std::string(o->name) == "adapter-dir") {
        for (const auto& item : value) o->set(c, json_scalar(key, item));
      } else {
        o->set(c, json_scalar(key, value));
      }
    } catch (const ConfigError& e) {
      throw ConfigError("config file '" + path + "': " + e.what());
    }
  }
}

std::string trim_right(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.pop_back();
  return s;
}

}  // namespace

ParsedArgs parse_server_args(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return parse_server_args(args);
}

ParsedArgs parse_server_args(const std::vector<std::string>& args) {
  // Split into (flag, value) pairs first so --config can be applied before everything else.
  std::vector<std::pair<const Option*, std::string>> given;
  ParsedArgs out;
  for (const auto& a : args)
    if (a == "-h" || a == "--help") out.help = true;
  if (out.help) return out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a.rfind("--", 0) != 0)
      throw ConfigError("unexpected argument '" + a + "' (flags start with --)");
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const Option* o = find_option(name);
    if (!o) throw ConfigError("unknown flag --" + name + " (see --help)");
    if (!has_value) {
      const bool boolean = std::string(o->metavar) == "true|false";
      const bool next_is_value = i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0;
      if (boolean && !next_is_value) {
        value = "true";  // bare --warmup
      } else {
        if (i + 1 >= args.size()) throw ConfigError("--" + name + " needs a value");
        value = args[++i];
      }
    }
    given.emplace_back(o, value);
  }
  ServerConfig& c = out.config;
  for (const auto& [o, v] : given)
    if (std::string(o->name) == "config") c.config_file = v;
  if (!c.config_file.empty()) apply_json_file(c.config_file, c);
  for (const auto& [o, v] : given)  // the command line's adapters replace the file's
    if (std::string(o->name) == "adapter-dir") c.adapter_dirs.clear();
  for (const auto& [o, v] : given) o->set(c, v);
  validate_server_config(c);
  return out;
}

void validate_server_config(ServerConfig& c) {
  if (c.model_dir.empty()) throw ConfigError("--model-dir is required");
  c.adapter_dir = join_dirs(c.adapter_dirs);
  if (c.host.empty()) throw ConfigError("--host must not be empty");
  if (c.tls_cert.empty() != c.tls_key.empty())
    throw ConfigError("--tls-cert and --tls-key must be given together");
  if (!c.auth_token.empty() && !c.auth_token_file.empty())
    throw ConfigError("give --auth-token or --auth-token-file, not both");
  if (!c.auth_token_file.empty()) {
    c.auth_token = trim_right(read_text_file(c.auth_token_file, "--auth-token-file"));
    if (c.auth_token.empty())
      throw ConfigError("--auth-token-file '" + c.auth_token_file + "' is empty");
  }
  for (char ch : c.auth_token)
    if (ch < 0x21 || ch > 0x7e)
      throw ConfigError("the auth token must be printable ASCII without spaces");
  if (c.metrics_port != -1 && c.metrics_port != 0 && c.metrics_port == c.port)
    throw ConfigError("--metrics-port must differ from --port");
  if (c.http_port > 0 && (c.http_port == c.port || c.http_port == c.metrics_port))
    throw ConfigError("--http-port must differ from --port and --metrics-port");
  if (c.http_max_head_bytes < std::max(c.http_max_request_line_bytes, c.http_max_header_line_bytes))
    throw ConfigError("--http-max-head-bytes (" + std::to_string(c.http_max_head_bytes) +
                      ") must be at least --http-max-request-line-bytes and "
                      "--http-max-header-line-bytes");
  if ((c.http_max_body_buffer_mib << 20) < c.http_body_limit_bytes())
    throw ConfigError("--http-max-body-buffer-mib (" + std::to_string(c.http_max_body_buffer_mib) +
                      " MiB) must hold one largest request body (" +
                      std::to_string(c.http_body_limit_bytes()) + " bytes)");
  if (c.max_image_mib > c.max_receive_mib)
    throw ConfigError("--max-image-mib (" + std::to_string(c.max_image_mib) +
                      ") must not exceed --max-receive-mib (" + std::to_string(c.max_receive_mib) +
                      ")");
}

std::string server_help() {
  ServerConfig defaults;
  std::ostringstream os;
  os << "usage: shirg-server --model-dir DIR [flags]\n"
        "\n"
        "gRPC inference server for LaViDa-class diffusion vision-language models "
        "(shirg.v1.Inference,\n"
        "grpc.health.v1.Health, server reflection) with Prometheus metrics over HTTP.\n"
        "Flags take \"--flag VALUE\" or \"--flag=VALUE\"; every flag is also a key of the --config "
        "file.\n"
        "\n";
  for (const Option& o : options()) {
    std::string lhs = std::string("  --") + o.name;
    if (*o.metavar) lhs += std::string(" ") + o.metavar;
    os << lhs;
    if (lhs.size() < 34)
      os << std::string(34 - lhs.size(), ' ');
    else
      os << "\n" << std::string(34, ' ');
    os << o.help;
    const std::string def = o.show(defaults);
    if (std::string(o.name) != "config") os << " [default: " << (def.empty() ? "none" : def) << "]";
    os << "\n";
  }
  os << "  -h, --help                        print this help and exit\n"
        "\n"
        "Signals: SIGTERM/SIGINT drain (health NOT_SERVING, new requests UNAVAILABLE, in-flight "
        "ones\n"
        "get --grace-period-seconds, then are cancelled) and exit 0; a second signal cancels at "
        "once.\n"
        "Exit status: 0 clean shutdown, 1 start-up failure (model, ports, TLS files), 2 bad "
        "flags.\n";
  return os.str();
}

std::vector<std::string> server_flag_names() {
  std::vector<std::string> names;
  for (const Option& o : options()) names.emplace_back(o.name);
  return names;
}

}  // namespace shirg::rpc
