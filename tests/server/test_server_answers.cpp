// Answers of a real shirg-server (tiny model): unary = stream = offline tool = repeated runs =
// concurrent runs, for the same inputs and seeds. ModelInfo and SelectionMap contents.
#include "tests/common/catch.h"

#include <nlohmann/json.hpp>

#include <future>
#include <set>

#include "engine/api/request.h"
#include "tests/server/integration_common.h"

using namespace shirg;
using namespace shirg::testing;
using Catch::Matchers::ContainsSubstring;

namespace {

struct OfflineCase {
  std::string name;
  std::vector<std::string> flags;                 // shirg-offline request flags
  std::function<void(v1::GenerateRequest&)> set;  // the same options in the proto
};

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The stream's events are well-formed: queued first, prefix ready, increasing steps ending at
// total_steps, the result last.
void check_stream_shape(const StreamResult& s, const std::string& request_id) {
  REQUIRE(s.status.ok());
  REQUIRE(s.events.size() >= 3);
  CHECK(s.events.front().has_queued());
  CHECK(s.events.front().queued().request_id() == request_id);
  CHECK(s.events[1].has_prefix_ready());
  REQUIRE(s.events.back().has_result());
  int64_t last_step = 0, total = 0;
  for (std::size_t i = 2; i + 1 < s.events.size(); ++i) {
    REQUIRE(s.events[i].has_step());
    CHECK(s.events[i].step().step() > last_step);
    last_step = s.events[i].step().step();
    total = s.events[i].step().total_steps();
  }
  CHECK(last_step == total);
  CHECK(total == s.result->steps());
  const std::string& last_partial = s.events[s.events.size() - 2].step().partial_answer();
  CHECK(last_partial.find(kMaskGlyph) == std::string::npos);  // every position committed
  CHECK(s.events[1].prefix_ready().prefix_tokens() == s.result->prefix_tokens());
  CHECK(s.events[1].prefix_ready().cache_bytes() == s.result->cache_bytes());
  CHECK(s.result->cache_bytes() > 0);
}

}  // namespace

TEST_CASE("unary and streaming answers equal the offline tool's for the same seed") {
  ServerProcess server;
  auto ch = server.channel();
  const v1::GenerateRequest base = make_request(3, 11, 24, 12, "Which colours are in the picture?");
  const std::string image_path = write_temp_file(server.dir(), "image.png", base.image());

  const std::vector<OfflineCase> cases = {
      {"shirg greedy", {}, [](v1::GenerateRequest&) {}},
      {"baseline-384",
       {"--mode", "baseline-384"},
       [](v1::GenerateRequest& r) {
         r.mutable_selection()->set_mode(v1::SELECTION_MODE_BASELINE_384);
       }},
      {"shirg k=256 temperature 0.9 seed 5 random remasking blocks",
       {"--k", "256", "--temperature", "0.9", "--seed", "5", "--remasking", "random",
        "--block-length", "8"},
       [](v1::GenerateRequest& r) {
         r.mutable_selection()->set_k(256);
         r.mutable_generation()->set_temperature(0.9);
         r.mutable_generation()->set_seed(5);
         r.mutable_generation()->set_remasking(v1::REMASKING_RANDOM);
         r.mutable_generation()->set_block_length(8);
       }},
  };
  for (const auto& c : cases) {
    INFO("case: " << c.name);
    {
      v1::GenerateRequest req = base;
      c.set(req);
      req.set_request_id("case-unary");
      const UnaryResult unary = generate(*ch, req);
      REQUIRE(unary.status.ok());
      CHECK(unary.response.request_id() == "case-unary");
      CHECK(unary.request_id_metadata == "case-unary");
      CHECK(unary.response.answer_tokens() > 0);
      CHECK(unary.response.timings().total_ms() > 0);

      req.set_request_id("case-stream");
      const StreamResult stream = generate_stream(*ch, req);
      check_stream_shape(stream, "case-stream");
      CHECK(same_answer(unary.response, *stream.result));

      req.clear_request_id();
      const UnaryResult again = generate(*ch, req);
      REQUIRE(again.status.ok());
      CHECK(same_answer(unary.response, again.response));
      CHECK(again.response.request_id().rfind("req-", 0) == 0);  // made by the server

      if (offline_binary().empty()) FAIL("shirg-offline is not built");
      std::string cmd = shell_quote(offline_binary()) + " --model-dir " +
                        shell_quote(tiny_model_dir()) + " --image " + shell_quote(image_path) +
                        " --question " + shell_quote(base.question()) +
                        " --gen-length 24 --steps 12 --seed 11 --threads 1 --json";
      for (const auto& f : c.flags) cmd += " " + shell_quote(f);
      std::string out;
      REQUIRE(run_command(cmd + " 2>/dev/null", &out) == 0);
      const auto j = nlohmann::json::parse(out);
      INFO("offline: " << out);
      CHECK(j["answer"].get<std::string>() == unary.response.answer());
      CHECK(static_cast<int64_t>(j["answer_ids"].size()) == unary.response.answer_tokens());
      CHECK(j["stop_reason"].get<std::string>() ==
            (unary.response.stop_reason() == v1::STOP_REASON_STOP_TOKEN ? "stop_token" : "length"));
      CHECK(j["prefix_tokens"].get<int64_t>() == unary.response.prefix_tokens());
      CHECK(j["cache_bytes"].get<int64_t>() == unary.response.cache_bytes());
      CHECK(j["steps"].get<int64_t>() == unary.response.steps());
      CHECK(j["selection"]["visual_tokens"].get<int64_t>() ==
            unary.response.selection().visual_tokens());
      CHECK(j["selection"]["hi_detail_tokens"].get<int64_t>() ==
            unary.response.selection().hi_detail_tokens());
      CHECK(j["selection"]["scaffold_tokens"].get<int64_t>() ==
            unary.response.selection().scaffold_tokens());
    }
  }
  CHECK(server.terminate() == std::optional<int>(0));
}

