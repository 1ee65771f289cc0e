// Status codes of a real shirg-server: validation, back-pressure, deadlines, cancellation,
// authentication, TLS.
#include "tests/common/catch.h"

#include <grpcpp/generic/generic_stub.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>

#include "server/test_pattern.h"
#include "tests/server/integration_common.h"

using namespace shirg;
using namespace shirg::testing;
using Catch::Matchers::ContainsSubstring;

namespace {

void expect_status(const grpc::Status& s, grpc::StatusCode code, const std::string& text) {
  INFO("status " << s.error_code() << ": " << s.error_message());
  CHECK(s.error_code() == code);
  CHECK_THAT(s.error_message(), ContainsSubstring(text));
}

// Waits (bounded) for the server to report no shirg.v1 call in flight.
bool drained(const ServerProcess& s) {
  return eventually([&] { return scrape(s).sum("shirg_inflight_requests") == 0; },
                    std::chrono::seconds(30));
}

}  // namespace

TEST_CASE("every validation error answers INVALID_ARGUMENT with a precise message") {
  ServerProcess server(ServerLaunch{{"--max-question-tokens", "24", "--max-image-pixels", "100000",
                                     "--max-receive-mib", "2", "--max-image-mib", "1"}});
  auto ch = server.channel();
  const v1::GenerateRequest good = quick_request();
  REQUIRE(generate(*ch, good).status.ok());

  struct Case {
    const char* name;
    std::function<void(v1::GenerateRequest&)> mutate;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"no image", [](v1::GenerateRequest& r) { r.clear_image(); }, "image is empty"},
      {"not an image", [](v1::GenerateRequest& r) { r.set_image("hello, world"); },
       "neither JPEG nor PNG"},
      {"corrupt PNG",
       [](v1::GenerateRequest& r) {
         r.set_image(r.image().substr(0, 8) + std::string(200, '\x42'));
       },
       "image: "},
      {"truncated PNG",
       [](v1::GenerateRequest& r) { r.set_image(r.image().substr(0, r.image().size() / 2)); },
       "image: "},
      {"too many pixels",
       [](v1::GenerateRequest& r) { r.set_image(rpc::make_test_pattern_png(400, 300, 1)); },
       "(120000 pixels), more than the limit of 100000 pixels"},
      {"image over --max-image-mib",
       [](v1::GenerateRequest& r) { r.set_image(r.image() + std::string(1100000, '\0')); },
       "bytes, the limit is 1048576"},
      {"empty question", [](v1::GenerateRequest& r) { r.set_question("   "); },
       "question is empty"},
      {"question over the byte limit",
       [](v1::GenerateRequest& r) { r.set_question(std::string(9000, 'q')); },
       "question is 9000 bytes, the limit is 8192"},
      {"question over the token limit",
       [](v1::GenerateRequest& r) {
         std::string q;
         for (int i = 0; i < 60; ++i) q += "word" + std::to_string(i) + " ";
         r.set_question(q);
       },
       "tokens, the limit is 24"},
      {"gen_length 0", [](v1::GenerateRequest& r) { r.mutable_generation()->set_gen_length(0); },
       "generation.gen_length must be in [1, 1024], got 0"},
      {"gen_length too big",
       [](v1::GenerateRequest& r) { r.mutable_generation()->set_gen_length(5000); },
       "generation.gen_length must be in [1, 1024], got 5000"},
      {"block_length does not divide",
       [](v1::GenerateRequest& r) { r.mutable_generation()->set_block_length(5); },
       "must divide gen_length"},
      {"steps 0", [](v1::GenerateRequest& r) { r.mutable_generation()->set_steps(0); },
       "generation.steps must be in [1, 1024], got 0"},
      {"negative temperature",
       [](v1::GenerateRequest& r) { r.mutable_generation()->set_temperature(-1); },
       "generation.temperature must be in [0, 100]"},
      {"step_ratio 0", [](v1::GenerateRequest& r) { r.mutable_generation()->set_step_ratio(0); },
       "generation.step_ratio"},
      {"shift 0", [](v1::GenerateRequest& r) { r.mutable_generation()->set_shift(0); },
       "generation.shift"},
      {"unknown remasking",
       [](v1::GenerateRequest& r) {
         r.mutable_generation()->set_remasking(static_cast<v1::Remasking>(99));
       },
       "generation.remasking: unknown value 99"},
      {"unknown schedule",
       [](v1::GenerateRequest& r) {
         r.mutable_generation()->set_schedule(static_cast<v1::Schedule>(7));
       },
       "generation.schedule: unknown value 7"},
      {"k 0", [](v1::GenerateRequest& r) { r.mutable_selection()->set_k(0); },
       "selection.k must be in [1, 2304]"},
      {"k too big", [](v1::GenerateRequest& r) { r.mutable_selection()->set_k(4000); },
       "selection.k must be in [1, 2304], got 4000"},
      {"adaptive bounds crossed",
       [](v1::GenerateRequest& r) {
         r.mutable_selection()->set_adaptive_k(true);
         r.mutable_selection()->set_k_min(1000);
         r.mutable_selection()->set_k_max(10);
       },
       "selection.k_min (1000) must not exceed selection.k_max (10)"},
      {"unknown mode",
       [](v1::GenerateRequest& r) {
         r.mutable_selection()->set_mode(static_cast<v1::SelectionMode>(50));
       },
       "selection.mode: unknown value 50"},
      {"bad request id", [](v1::GenerateRequest& r) { r.set_request_id("white space"); },
       "request_id"},
  };
  for (const auto& c : cases) {
    INFO("case: " << c.name);
    {
      v1::GenerateRequest r = good;
      c.mutate(r);
      expect_status(generate(*ch, r).status, grpc::StatusCode::INVALID_ARGUMENT, c.message);
      // The streaming RPC validates the same way. Errors found at the edge come before any
      // event; those only the engine can see (image decoding) after the "queued" event alone.
      const StreamResult s = generate_stream(*ch, r);
      expect_status(s.status, grpc::StatusCode::INVALID_ARGUMENT, c.message);
      CHECK(s.events.size() <= 1);
      for (const auto& e : s.events) CHECK(e.has_queued());
    }
  }

  {  // SelectionMap validation
    auto stub = v1::Inference::NewStub(ch);
    v1::SelectionMapRequest req;
    req.set_image(good.image());
    req.mutable_selection()->set_mode(v1::SELECTION_MODE_LAVIDA_HD);
    grpc::ClientContext ctx;
    prepare(ctx, {});
    v1::SelectionMapResponse resp;
    expect_status(stub->SelectionMap(&ctx, req, &resp), grpc::StatusCode::INVALID_ARGUMENT,
                  "SelectionMap needs a SHIRG selection mode");
    req.mutable_selection()->set_mode(v1::SELECTION_MODE_SHIRG);
    req.mutable_selection()->set_query_aware(true);
    grpc::ClientContext ctx2;
    prepare(ctx2, {});
    expect_status(stub->SelectionMap(&ctx2, req, &resp), grpc::StatusCode::INVALID_ARGUMENT,
                  "question is required when selection.query_aware is true");
  }

  {  // a message over --max-receive-mib is refused by gRPC
    v1::GenerateRequest r = good;
    r.set_image(r.image() + std::string(3 << 20, '\0'));
    CHECK(generate(*ch, r).status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  }

  // The server is still healthy and answers after all of that.
  CHECK(generate(*ch, good).status.ok());
  CHECK(server.terminate() == std::optional<int>(0));
}

