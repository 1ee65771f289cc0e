// Lifecycle of a real shirg-server: health transitions, graceful shutdown with requests in
// flight, reflection, the metrics endpoint, logs, command line and exit statuses.
#include <signal.h>
#include "tests/common/catch.h"

#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>

#include "server/server_config.h"
#include "tests/server/integration_common.h"
#include "tests/server/raw_http.h"

using namespace shirg;
using namespace shirg::testing;
using Catch::Matchers::ContainsSubstring;
using Health = grpc::health::v1::HealthCheckResponse;

TEST_CASE("health goes NOT_SERVING -> SERVING -> NOT_SERVING at shutdown") {
  // Many warm-up requests keep the start-up window (port bound, model not ready) wide open.
  ServerProcess server(ServerLaunch{{"--warmup-requests", "40", "--grace-period-seconds", "300"},
                                    /*wait_serving=*/false});
  auto ch = server.channel();
  auto stub = grpc::health::v1::Health::NewStub(ch);

  // Watch from the moment the port is bound: the first status must be NOT_SERVING, then SERVING.
  grpc::ClientContext watch_ctx;
  watch_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(180));
  grpc::health::v1::HealthCheckRequest hreq;
  hreq.set_service("shirg.v1.Inference");
  auto watch = stub->Watch(&watch_ctx, hreq);
  Health h;
  REQUIRE(watch->Read(&h));
  CHECK(h.status() == Health::NOT_SERVING);
  // While not serving, shirg.v1 calls are refused with UNAVAILABLE.
  if (health_check(*ch) == Health::NOT_SERVING) {
    const UnaryResult early = generate(*ch, quick_request());
    if (health_check(*ch) == Health::NOT_SERVING) {
      CHECK(early.status.error_code() == grpc::StatusCode::UNAVAILABLE);
      CHECK_THAT(early.status.error_message(), ContainsSubstring("loading or warming up"));
    }
  }
  while (h.status() != Health::SERVING) REQUIRE(watch->Read(&h));
  CHECK(health_check(*ch) == Health::SERVING);
  CHECK(health_check(*ch, "shirg.v1.Inference") == Health::SERVING);
  CHECK_THAT(server.log(), ContainsSubstring("warm-up 40/40 done"));

  // Shutdown with a request in flight: health turns NOT_SERVING while that request finishes,
  // new requests get UNAVAILABLE, the in-flight one still gets its answer, exit status 0.
  std::promise<void> started;
  bool signalled = false;
  auto inflight = std::async(std::launch::async, [&] {
    return generate_stream(*ch, slow_request(), {}, [&](const v1::GenerateEvent& ev) {
      if (ev.has_step() && !signalled) {
        signalled = true;
        started.set_value();
      }
      return true;
    });
  });
  REQUIRE(started.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready);
  server.send_signal(SIGTERM);
  while (h.status() == Health::SERVING) REQUIRE(watch->Read(&h));
  CHECK(h.status() == Health::NOT_SERVING);
  const UnaryResult late = generate(*ch, quick_request());
  if (late.status.error_code() != grpc::StatusCode::UNAVAILABLE) {
    // Only possible if the server already stopped listening (then the channel reports it).
    CHECK_FALSE(late.status.ok());
  } else {
    CHECK_THAT(late.status.error_message(), ContainsSubstring("shutting down"));
  }
  const StreamResult done = inflight.get();
  CHECK(done.status.ok());
  CHECK(done.result.has_value());
  watch_ctx.TryCancel();
  CHECK(server.wait_exit(std::chrono::seconds(60)) == std::optional<int>(0));
  CHECK_THAT(server.log(), ContainsSubstring("stopped"));
}

