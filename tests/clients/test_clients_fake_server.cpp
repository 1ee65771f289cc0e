// shirg-client and shirg-loadtest against an in-process stand-in of shirg-server (a test
// double of the shirg.v1 API with known, simple behaviour). This checks the tools' own logic:
// output formats, exit statuses, counting; the e2e tests run them against the real server.
//   - empty question or image          -> INVALID_ARGUMENT
//   - question "fail:CODE_NUMBER ..."  -> that status code
//   - otherwise answer "echo: <question> (<image bytes> bytes)", 5 answer tokens, fixed timings
#include "tests/common/catch.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "shirg/v1/inference.grpc.pb.h"
#include "tests/clients/process_util.h"

namespace v1 = shirg::v1;
namespace fs = std::filesystem;
using shirg::test::run;

namespace {

void fill_timings(v1::StageTimings* t) {
  t->set_queue_ms(1);
  t->set_decode_ms(2);
  t->set_vision_ms(3);
  t->set_selection_ms(4);
  t->set_projector_ms(5);
  t->set_prefill_ms(6);
  t->set_steps_ms(7);
  t->set_total_ms(28);
}

grpc::Status check(const v1::GenerateRequest& req, std::string* who) {
  *who = req.request_id().empty() ? "req-fake" : req.request_id();
  if (req.question().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "question is empty"};
  if (req.image().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "image is empty"};
  if (req.question().rfind("fail:", 0) == 0) {
    return {static_cast<grpc::StatusCode>(std::stoi(req.question().substr(5))), "asked to fail"};
  }
  return grpc::Status::OK;
}

void answer(const v1::GenerateRequest& req, const std::string& id, v1::GenerateResponse* r) {
  r->set_request_id(id);
  r->set_answer("echo: " + req.question() + " (" + std::to_string(req.image().size()) + " bytes)");
  r->set_answer_tokens(5);
  r->set_steps(req.generation().has_steps() ? req.generation().steps() : 4);
  r->set_prefix_tokens(100);
  r->set_stop_reason(v1::STOP_REASON_STOP_TOKEN);
  r->mutable_selection()->set_visual_tokens(80);
  fill_timings(r->mutable_timings());
}

class FakeInference final : public v1::Inference::Service {
 public:
  std::atomic<int> generate_calls{0};
  std::string last_token;
  v1::GenerateRequest last_request;

  grpc::Status Generate(grpc::ServerContext* ctx, const v1::GenerateRequest* req,
                        v1::GenerateResponse* resp) override {
    generate_calls++;
    remember(ctx, *req);
    std::string id;
    const grpc::Status st = check(*req, &id);
    if (st.ok()) answer(*req, id, resp);
    return st;
  }
  grpc::Status GenerateStream(grpc::ServerContext* ctx, const v1::GenerateRequest* req,
                              grpc::ServerWriter<v1::GenerateEvent>* w) override {
    remember(ctx, *req);
    std::string id;
    const grpc::Status st = check(*req, &id);
    if (!st.ok()) return st;
    v1::GenerateEvent ev;
    ev.mutable_queued()->set_request_id(id);
    w->Write(ev);
    ev.Clear();
    ev.mutable_prefix_ready()->set_prefix_tokens(100);
    w->Write(ev);
    const std::string mask = "\xE2\x96\x91";
    for (int s = 1; s <= 4; ++s) {
      ev.Clear();
      ev.mutable_step()->set_step(s);
      ev.mutable_step()->set_total_steps(4);
      ev.mutable_step()->set_committed_tokens(s);
      std::string partial;
      for (int i = 0; i < 4; ++i) partial += i < s ? "w" : mask;
      ev.mutable_step()->set_partial_answer(partial);
      w->Write(ev);
    }
    ev.Clear();
    answer(*req, id, ev.mutable_result());
    w->Write(ev);
    return grpc::Status::OK;
  }
  grpc::Status ModelInfo(grpc::ServerContext*, const v1::ModelInfoRequest*,
                         v1::ModelInfoResponse* r) override {
    r->set_checkpoint("/models/fake");
    r->set_model_type("llava_llada");
    r->set_dtype("bf16");
    r->add_selection_modes("shirg");
    r->set_llm_layers(2);
    return grpc::Status::OK;
  }
  grpc::Status SelectionMap(grpc::ServerContext*, const v1::SelectionMapRequest* req,
                            v1::SelectionMapResponse* r) override {
    if (req->image().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "image is empty"};
    r->set_grid(4);
    r->add_kept_indices(1);
    r->add_kept_indices(5);
    r->set_overlay_png("\x89PNG-fake-overlay");
    return grpc::Status::OK;
  }