TEST_CASE("a message gRPC cannot parse answers INVALID_ARGUMENT, is counted and logged as JSON") {
  ServerProcess server(ServerLaunch{{"--log-format", "json"}});
  auto ch = server.channel();
  grpc::GenericStub stub(ch);
  // Hand-made GenerateRequest: image (field 1) "abc", question (field 2) = invalid UTF-8.
  const std::string bytes(
      "\x0a\x03"
      "abc"
      "\x12\x02\xc3\x28",
      9);
  for (const char* method : {"/shirg.v1.Inference/Generate", "/shirg.v1.Inference/SelectionMap"}) {
    grpc::Slice slice(bytes);
    grpc::ByteBuffer req(&slice, 1), resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    std::promise<grpc::Status> done;
    stub.UnaryCall(&ctx, method, grpc::StubOptions(), &req, &resp,
                   [&](grpc::Status s) { done.set_value(s); });
    auto f = done.get_future();
    REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    expect_status(f.get(), grpc::StatusCode::INVALID_ARGUMENT, "not a valid shirg.v1");
  }
  const PromText m = scrape(server);
  CHECK(requests_total(m, "Generate", "INVALID_ARGUMENT") == 1);
  CHECK(requests_total(m, "SelectionMap", "INVALID_ARGUMENT") == 1);
  CHECK(server.terminate() == std::optional<int>(0));
  // Every line on stderr is JSON, libprotobuf's complaint included.
  std::istringstream lines(server.log());
  std::string line;
  int json_lines = 0;
  bool protobuf_seen = false;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    INFO(line);
    CHECK(nlohmann::json::accept(line));
    ++json_lines;
    protobuf_seen = protobuf_seen || line.find("libprotobuf") != std::string::npos;
  }
  CHECK(json_lines > 3);
  CHECK(protobuf_seen);
}