TEST_CASE("SIGTERM with requests in flight: each gets an answer or a clear status, exit 0") {
  ServerProcess server(ServerLaunch{
      {"--workers", "1", "--max-batch", "1", "--max-queue", "8", "--grace-period-seconds", "1"}});
  std::vector<std::future<grpc::Status>> calls;
  std::atomic<int> steps{0};
  for (int i = 0; i < 4; ++i)
    calls.push_back(std::async(std::launch::async, [&, i] {
      auto ch = server.channel();
      if (i % 2 == 0)
        return generate_stream(*ch, slow_request(static_cast<uint64_t>(i)), {},
                               [&](const v1::GenerateEvent& ev) {
                                 steps += ev.has_step();
                                 return true;
                               })
            .status;
      return generate(*ch, slow_request(static_cast<uint64_t>(i))).status;
    }));
  REQUIRE(eventually([&] { return steps.load() > 0; }, std::chrono::seconds(60)));
  REQUIRE(eventually([&] { return scrape(server).sum("shirg_queue_depth") >= 1; },
                     std::chrono::seconds(30)));
  const auto t0 = std::chrono::steady_clock::now();
  server.send_signal(SIGTERM);
  for (auto& c : calls) {
    REQUIRE(c.wait_for(std::chrono::seconds(60)) == std::future_status::ready);  // none hangs
    const grpc::Status s = c.get();
    INFO(s.error_code() << ": " << s.error_message());
    // An answer, or UNAVAILABLE ("shutting down": cancelled after the grace period).
    CHECK((s.ok() || s.error_code() == grpc::StatusCode::UNAVAILABLE));
    if (!s.ok()) CHECK_THAT(s.error_message(), ContainsSubstring("shutting down"));
    CHECK(s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  CHECK(server.wait_exit(std::chrono::seconds(60)) == std::optional<int>(0));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO("shutdown took " << secs << " s");
  CHECK_THAT(server.log(), ContainsSubstring("shutdown requested"));
}

TEST_CASE("a second signal cancels in-flight requests at once, and both APIs say so") {
  ServerProcess server(ServerLaunch{{"--grace-period-seconds", "600", "--http-port", "0"}});
  std::atomic<int> steps{0};
  auto call = std::async(std::launch::async, [&] {
    auto ch = server.channel();
    return generate_stream(*ch, slow_request(), {},
                           [&](const v1::GenerateEvent& ev) {
                             steps += ev.has_step();
                             return true;
                           })
        .status;
  });
  // The same slow request through the OpenAI API (non-streaming).
  const std::string body =
      R"({"max_tokens": 256, "steps": 256, "messages": [{"role": "user", "content": [)"
      R"({"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": )"
      R"("data:image/png;base64,)" +
      base64(slow_request().image()) + R"("}}]}]})";
  auto http = std::async(std::launch::async, [&] {
    return raw_request(server.http_port(),
                       "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                       "application/json\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n" + body,
                       std::chrono::seconds(120));
  });
  REQUIRE(eventually([&] { return steps.load() > 0; }, std::chrono::seconds(60)));
  REQUIRE(eventually([&] { return scrape(server).sum("shirg_inflight_requests") == 2; },
                     std::chrono::seconds(60)));
  server.send_signal(SIGTERM);
  REQUIRE(eventually([&] { return server.log().find("shutdown requested") != std::string::npos; },
                     std::chrono::seconds(30)));
  server.send_signal(SIGINT);
  REQUIRE(call.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
  const grpc::Status s = call.get();
  CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK_THAT(s.error_message(), ContainsSubstring("shutting down"));
  CHECK_THAT(s.error_message(), ContainsSubstring("second shutdown signal"));
  CHECK_THAT(s.error_message(), !ContainsSubstring("grace period"));
  REQUIRE(http.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
  const auto r = http.get();
  REQUIRE(r);
  INFO(r->body);
  CHECK(r->status == 503);
  CHECK_THAT(r->body, ContainsSubstring("second shutdown signal"));
  CHECK_THAT(r->body, !ContainsSubstring("grace period"));
  CHECK(server.wait_exit(std::chrono::seconds(60)) == std::optional<int>(0));
}

TEST_CASE("an open health Watch stream does not hold shutdown up") {
  ServerProcess server(ServerLaunch{{"--grace-period-seconds", "600"}});
  auto ch = server.channel();
  auto stub = grpc::health::v1::Health::NewStub(ch);
  grpc::ClientContext watch_ctx;
  watch_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  grpc::health::v1::HealthCheckRequest hreq;
  auto watch = stub->Watch(&watch_ctx, hreq);
  Health h;
  REQUIRE(watch->Read(&h));
  CHECK(h.status() == Health::SERVING);
  const auto t0 = std::chrono::steady_clock::now();
  server.send_signal(SIGTERM);
  // Nothing is in flight: the server stops without waiting for the Watch stream to end (gRPC's
  // Shutdown deadline was 5 s; the stream would otherwise hold the exit that long).
  const auto code = server.wait_exit(std::chrono::seconds(60));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(code == std::optional<int>(0));
  INFO("exit took " << secs << " s");
  CHECK(secs < 4.0);
  while (watch->Read(&h)) {
  }
  CHECK_FALSE(watch->Finish().ok());  // the stream ended with the server
}

TEST_CASE("reflection lists shirg.v1.Inference and the health service") {
  ServerProcess server;
  auto ch = server.channel();
  const auto services = reflection_services(*ch);
  CHECK(std::find(services.begin(), services.end(), "shirg.v1.Inference") != services.end());
  CHECK(std::find(services.begin(), services.end(), "grpc.health.v1.Health") != services.end());
  CHECK(reflection_file_of(*ch, "shirg.v1.Inference") == "shirg/v1/inference.proto");
  CHECK(reflection_file_of(*ch, "shirg.v1.GenerateRequest") == "shirg/v1/inference.proto");
  CHECK(server.terminate() == std::optional<int>(0));
}

TEST_CASE("the metrics text parses and its counters match the requests sent") {
  ServerProcess server(ServerLaunch{{"--workers", "1"}});
  auto ch = server.channel();
  const PromText before = scrape(server);
  CHECK(before.types.at("shirg_requests_total") == "counter");
  CHECK(before.types.at("shirg_stage_duration_seconds") == "histogram");
  CHECK(before.types.at("shirg_request_duration_seconds") == "histogram");
  CHECK(before.types.at("shirg_queue_depth") == "gauge");
  CHECK(before.types.at("shirg_inflight_requests") == "gauge");
  CHECK(before.types.at("shirg_prefix_cache_bytes") == "gauge");
  CHECK(before.types.at("shirg_model_info") == "gauge");
  CHECK(before.sum("shirg_model_info",
                   {{"checkpoint", tiny_model_dir()}, {"model_type", "llava_llada"}}) == 1);
  CHECK(before.sum("shirg_requests_total") == 0);  // warm-up is not counted as a request
  CHECK(before.sum("shirg_ready") == 1);

  int64_t tokens = 0;
  constexpr int kUnary = 3, kStream = 2, kInvalid = 2, kInfo = 1;
  for (int i = 0; i < kUnary; ++i) {
    auto r = generate(*ch, quick_request(static_cast<uint64_t>(i)));
    REQUIRE(r.status.ok());
    tokens += r.response.answer_tokens();
  }
  int64_t stream_steps = 0;
  for (int i = 0; i < kStream; ++i) {
    auto s = generate_stream(*ch, quick_request(static_cast<uint64_t>(i)));
    REQUIRE(s.status.ok());
    tokens += s.result->answer_tokens();
    stream_steps += s.result->steps();
  }
  for (int i = 0; i < kInvalid; ++i) {
    auto bad = quick_request();
    bad.set_question("");
    REQUIRE(generate(*ch, bad).status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  }
  for (int i = 0; i < kInfo; ++i) {
    auto stub = v1::Inference::NewStub(ch);
    grpc::ClientContext ctx;
    prepare(ctx, {});
    v1::ModelInfoResponse info;
    REQUIRE(stub->ModelInfo(&ctx, v1::ModelInfoRequest{}, &info).ok());
  }

  const std::string text = fetch_metrics(server.metrics_port());
  const PromText m = parse_prom_text(text);
  CHECK(requests_total(m, "Generate", "OK") == kUnary);
  CHECK(requests_total(m, "GenerateStream", "OK") == kStream);
  CHECK(requests_total(m, "Generate", "INVALID_ARGUMENT") == kInvalid);
  CHECK(requests_total(m, "ModelInfo", "OK") == kInfo);
  CHECK(m.sum("shirg_requests_total") == kUnary + kStream + kInvalid + kInfo);
  CHECK(m.sum("shirg_request_duration_seconds_count", {{"rpc", "Generate"}}) == kUnary + kInvalid);
  CHECK(m.sum("shirg_request_duration_seconds_count", {{"rpc", "GenerateStream"}}) == kStream);
  for (const char* stage : {"queue", "decode", "vision", "selection", "prefill", "total"}) {
    INFO(stage);
    CHECK(m.sum("shirg_stage_duration_seconds_count", {{"stage", stage}}) == kUnary + kStream);
  }
  // One observation per denoising step of every successful generate request (8 steps each).
  CHECK(m.sum("shirg_stage_duration_seconds_count", {{"stage", "step"}}) == 8 * (kUnary + kStream));
  CHECK(m.sum("shirg_stage_duration_seconds_bucket", {{"stage", "total"}, {"le", "+Inf"}}) ==
        kUnary + kStream);
  CHECK(m.sum("shirg_generated_tokens_total") == tokens);
  CHECK(m.sum("shirg_inflight_requests") == 0);
  CHECK(m.sum("shirg_queue_depth") == 0);
  CHECK(m.sum("shirg_prefix_cache_bytes") == 0);
  CHECK(stream_steps == 8 * kStream);

  // promtool (Debian's prometheus package) agrees that the exposition is valid.
  const std::string path = write_temp_file(server.dir(), "metrics.txt", text);
  CHECK(std::system(("promtool check metrics < '" + path + "' >/dev/null 2>&1").c_str()) == 0);
  CHECK(server.terminate() == std::optional<int>(0));
}

TEST_CASE("JSON-lines logs carry the request id and flags come from a config file") {
  char tmpl[] = "/tmp/shirg_cfgfile_XXXXXX";
  REQUIRE(mkdtemp(tmpl));
  const std::string cfg =
      write_temp_file(tmpl, "server.json", R"({"log-format": "json", "log_level": "debug",
                                                                   "workers": 2, "metrics-port": 9400})");
  // The file asks for port 9400; the command line (metrics-port 0 by default) wins.
  ServerProcess server(ServerLaunch{{"--config", cfg}});
  CHECK(server.metrics_port() != 9400);
  auto ch = server.channel();
  auto req = quick_request();
  req.set_request_id("log-test-42");
  REQUIRE(generate(*ch, req).status.ok());
  auto bad = quick_request();
  bad.set_request_id("log-test-bad");
  bad.mutable_generation()->set_gen_length(-3);
  REQUIRE(generate(*ch, bad).status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  REQUIRE(server.terminate() == std::optional<int>(0));

  std::istringstream lines(server.log());
  std::string line;
  int ours = 0, bad_lines = 0, total = 0;
  bool worker_line = false;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    ++total;
    nlohmann::json j;
    REQUIRE_NOTHROW(j = nlohmann::json::parse(line));
    CHECK(j.contains("ts"));
    CHECK(j.contains("level"));
    CHECK(j.contains("msg"));
    const std::string id = j.value("request_id", "");
    if (id == "log-test-42") {
      ++ours;
      // Lines from the engine's worker thread (started / prefix ready at debug) carry it too.
      worker_line |= j["msg"].get<std::string>().find("prefix ready") != std::string::npos;
    }
    if (id == "log-test-bad") {
      ++bad_lines;
      CHECK_THAT(j["msg"].get<std::string>(), ContainsSubstring("INVALID_ARGUMENT"));
    }
  }
  CHECK(total > 5);
  CHECK(ours >= 2);
  CHECK(worker_line);
  CHECK(bad_lines == 1);
  std::system(("rm -rf '" + std::string(tmpl) + "'").c_str());
}

TEST_CASE("text logs carry the request id") {
  ServerProcess server;
  auto ch = server.channel();
  auto req = quick_request();
  req.set_request_id("text-log-7");
  REQUIRE(generate(*ch, req).status.ok());
  REQUIRE(server.terminate() == std::optional<int>(0));
  CHECK_THAT(server.log(), ContainsSubstring("[req=text-log-7] Generate OK"));
}

TEST_CASE("help text and bad flags and a bad model directory give clear exit statuses") {
  std::string out;
  CHECK(run_command("'" + server_binary() + "' --help", &out) == 0);
  for (const auto& flag : rpc::server_flag_names()) CHECK_THAT(out, ContainsSubstring("--" + flag));
  CHECK(run_command("'" + server_binary() + "' --model-dir /x --bogus 2>&1", &out) == 2);
  CHECK_THAT(out, ContainsSubstring("unknown flag --bogus"));
  CHECK(run_command("'" + server_binary() + "' --port 1 2>&1", &out) == 2);
  CHECK_THAT(out, ContainsSubstring("--model-dir is required"));
  CHECK(run_command(
            "'" + server_binary() +
                "' --model-dir /nonexistent/model --host 127.0.0.1 --port 0 --metrics-port -1 2>&1",
            &out) == 1);
  CHECK_THAT(out, ContainsSubstring("cannot load the model from '/nonexistent/model'"));
  CHECK(run_command("'" + server_binary() + "' --model-dir '" + tiny_model_dir() +
                        "' --host 127.0.0.1 --port 0 --metrics-port -1 --tls-cert /nonexistent.pem"
                        " --tls-key /nonexistent.key 2>&1",
                    &out) == 1);
  CHECK_THAT(out, ContainsSubstring("cannot read --tls-key"));
}

TEST_CASE("device cuda without a visible GPU stops the server at start with one line") {
  // CUDA_VISIBLE_DEVICES="": no GPU is visible even on a machine that has one.
  std::string out;
  CHECK(run_command("CUDA_VISIBLE_DEVICES= '" + server_binary() + "' --model-dir '" +
                        tiny_model_dir() +
                        "' --device cuda --host 127.0.0.1 --port 0 --metrics-port -1 2>&1",
                    &out) == 2);
  CHECK_THAT(out, Catch::Matchers::StartsWith("shirg-server: --device cuda: "));
  CHECK_THAT(out, ContainsSubstring("--device cpu"));
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);  // one line, nothing else
  CHECK(run_command("'" + server_binary() + "' --model-dir /x --device gpu 2>&1", &out) == 2);
  CHECK_THAT(out, ContainsSubstring("--device must be auto|cpu|cuda|cuda:N, got 'gpu'"));
  CHECK(run_command("'" + server_binary() + "' --model-dir /x --kernels fast 2>&1", &out) == 2);
  CHECK_THAT(out, ContainsSubstring("--kernels must be auto|generic, got 'fast'"));
}
