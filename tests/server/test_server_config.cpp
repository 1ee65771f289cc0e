// shirg-server flags and the --config JSON file.
#include "tests/common/catch.h"

#include <unistd.h>
#include <cstdio>
#include <fstream>
#include <set>

#include "server/server_config.h"

using namespace shirg::rpc;
using Catch::Matchers::ContainsSubstring;

namespace {

std::string temp_file(const std::string& content) {
  char path[] = "/tmp/shirg_cfg_XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path) << content;
  return path;
}

std::string error_of(const std::vector<std::string>& args) {
  try {
    parse_server_args(args);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("defaults follow docs/architecture.md") {
  const auto p = parse_server_args({"--model-dir", "/m"});
  const ServerConfig& c = p.config;
  CHECK_FALSE(p.help);
  CHECK(c.host == "0.0.0.0");
  CHECK(c.port == 50051);
  CHECK(c.metrics_port == 9400);
  CHECK(c.max_receive_mib == 32);
  CHECK(c.workers == 1);
  CHECK(c.threads == 0);
  CHECK(c.warmup);
  CHECK(c.dtype == "auto");
  CHECK(c.llm_weights == "auto");
  CHECK(c.cache_dtype == "bf16");
  CHECK(c.schedule == "interleave");
  CHECK(c.max_hold_ms == 0);
  CHECK(c.log_format == "text");
  CHECK(c.gemm == "auto");
}

TEST_CASE("flags in both spellings, booleans") {
  const auto c = parse_server_args({"--model-dir=/m", "--port", "0", "--metrics-port=-1",
                                    "--workers", "3", "--max-queue", "1", "--warmup", "false",
                                    "--dtype", "fp32", "--llm-weights", "bf16",
                                    "--grace-period-seconds", "2.5", "--log-format", "json"})
                     .config;
  CHECK(c.model_dir == "/m");
  CHECK(c.port == 0);
  CHECK(c.metrics_port == -1);
  CHECK(c.workers == 3);
  CHECK(c.max_queue == 1);
  CHECK_FALSE(c.warmup);
  CHECK(c.dtype == "fp32");
  CHECK(c.llm_weights == "bf16");
  CHECK(c.grace_period_seconds == 2.5);
  CHECK(parse_server_args({"--model-dir", "/m", "--cache-dtype", "fp32"}).config.cache_dtype ==
        "fp32");
  CHECK(parse_server_args({"--model-dir", "/m", "--schedule", "prefix-first"}).config.schedule ==
        "prefix-first");
  CHECK(parse_server_args({"--model-dir", "/m", "--max-hold-ms", "250"}).config.max_hold_ms == 250);
  CHECK(c.log_format == "json");
  CHECK(parse_server_args({"--model-dir", "/m", "--warmup"}).config.warmup);
  CHECK_FALSE(parse_server_args({"--warmup=no", "--model-dir", "/m"}).config.warmup);
}

TEST_CASE("bad flags are refused with the flag named") {
  CHECK_THAT(error_of({"--model-dir", "/m", "--bogus", "1"}),
             ContainsSubstring("unknown flag --bogus"));
  CHECK_THAT(error_of({"--port", "1"}), ContainsSubstring("--model-dir is required"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--port", "70000"}),
             ContainsSubstring("--port must be in [0, 65535]"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--port", "12x"}),
             ContainsSubstring("--port: not an integer"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--workers", "0"}),
             ContainsSubstring("--workers must be in [1, 256]"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--max-hold-ms", "-5"}),
             ContainsSubstring("--max-hold-ms must be in [0, 3600000]"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--dtype", "fp16"}),
             ContainsSubstring("--dtype must be auto|bf16|fp32"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--llm-weights", "int8"}),
             ContainsSubstring("--llm-weights must be auto|bf16|fp32"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--gemm", "fast"}),
             ContainsSubstring("--gemm must be auto|aten|packed"));
  CHECK(parse_server_args({"--model-dir", "/m", "--gemm", "aten"}).config.gemm == "aten");
  CHECK_THAT(error_of({"--model-dir", "/m", "--cache-dtype", "fp16"}),
             ContainsSubstring("--cache-dtype must be bf16|fp32"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--schedule", "fifo"}),
             ContainsSubstring("--schedule must be interleave|prefix-first"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--warmup", "maybe"}),
             ContainsSubstring("--warmup takes true or false"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--tls-cert", "c.pem"}),
             ContainsSubstring("--tls-cert and --tls-key"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--log-level", "loud"}),
             ContainsSubstring("--log-level must be"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--grace-period-seconds", "nan"}),
             ContainsSubstring("not a number"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--port"}), ContainsSubstring("--port needs a value"));
  CHECK_THAT(error_of({"--model-dir", "/m", "stray"}),
             ContainsSubstring("unexpected argument 'stray'"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--max-image-mib", "64"}),
             ContainsSubstring("must not exceed --max-receive-mib"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--auth-token", "a b"}),
             ContainsSubstring("printable ASCII"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--auth-token", ""}),
             ContainsSubstring("--auth-token is empty"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--auth-token="}),
             ContainsSubstring("--auth-token is empty"));
  // Every request waits in the executor queue first: 0 would refuse them all (even warm-up).
  CHECK_THAT(error_of({"--model-dir", "/m", "--max-queue", "0"}),
             ContainsSubstring("--max-queue must be in [1, 1000000]"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--http-max-head-bytes", "1000"}),
             ContainsSubstring("--http-max-head-bytes (1000) must be at least"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--http-max-body-buffer-mib", "8"}),
             ContainsSubstring("must hold one largest request body"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--http-header-timeout-ms", "0"}),
             ContainsSubstring("--http-header-timeout-ms must be in [1, 3600000]"));
  const std::string empty_in_file = temp_file(R"({"model-dir": "/m", "auth-token": ""})");
  CHECK_THAT(error_of({"--config", empty_in_file}), ContainsSubstring("--auth-token is empty"));
  std::remove(empty_in_file.c_str());
}

TEST_CASE("the HTTP body limit follows --max-receive-mib unless --http-max-body-kib is set") {
  const ServerConfig d = parse_server_args({"--model-dir", "/m"}).config;
  CHECK(d.http_body_limit_bytes() == (32 << 20) / 3 * 4 + (64 << 10));
  CHECK(parse_server_args({"--model-dir", "/m", "--max-receive-mib", "3", "--max-image-mib", "3"})
            .config.http_body_limit_bytes() == (3 << 20) / 3 * 4 + (64 << 10));
  CHECK(parse_server_args({"--model-dir", "/m", "--http-max-body-kib", "100"})
            .config.http_body_limit_bytes() == 100 << 10);
}

TEST_CASE("the JSON config file is applied first and flags win") {
  const std::string path = temp_file(R"({"model-dir": "/from/json", "max_queue": 4, "warmup": false,
                                         "grace-period-seconds": 1.5, "port": 6000, "log-format": "json"})");
  const auto c = parse_server_args({"--port", "7000", "--config", path}).config;
  CHECK(c.model_dir == "/from/json");
  CHECK(c.max_queue == 4);
  CHECK_FALSE(c.warmup);
  CHECK(c.grace_period_seconds == 1.5);
  CHECK(c.port == 7000);  // the flag wins even though --config came later
  CHECK(c.log_format == "json");
  CHECK(c.config_file == path);
  std::remove(path.c_str());
}

TEST_CASE(
    "repeated --adapter-dir flags keep their order and the command line replaces the file list") {
  const auto c =
      parse_server_args({"--model-dir", "/m", "--adapter-dir", "/a", "--adapter-dir=/b"});
  CHECK(c.config.adapter_dirs == std::vector<std::string>{"/a", "/b"});
  CHECK(c.config.adapter_dir == "/a,/b");
  const std::string path = temp_file(R"({"model-dir": "/m", "adapter-dir": ["/x", "/y"]})");
  CHECK(parse_server_args({"--config", path}).config.adapter_dirs ==
        std::vector<std::string>{"/x", "/y"});
  CHECK(parse_server_args({"--config", path, "--adapter-dir", "/z"}).config.adapter_dirs ==
        std::vector<std::string>{"/z"});
  CHECK_THAT(error_of({"--model-dir", "/m", "--adapter-dir", ""}),
             ContainsSubstring("must not be empty"));
  std::remove(path.c_str());
}

TEST_CASE("bad config files are refused with the file and key named") {
  const std::string unknown = temp_file(R"({"model-dir": "/m", "colour": "blue"})");
  CHECK_THAT(error_of({"--config", unknown}), ContainsSubstring("unknown key \"colour\""));
  const std::string bad_json = temp_file("{\"model-dir\": ");
  CHECK_THAT(error_of({"--config", bad_json}), ContainsSubstring("is not valid JSON"));
  const std::string bad_value = temp_file(R"({"model-dir": "/m", "workers": "many"})");
  CHECK_THAT(error_of({"--config", bad_value}), ContainsSubstring("--workers: not an integer"));
  const std::string not_object = temp_file("[1, 2]");
  CHECK_THAT(error_of({"--config", not_object}), ContainsSubstring("must hold a JSON object"));
  const std::string nested = temp_file(R"({"model-dir": {"a": 1}})");
  CHECK_THAT(error_of({"--config", nested}),
             ContainsSubstring("must be a string, number or boolean"));
  CHECK_THAT(error_of({"--config", "/nonexistent/shirg.json"}),
             ContainsSubstring("cannot read config file"));
  for (const auto& p : {unknown, bad_json, bad_value, not_object, nested}) std::remove(p.c_str());
}

TEST_CASE("the auth token file is read and trimmed") {
  const std::string path = temp_file("s3cret-token\n");
  CHECK(parse_server_args({"--model-dir", "/m", "--auth-token-file", path}).config.auth_token ==
        "s3cret-token");
  CHECK_THAT(error_of({"--model-dir", "/m", "--auth-token-file", path, "--auth-token", "x"}),
             ContainsSubstring("not both"));
  std::remove(path.c_str());
}

TEST_CASE("the help text documents every flag") {
  CHECK(parse_server_args({"--help"}).help);
  CHECK(parse_server_args({"-h", "--bogus"}).help);  // help wins over parsing errors of values
  const std::string help = server_help();
  const auto names = server_flag_names();
  CHECK(names.size() >= 25);
  std::set<std::string> unique(names.begin(), names.end());
  CHECK(unique.size() == names.size());
  for (const auto& n : names) CHECK_THAT(help, ContainsSubstring("--" + n));
  CHECK_THAT(help, ContainsSubstring("[default: 50051]"));
  CHECK_THAT(help, ContainsSubstring("[default: 9400]"));
}

TEST_CASE("docs/server.md lists every flag") {
  std::ifstream in(std::string(SHIRG_SOURCE_DIR) + "/docs/server.md");
  REQUIRE(in);
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& n : server_flag_names()) CHECK_THAT(doc, ContainsSubstring("`--" + n));
}