TEST_CASE("a full queue answers RESOURCE_EXHAUSTED") {
  ServerProcess server(ServerLaunch{{"--workers", "1", "--max-batch", "1", "--max-queue", "1"}});
  auto ch = server.channel();
  // A: running (its first step event arrived). B: waiting in the queue (its queued event arrived).
  std::promise<void> a_running, b_queued;
  std::promise<void> release;
  auto release_f = release.get_future().share();
  auto hold = [&](std::promise<void>* signal, bool on_step) {
    return [=, signalled = false](const v1::GenerateEvent& ev) mutable {
      if (!signalled && ((on_step && ev.has_step()) || (!on_step && ev.has_queued()))) {
        signal->set_value();
        signalled = true;
      }
      if (signalled && release_f.wait_for(std::chrono::seconds(0)) == std::future_status::ready)
        return false;  // cancel once the test is done
      return true;
    };
  };
  auto a = std::async(std::launch::async, [&] {
    return generate_stream(*ch, slow_request(1), {}, hold(&a_running, true));
  });
  REQUIRE(a_running.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready);
  auto b = std::async(std::launch::async, [&] {
    return generate_stream(*ch, slow_request(2), {}, hold(&b_queued, false));
  });
  REQUIRE(b_queued.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready);

  const UnaryResult c = generate(*ch, quick_request());
  expect_status(c.status, grpc::StatusCode::RESOURCE_EXHAUSTED, "queue is full");
  const StreamResult d = generate_stream(*ch, quick_request());
  expect_status(d.status, grpc::StatusCode::RESOURCE_EXHAUSTED, "queue is full");
  const PromText m = scrape(server);
  CHECK(requests_total(m, "Generate", "RESOURCE_EXHAUSTED") == 1);
  CHECK(requests_total(m, "GenerateStream", "RESOURCE_EXHAUSTED") == 1);
  CHECK(m.sum("shirg_queue_depth") == 1);

  // Stop A and B (client cancellation); the queue drains and requests are admitted again.
  release.set_value();
  const StreamResult ra = a.get(), rb = b.get();
  CHECK(ra.status.error_code() == grpc::StatusCode::CANCELLED);
  // B may have been cancelled while queued or just after it started; either way it ends.
  CHECK((rb.status.error_code() == grpc::StatusCode::CANCELLED || rb.status.ok()));
  CHECK(drained(server));
  CHECK(generate(*ch, quick_request()).status.ok());
  CHECK(server.terminate() == std::optional<int>(0));
}

