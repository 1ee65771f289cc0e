// shirg-client, shirg-loadtest and the Python client against the real shirg-server on the tiny
// model (started once for this binary on OS-chosen ports, stopped at exit).
#include "tests/common/catch.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include <unistd.h>

#include "tests/clients/process_util.h"

namespace fs = std::filesystem;
using shirg::test::run;

namespace {

const std::string kClient = SHIRG_CLIENT_BIN;
const std::string kLoadtest = SHIRG_LOADTEST_BIN;
const std::string kSamples = std::string(SHIRG_SOURCE_DIR) + "/clients/samples";

std::string tmp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("shirg_e2e_" + std::to_string(getpid()) + "_" + name))
      .string();
}

struct Server {
  std::unique_ptr<shirg::test::Background> proc;
  std::string addr, log;
  Server() {
    const std::string port_file = tmp_path("ports");
    log = tmp_path("server.log");
    fs::remove(port_file);
    proc = std::make_unique<shirg::test::Background>(
        std::vector<std::string>{SHIRG_SERVER_BIN, "--model-dir", SHIRG_TINY_MODEL, "--host",
                                 "127.0.0.1", "--port", "0", "--metrics-port", "0", "--port-file",
                                 port_file, "--max-queue", "64"},
        log);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    while (std::chrono::steady_clock::now() < deadline && proc->running()) {
      const std::string ports = shirg::test::slurp(port_file);
      const auto p = ports.find("grpc=");
      if (p != std::string::npos && ports.find('\n', p) != std::string::npos) {
        addr = "127.0.0.1:" + ports.substr(p + 5, ports.find('\n', p) - p - 5);
        // Bound, now wait for SERVING (model loaded and warmed up).
        if (run({kClient, "--addr", addr, "--health", "--timeout", "2"}).exit_code == 0) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    FAIL("shirg-server did not become SERVING; log:\n" << shirg::test::slurp(log));
  }
};

Server& server() {
  static Server s;
  return s;
}

std::vector<std::string> ask(const std::string& question, std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {kClient,
                                "--addr",
                                server().addr,
                                "--image",
                                kSamples + "/receipt.jpg",
                                "--question",
                                question,
                                "--gen-length",
                                "8",
                                "--steps",
                                "4",
                                "--seed",
                                "5"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

}  // namespace

TEST_CASE("e2e client health and info") {
  auto h = run({kClient, "--addr", server().addr, "--health"});
  CHECK(h.exit_code == 0);
  CHECK(h.out == "SERVING\n");
  auto hs = run({kClient, "--addr", server().addr, "--health", "--service", "shirg.v1.Inference"});
  CHECK(hs.out == "SERVING\n");
  auto i = run({kClient, "--addr", server().addr, "--info", "--json"});
  REQUIRE(i.exit_code == 0);
  const auto j = nlohmann::json::parse(i.out);
  CHECK(j["model_type"] == "llava_llada");
  CHECK(j["checkpoint"].get<std::string>().find("tiny") != std::string::npos);
}

TEST_CASE("e2e client answer is the JSON answer and the streamed answer") {
  auto js = run(ask("What is the total amount?", {"--json"}));
  INFO(js.err);
  REQUIRE(js.exit_code == 0);
  const auto j = nlohmann::json::parse(js.out);
  CHECK(j["steps"] == "4");
  CHECK(std::stoll(j["answer_tokens"].get<std::string>()) <= 8);
  CHECK(j["timings"]["total_ms"].get<double>() > 0);
  CHECK(std::stoll(j["prefix_tokens"].get<std::string>()) > 0);
  CHECK(j["request_id"].get<std::string>().size() > 0);

  auto plain = run(ask("What is the total amount?"));
  REQUIRE(plain.exit_code == 0);
  CHECK(plain.out == j["answer"].get<std::string>() + "\n");  // same seed, same answer
  CHECK(plain.err.find("answer tokens") != std::string::npos);

  auto st = run(ask("What is the total amount?", {"--stream"}));
  INFO(st.err);
  REQUIRE(st.exit_code == 0);
  CHECK(st.out == plain.out);
  CHECK(st.err.find("step 4/4") != std::string::npos);
  CHECK(st.err.find("prefix ready") != std::string::npos);
}

TEST_CASE("e2e client errors and exit statuses") {
  auto empty = run(ask(""));
  CHECK(empty.exit_code == 13);
  CHECK(empty.err.rfind("INVALID_ARGUMENT: ", 0) == 0);
  CHECK(empty.out.empty());

  const std::string not_image = tmp_path("not_image.jpg");
  std::ofstream(not_image) << "this is not a JPEG";
  auto bad = run({kClient, "--addr", server().addr, "--image", not_image, "--question", "q"});
  CHECK(bad.exit_code == 13);
  CHECK(bad.err.rfind("INVALID_ARGUMENT: ", 0) == 0);
  fs::remove(not_image);

  auto range = run(ask("q", {"--block-length", "3"}));  // 3 does not divide gen_length 8
  CHECK(range.exit_code == 13);
}

TEST_CASE("e2e client selection map writes a PNG overlay") {
  const std::string png = tmp_path("map.png");
  auto m = run({kClient, "--addr", server().addr, "--image", kSamples + "/bar_chart.png",
                "--selection-map", png, "--mode", "shirg"});
  INFO(m.err);
  REQUIRE(m.exit_code == 0);
  CHECK(shirg::test::slurp(png).rfind("\x89PNG", 0) == 0);
  fs::remove(png);
}

TEST_CASE("e2e loadtest at two concurrency levels") {
  const std::string json = tmp_path("lt.json");
  auto r = run({kLoadtest, "--addr", server().addr, "--concurrency", "1,2", "--requests", "4",
                "--warmup", "1", "--gen-length", "8", "--steps", "4", "--json", json},
               600);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(shirg::test::slurp(json));
  REQUIRE(j["levels"].size() == 2);
  for (const auto& l : j["levels"]) {
    std::size_t errors = 0;
    for (const auto& e : l["errors"].items()) errors += e.value().get<std::size_t>();
    CHECK(l["requests"] == 4);
    CHECK(l["successes"].get<std::size_t>() + errors == 4);
    CHECK(l["successes"] == 4);
    CHECK(l["server_stage_mean_ms"]["total"].get<double>() > 0);
    CHECK(l["latency_ms"]["p50"].get<double>() > 0);
  }
  CHECK(j["config"]["server"]["model_type"] == "llava_llada");
  fs::remove(json);
}

TEST_CASE("e2e python client") {
  const std::string env = "SHIRG_PY_STUBS=" + std::string(SHIRG_PY_STUBS_DIR);
  auto r = run({"/usr/bin/env", env, SHIRG_PYTHON,
                std::string(SHIRG_SOURCE_DIR) + "/tests/clients/python_client_check.py",
                server().addr, kSamples});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto ex = run({"/usr/bin/env", env, SHIRG_PYTHON,
                 std::string(SHIRG_SOURCE_DIR) + "/clients/python/example.py", "--addr",
                 server().addr, "--image", kSamples + "/bar_chart.png", "--question",
                 "What is the title?", "--gen-length", "8", "--steps", "4"});
  INFO(ex.err);
  CHECK(ex.exit_code == 0);
  CHECK(ex.err.find("answer tokens") != std::string::npos);
}