 private:
  void remember(grpc::ServerContext* ctx, const v1::GenerateRequest& req) {
    std::lock_guard<std::mutex> lock(mu_);
    last_request = req;
    const auto it = ctx->client_metadata().find("authorization");
    last_token =
        it == ctx->client_metadata().end() ? "" : std::string(it->second.data(), it->second.size());
  }
  std::mutex mu_;
};

struct FakeServer {
  FakeInference service;
  std::unique_ptr<grpc::Server> server;
  std::string addr;
  FakeServer() {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&service);
    server = b.BuildAndStart();
    server->GetHealthCheckService()->SetServingStatus("shirg.v1.Inference", true);
    addr = "127.0.0.1:" + std::to_string(port);
  }
  ~FakeServer() { server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2)); }
};

FakeServer& fake() {
  static FakeServer s;
  return s;
}

const std::string kClient = SHIRG_CLIENT_BIN;
const std::string kLoadtest = SHIRG_LOADTEST_BIN;
const std::string kSamples = std::string(SHIRG_SOURCE_DIR) + "/clients/samples";

std::string tmp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("shirg_clients_" + std::to_string(getpid()) + "_" + name))
      .string();
}

}  // namespace

TEST_CASE("client prints the answer and a summary and options reach the server") {
  auto r =
      run({kClient, "--addr", fake().addr, "--image", kSamples + "/bar_chart.png", "--question",
           "What is Q4?", "--steps", "8", "--mode", "baseline-384", "--token", "sekret"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto size = fs::file_size(kSamples + "/bar_chart.png");
  CHECK(r.out == "echo: What is Q4? (" + std::to_string(size) + " bytes)\n");
  CHECK(r.err.find("5 answer tokens") != std::string::npos);
  CHECK(fake().service.last_request.generation().steps() == 8);
  CHECK(fake().service.last_request.selection().mode() == v1::SELECTION_MODE_BASELINE_384);
  CHECK_FALSE(fake().service.last_request.generation().has_gen_length());
  CHECK(fake().service.last_token == "Bearer sekret");
}

TEST_CASE("client --json prints the whole response") {
  auto r = run({kClient, "--addr", fake().addr, "--image", kSamples + "/receipt.jpg", "--question",
                "Total?", "--json", "--request-id", "abc"});
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["request_id"] == "abc");
  CHECK(j["answer_tokens"] == "5");  // int64 prints as a JSON string (proto3 JSON mapping)
  CHECK(j["timings"]["total_ms"] == 28);
  CHECK(j["selection"]["visual_tokens"] == "80");
  CHECK(j["stop_reason"] == "STOP_REASON_STOP_TOKEN");
}

TEST_CASE("client --stream shows plain progress lines off a terminal and the answer") {
  auto r = run({kClient, "--addr", fake().addr, "--image", kSamples + "/receipt.jpg", "--question",
                "Shop?", "--stream"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.rfind("echo: Shop? (", 0) == 0);
  CHECK(r.err.find("queued req-fake") != std::string::npos);
  CHECK(r.err.find("step 1/4 committed=1: w\xE2\x96\x91\xE2\x96\x91\xE2\x96\x91") !=
        std::string::npos);
  CHECK(r.err.find("step 4/4 committed=4: wwww") != std::string::npos);
  CHECK(r.err.find('\r') == std::string::npos);  // no redrawing when not a terminal

  auto j = run({kClient, "--addr", fake().addr, "--image", kSamples + "/receipt.jpg", "--question",
                "Shop?", "--stream", "--json"});
  REQUIRE(j.exit_code == 0);
  std::istringstream lines(j.out);
  std::string line;
  int events = 0;
  nlohmann::json last;
  while (std::getline(lines, line)) {
    last = nlohmann::json::parse(line);
    ++events;
  }
  CHECK(events == 1 + 1 + 4 + 1);
  CHECK(last["result"]["answer"].get<std::string>().rfind("echo: Shop?", 0) == 0);
}

TEST_CASE("client errors print CODE: message with distinct exit statuses") {
  auto empty =
      run({kClient, "--addr", fake().addr, "--image", kSamples + "/receipt.jpg", "--question", ""});
  CHECK(empty.exit_code == 13);
  CHECK(empty.err == "INVALID_ARGUMENT: question is empty\n");
  CHECK(empty.out.empty());

  auto exhausted = run({kClient, "--addr", fake().addr, "--image", kSamples + "/receipt.jpg",
                        "--question", "fail:8"});
  CHECK(exhausted.exit_code == 18);
  CHECK(exhausted.err.rfind("RESOURCE_EXHAUSTED: ", 0) == 0);

  auto usage = run({kClient, "--addr", fake().addr, "--question", "q"});
  CHECK(usage.exit_code == 2);
  CHECK(usage.err.find("--image FILE is required") != std::string::npos);

  auto missing =
      run({kClient, "--addr", fake().addr, "--image", "/nonexistent.png", "--question", "q"});
  CHECK(missing.exit_code == 3);

  const int port = shirg::test::free_port();
  auto down = run({kClient, "--addr", "127.0.0.1:" + std::to_string(port), "--image",
                   kSamples + "/receipt.jpg", "--question", "q", "--timeout", "3"});
  CHECK(down.exit_code == 24);
  CHECK(down.err.rfind("UNAVAILABLE: ", 0) == 0);
}

TEST_CASE("client --health and --info and --selection-map") {
  auto h = run({kClient, "--addr", fake().addr, "--health"});
  CHECK(h.exit_code == 0);
  CHECK(h.out == "SERVING\n");
  auto hs = run({kClient, "--addr", fake().addr, "--health", "--service", "shirg.v1.Inference"});
  CHECK(hs.exit_code == 0);
  auto hu = run({kClient, "--addr", fake().addr, "--health", "--service", "no.such.Service"});
  CHECK(hu.exit_code == 15);  // NOT_FOUND from the default health service
  CHECK(hu.err.rfind("NOT_FOUND", 0) == 0);

  auto i = run({kClient, "--addr", fake().addr, "--info"});
  CHECK(i.exit_code == 0);
  CHECK(i.out.find("checkpoint:        /models/fake") != std::string::npos);
  auto ij = run({kClient, "--addr", fake().addr, "--info", "--json"});
  REQUIRE(ij.exit_code == 0);
  CHECK(nlohmann::json::parse(ij.out)["dtype"] == "bf16");

  const std::string png = tmp_path("map.png");
  auto m = run({kClient, "--addr", fake().addr, "--image", kSamples + "/bar_chart.png",
                "--selection-map", png});
  CHECK(m.exit_code == 0);
  CHECK(m.out.find("kept 2 hi-detail cells") != std::string::npos);
  CHECK(shirg::test::slurp(png) == "\x89PNG-fake-overlay");
  fs::remove(png);
}

TEST_CASE("loadtest at two concurrency levels counts add up and JSON CSV SVG are written") {
  const std::string json = tmp_path("lt.json"), csv = tmp_path("lt.csv"), svg = tmp_path("lt.svg");
  const int before = fake().service.generate_calls.load();
  auto r = run({kLoadtest, "--addr", fake().addr, "--concurrency", "1,3", "--requests", "9",
                "--warmup", "2", "--json", json, "--csv", csv, "--plot", svg});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  // 2 levels x (2 warm-up + 9 measured) calls reached the server.
  CHECK(fake().service.generate_calls.load() - before == 2 * (2 + 9));
  const auto j = nlohmann::json::parse(shirg::test::slurp(json));
  REQUIRE(j["levels"].size() == 2);
  for (const auto& l : j["levels"]) {
    CHECK(l["requests"] == 9);
    CHECK(l["successes"] == 9);
    CHECK(l["errors"].empty());
    CHECK(l["answer_tokens"] == 45);
    CHECK(l["server_stage_mean_ms"]["total"] == 28);
    CHECK(l["latency_ms"]["count"] == 9);
  }
  CHECK(j["levels"][1]["level"] == 3);
  CHECK(j["config"]["server"]["checkpoint"] == "/models/fake");
  CHECK(r.out.find("concurrency 3") != std::string::npos);
  CHECK(shirg::test::slurp(csv).find("closed,3,9,9,") != std::string::npos);
  CHECK(shirg::test::slurp(svg).find("</svg>") != std::string::npos);
  for (const auto& p : {json, csv, svg}) fs::remove(p);
}

TEST_CASE("loadtest --stream uses GenerateStream and reports the time to the first step") {
  const std::string json = tmp_path("lt-stream.json");
  const int unary_before = fake().service.generate_calls.load();
  auto r = run({kLoadtest, "--addr", fake().addr, "--concurrency", "2", "--requests", "6",
                "--warmup", "0", "--stream", "--json", json});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(fake().service.generate_calls.load() == unary_before);  // no unary call at all
  const auto l = nlohmann::json::parse(shirg::test::slurp(json))["levels"][0];
  CHECK(l["successes"] == 6);
  CHECK(l["answer_tokens"] == 30);
  REQUIRE(l.contains("first_step_ms"));
  CHECK(l["first_step_ms"]["count"] == 6);
  CHECK(l["first_step_ms"]["p50"].get<double>() <= l["latency_ms"]["p50"].get<double>());
  CHECK(r.out.find("time to the first step event") != std::string::npos);
  // The open loop has no streaming mode.
  CHECK(run({kLoadtest, "--addr", fake().addr, "--rate", "5", "--stream"}).exit_code == 2);
  fs::remove(json);
}

TEST_CASE("loadtest counts errors by status code from a questions file") {
  const std::string q = tmp_path("q.txt"), json = tmp_path("lt2.json");
  std::ofstream(q) << "fine question\nfail:14\nfail:8\nanother fine one\n";
  auto r = run({kLoadtest, "--addr", fake().addr, "--concurrency", "2", "--requests", "8",
                "--warmup", "0", "--images", kSamples, "--questions", q, "--json", json});
  REQUIRE(r.exit_code == 0);
  const auto l = nlohmann::json::parse(shirg::test::slurp(json))["levels"][0];
  CHECK(l["requests"] == 8);
  CHECK(l["successes"] == 4);
  CHECK(l["errors"]["UNAVAILABLE"] == 2);
  CHECK(l["errors"]["RESOURCE_EXHAUSTED"] == 2);
  auto strict = run({kLoadtest, "--addr", fake().addr, "--requests", "4", "--warmup", "0",
                     "--images", kSamples, "--questions", q, "--fail-on-error", "--quiet"});
  CHECK(strict.exit_code == 1);
  for (const auto& p : {q, json}) fs::remove(p);
}

TEST_CASE("loadtest open loop with Poisson arrivals stops by itself") {
  const std::string json = tmp_path("lt3.json");
  auto r = run({kLoadtest, "--addr", fake().addr, "--rate", "50", "--requests", "20", "--duration",
                "10", "--warmup", "1", "--json", json},
               60);
  REQUIRE(r.exit_code == 0);
  const auto l = nlohmann::json::parse(shirg::test::slurp(json))["levels"][0];
  CHECK(l["mode"] == "open");
  CHECK(l["requests"] == 20);
  CHECK(l["successes"] == 20);
  // A duration bound stops issuing early: 1000 req/s for 0.2 s gives well under 5000.
  auto d = run({kLoadtest, "--addr", fake().addr, "--rate", "1000", "--requests", "5000",
                "--duration", "0.2", "--warmup", "0", "--json", json},
               60);
  REQUIRE(d.exit_code == 0);
  const auto l2 = nlohmann::json::parse(shirg::test::slurp(json))["levels"][0];
  CHECK(l2["requests"].get<int>() < 5000);
  CHECK(l2["requests"].get<int>() > 0);
  fs::remove(json);
}

TEST_CASE("loadtest usage errors") {
  CHECK(run({kLoadtest, "--concurrency", "0"}).exit_code == 2);
  CHECK(run({kLoadtest, "--rate", "-1"}).exit_code == 2);
  CHECK(run({kLoadtest, "--timeout", "0"}).exit_code == 2);
  CHECK(run({kLoadtest, "--images", "/nonexistent", "--questions", "/nonexistent"}).exit_code == 3);
}

TEST_CASE("python client module and example against the stand-in server") {
  const std::string env = "SHIRG_PY_STUBS=" + std::string(SHIRG_PY_STUBS_DIR);
  auto check = run({"/usr/bin/env", env, SHIRG_PYTHON,
                    std::string(SHIRG_SOURCE_DIR) + "/tests/clients/python_client_check.py",
                    fake().addr, kSamples, "--expect-echo"});
  INFO(check.out << check.err);
  CHECK(check.exit_code == 0);
  CHECK(check.out.find("ok: empty question -> INVALID_ARGUMENT") != std::string::npos);

  const std::string example = std::string(SHIRG_SOURCE_DIR) + "/clients/python/example.py";
  auto ex = run({"/usr/bin/env", env, SHIRG_PYTHON, example, "--addr", fake().addr, "--image",
                 kSamples + "/bar_chart.png", "--question", "Title?", "--stream"});
  INFO(ex.err);
  CHECK(ex.exit_code == 0);
  CHECK(ex.out.rfind("echo: Title? (", 0) == 0);
  CHECK(ex.err.find("step 4/4: wwww") != std::string::npos);
  auto bad = run({"/usr/bin/env", env, SHIRG_PYTHON, example, "--addr", fake().addr, "--image",
                  kSamples + "/bar_chart.png", "--question", ""});
  CHECK(bad.exit_code == 13);
  CHECK(bad.err == "INVALID_ARGUMENT: question is empty\n");
}