TEST_CASE(
    "a deadline that expires mid-generation answers DEADLINE_EXCEEDED and frees the request") {
  ServerProcess server;
  auto ch = server.channel();
  // How long the whole slow request takes here; the deadline is a fraction of it.
  const auto t0 = std::chrono::steady_clock::now();
  const UnaryResult full = generate(*ch, slow_request());
  INFO(full.status.error_code() << ": " << full.status.error_message());
  REQUIRE(full.status.ok());
  const auto full_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  const double prefix_ms = full.response.timings().total_ms() - full.response.timings().steps_ms();
  const auto deadline =
      std::chrono::milliseconds(static_cast<int64_t>(prefix_ms) + full_ms.count() / 3 + 50);
  INFO("full request " << full_ms.count() << " ms, prefix " << prefix_ms << " ms, deadline "
                       << deadline.count());
  REQUIRE(deadline < full_ms);

  {  // streaming: some steps arrive, then DEADLINE_EXCEEDED
    const StreamResult s = generate_stream(*ch, slow_request(), CallOptions{deadline, ""});
    CHECK(s.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
    CHECK_FALSE(s.result.has_value());
    int64_t steps = 0;
    for (const auto& e : s.events) steps += e.has_step();
    CHECK(steps >= 1);
    CHECK(steps < full.response.steps());
    CHECK(drained(server));
    CHECK(requests_total(scrape(server), "GenerateStream", "DEADLINE_EXCEEDED") == 1);
  }
  {  // unary
    CHECK(generate(*ch, slow_request(), CallOptions{deadline, ""}).status.error_code() ==
          grpc::StatusCode::DEADLINE_EXCEEDED);
    CHECK(drained(server));
    CHECK(requests_total(scrape(server), "Generate", "DEADLINE_EXCEEDED") == 1);
  }
  // The engine stopped the request (not only the client): the next one runs at once and gives
  // the same answer as before.
  const UnaryResult again = generate(*ch, slow_request());
  REQUIRE(again.status.ok());
  CHECK(same_answer(again.response, full.response));
  CHECK(server.terminate() == std::optional<int>(0));
}

TEST_CASE("client cancellation mid-stream frees the request and the server keeps serving") {
  ServerProcess server;
  auto ch = server.channel();
  const UnaryResult before = generate(*ch, quick_request(3));
  REQUIRE(before.status.ok());
  int steps_seen = 0;
  const StreamResult s = generate_stream(*ch, slow_request(), {}, [&](const v1::GenerateEvent& ev) {
    steps_seen += ev.has_step();
    return steps_seen < 3;  // cancel after the third step event
  });
  CHECK(s.status.error_code() == grpc::StatusCode::CANCELLED);
  CHECK_FALSE(s.result.has_value());
  CHECK(steps_seen >= 3);
  CHECK(drained(server));
  const PromText m = scrape(server);
  CHECK(requests_total(m, "GenerateStream", "CANCELLED") == 1);
  CHECK(m.sum("shirg_prefix_cache_bytes") == 0);  // its prefix cache was released
  const UnaryResult after = generate(*ch, quick_request(3));
  REQUIRE(after.status.ok());
  CHECK(same_answer(before.response, after.response));

  {  // unary cancellation too
    auto stub = v1::Inference::NewStub(ch);
    grpc::ClientContext ctx;
    prepare(ctx, {});
    v1::GenerateResponse resp;
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      ctx.TryCancel();
    });
    const grpc::Status st = stub->Generate(&ctx, slow_request(), &resp);
    canceller.join();
    CHECK(st.error_code() == grpc::StatusCode::CANCELLED);
    CHECK(drained(server));
    CHECK(generate(*ch, quick_request(3)).status.ok());
  }
  CHECK(server.terminate() == std::optional<int>(0));
}