TEST_CASE("concurrent clients get the same answers as sequential ones") {
  // Concurrent requests share batched denoising steps (--max-batch 4); fp32 so that "the same
  // answers" is exact (a batched bf16 step may round differently: docs/server.md).
  ServerProcess server(
      ServerLaunch{{"--workers", "2", "--max-batch", "4", "--max-queue", "16", "--dtype", "fp32"}});
  auto ch = server.channel();
  constexpr int kClients = 6;
  std::vector<v1::GenerateRequest> reqs;
  for (int i = 0; i < kClients; ++i) {
    auto r = make_request(static_cast<uint32_t>(i % 3), static_cast<uint64_t>(100 + i), 16, 8);
    r.mutable_generation()->set_temperature(1.0);  // the seed matters
    reqs.push_back(r);
  }
  std::vector<v1::GenerateResponse> sequential;
  for (const auto& r : reqs) {
    auto u = generate(*ch, r);
    REQUIRE(u.status.ok());
    sequential.push_back(u.response);
  }
  // Different seeds give different answers somewhere (else the comparison below proves little).
  bool any_differs = false;
  for (int i = 1; i < kClients; ++i)
    any_differs |= sequential[i].answer() != sequential[0].answer();
  CHECK(any_differs);

  for (int round = 0; round < 2; ++round) {
    std::vector<std::future<v1::GenerateResponse>> futs;
    for (int i = 0; i < kClients; ++i)
      futs.push_back(std::async(std::launch::async, [&, i] {
        auto own = server.channel();  // one connection per client
        if (i % 2) {
          auto s = generate_stream(*own, reqs[i]);
          return s.status.ok() && s.result ? *s.result : v1::GenerateResponse{};
        }
        auto u = generate(*own, reqs[i]);
        return u.status.ok() ? u.response : v1::GenerateResponse{};
      }));
    for (int i = 0; i < kClients; ++i) {
      const auto got = futs[i].get();
      INFO("client " << i << " round " << round);
      CHECK(same_answer(got, sequential[i]));
    }
  }
  // Every denoising step went through the step loop's batch histogram. (Whether two requests
  // overlap depends on timing here; tests/runtime/test_batching forces and checks that.)
  const auto m = scrape(server);
  CHECK(m.sum("shirg_batch_size_count") > 0);
  CHECK(m.sum("shirg_batch_size_sum") >= m.sum("shirg_batch_size_count"));
  // The default schedule (interleave) never holds a step, so no hold ever runs out.
  CHECK(m.types.at("shirg_step_holds_expired_total") == "counter");
  CHECK(m.count("shirg_step_holds_expired_total") == 1);
  CHECK(m.sum("shirg_step_holds_expired_total") == 0);
  CHECK(server.terminate() == std::optional<int>(0));
}