TEST_CASE("bearer-token authentication") {
  char tmpl[] = "/tmp/shirg_token_XXXXXX";
  const int fd = mkstemp(tmpl);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(tmpl) << "t0ken-for-tests\n";
  ServerProcess server(ServerLaunch{{"--auth-token-file", tmpl}});
  std::remove(tmpl);
  auto ch = server.channel();
  const auto req = quick_request();

  expect_status(generate(*ch, req).status, grpc::StatusCode::UNAUTHENTICATED,
                "missing credentials");
  expect_status(generate(*ch, req, CallOptions{std::nullopt, "wrong"}).status,
                grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token");
  expect_status(generate_stream(*ch, req).status, grpc::StatusCode::UNAUTHENTICATED,
                "missing credentials");
  {
    auto stub = v1::Inference::NewStub(ch);
    grpc::ClientContext ctx;
    prepare(ctx, {});
    v1::ModelInfoResponse info;
    CHECK(stub->ModelInfo(&ctx, v1::ModelInfoRequest{}, &info).error_code() ==
          grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext ctx2;
    prepare(ctx2, {});
    v1::SelectionMapRequest sreq;
    sreq.set_image(req.image());
    v1::SelectionMapResponse sresp;
    CHECK(stub->SelectionMap(&ctx2, sreq, &sresp).error_code() ==
          grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext ctx3;
    prepare(ctx3, CallOptions{std::nullopt, "t0ken-for-tests"});
    CHECK(stub->ModelInfo(&ctx3, v1::ModelInfoRequest{}, &info).ok());
  }
  // Even a malformed request is refused for its credentials first.
  v1::GenerateRequest bad = req;
  bad.clear_image();
  CHECK(generate(*ch, bad).status.error_code() == grpc::StatusCode::UNAUTHENTICATED);

  const CallOptions ok{std::nullopt, "t0ken-for-tests"};
  CHECK(generate(*ch, req, ok).status.ok());
  CHECK(generate_stream(*ch, req, ok).status.ok());
  // Health and reflection stay open for probes.
  CHECK(health_check(*ch) == grpc::health::v1::HealthCheckResponse::SERVING);
  CHECK_FALSE(reflection_services(*ch).empty());
  CHECK(requests_total(scrape(server), "Generate", "UNAUTHENTICATED") == 3);
  CHECK(server.terminate() == std::optional<int>(0));
}

TEST_CASE("TLS with a certificate made at test time") {
  char tmpl[] = "/tmp/shirg_tls_XXXXXX";
  REQUIRE(mkdtemp(tmpl));
  const std::string dir = tmpl;
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost"
      " -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
      " -keyout " +
      dir + "/key.pem -out " + dir + "/cert.pem >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::string cert;
  REQUIRE(run_command("cat " + dir + "/cert.pem", &cert) == 0);
  ServerProcess server(
      ServerLaunch{{"--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/key.pem"}, false});

  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = cert;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  auto tls = grpc::CreateCustomChannel(server.address(), grpc::SslCredentials(opts), args);
  REQUIRE(eventually(
      [&] { return health_check(*tls) == grpc::health::v1::HealthCheckResponse::SERVING; },
      std::chrono::seconds(120)));
  const UnaryResult r = generate(*tls, quick_request());
  CHECK(r.status.ok());
  CHECK(r.response.answer_tokens() > 0);

  // A plaintext client cannot talk to the TLS port.
  auto plain = server.channel();
  CHECK(generate(*plain, quick_request(), CallOptions{std::chrono::seconds(5), ""})
            .status.error_code() == grpc::StatusCode::UNAVAILABLE);
  // A client that does not trust the certificate is refused too.
  auto untrusted = grpc::CreateCustomChannel(
      server.address(), grpc::SslCredentials(grpc::SslCredentialsOptions{}), args);
  CHECK(generate(*untrusted, quick_request(), CallOptions{std::chrono::seconds(5), ""})
            .status.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(server.terminate() == std::optional<int>(0));
  std::system(("rm -rf '" + dir + "'").c_str());
}