TEST_CASE("ModelInfo describes the loaded checkpoint") {
  ServerProcess server(ServerLaunch{{"--max-queue", "7", "--max-gen-length", "512"}});
  auto stub = v1::Inference::NewStub(server.channel());
  grpc::ClientContext ctx;
  prepare(ctx, {});
  v1::ModelInfoResponse info;
  REQUIRE(stub->ModelInfo(&ctx, v1::ModelInfoRequest{}, &info).ok());
  CHECK(info.checkpoint() == tiny_model_dir());
  CHECK(info.model_type() == "llava_llada");
  CHECK((info.dtype() == "bf16" || info.dtype() == "fp32"));
  CHECK((info.llm_weight_dtype() == "bf16" || info.llm_weight_dtype() == "fp32"));
  if (info.dtype() == "bf16") CHECK(info.llm_weight_dtype() == "bf16");
  CHECK(info.device() == "cpu");
  CHECK(info.llm_d_model() == 64);
  CHECK(info.llm_layers() == 2);
  CHECK(info.llm_heads() == 4);
  CHECK(info.vision_hidden_size() == 64);
  CHECK(info.parameters() > 0);
  CHECK(info.max_queue() == 7);
  CHECK(info.max_gen_length() == 512);
  CHECK(info.max_image_bytes() == 32 << 20);
  CHECK_FALSE(info.shirg_adapter_loaded());
  CHECK(info.selection_modes_size() == 10);
  CHECK(info.selection_modes(0) == "shirg");
  CHECK_FALSE(info.server_version().empty());
  CHECK(server.terminate() == std::optional<int>(0));
}

TEST_CASE("ModelInfo reports a SHIRG adapter loaded with --adapter-dir") {
  const std::string adapter = std::string(SHIRG_BINARY_DIR) + "/models/tiny-adapter";
  ServerProcess server(ServerLaunch{{"--adapter-dir", adapter}});
  auto stub = v1::Inference::NewStub(server.channel());
  grpc::ClientContext ctx;
  prepare(ctx, {});
  v1::ModelInfoResponse info;
  REQUIRE(stub->ModelInfo(&ctx, v1::ModelInfoRequest{}, &info).ok());
  CHECK(info.shirg_adapter_loaded());
  CHECK(info.adapter_dir() == adapter);
  CHECK(info.lora_modules_merged() > 0);
  CHECK(server.terminate() == std::optional<int>(0));
}

TEST_CASE("SelectionMap returns the kept cells, scores and an overlay PNG") {
  ServerProcess server;
  auto stub = v1::Inference::NewStub(server.channel());
  v1::SelectionMapRequest req;
  req.set_image(make_request(4, 0, 8, 4).image());
  req.mutable_selection()->set_k(300);
  grpc::ClientContext ctx;
  prepare(ctx, {});
  v1::SelectionMapResponse resp;
  const grpc::Status s = stub->SelectionMap(&ctx, req, &resp);
  REQUIRE(s.ok());
  CHECK(resp.grid() == 48);
  CHECK(resp.scores_size() == 48 * 48);
  CHECK(resp.kept_indices_size() > 0);
  std::set<int64_t> unique;
  for (int64_t idx : resp.kept_indices()) {
    CHECK((idx >= 0 && idx < 48 * 48));
    unique.insert(idx);
  }
  CHECK(unique.size() == static_cast<std::size_t>(resp.kept_indices_size()));
  CHECK(resp.scaffold_tokens() == resp.selection().scaffold_tokens());
  CHECK(resp.overlay_png().substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));

  // The same request twice gives the same selection.
  grpc::ClientContext ctx2;
  prepare(ctx2, {});
  v1::SelectionMapResponse again;
  REQUIRE(stub->SelectionMap(&ctx2, req, &again).ok());
  CHECK(std::vector<int64_t>(again.kept_indices().begin(), again.kept_indices().end()) ==
        std::vector<int64_t>(resp.kept_indices().begin(), resp.kept_indices().end()));
  CHECK(server.terminate() == std::optional<int>(0));
}
