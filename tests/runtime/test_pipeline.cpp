// The per-request pipeline on the tiny model: every mode, token counts, determinism, the static
// prefix (selection before step 0), dumps, and bad input.
#include "tests/common/catch_torch.h"

#include <algorithm>
#include <atomic>

#include "engine/runtime/pipeline.h"
#include "engine/vision/image.h"
#include "tests/common/test_images.h"
#include "tests/runtime/runtime_fixture.h"

using namespace shirg;
using Catch::Matchers::ContainsSubstring;

namespace {

GenerateRequest request(SelectionMode mode, const std::string& image = testing::chart_png()) {
  GenerateRequest r;
  r.image_bytes = image;
  r.question = "What is the title of the chart?";
  r.selection.mode = mode;
  r.generation.gen_length = 16;
  r.generation.block_length = 16;
  r.generation.steps = 8;
  return r;
}

GenerateResult run_ok(const Pipeline& p, GenerateRequest r, RunControl ctl = {}) {
  Status s = p.validate(r);
  REQUIRE(s.message == "");
  GenerateResult out;
  s = p.run(r, ctl, &out);
  INFO(s.message);
  REQUIRE(s.ok());
  return out;
}

Status run_status(const Pipeline& p, GenerateRequest r) {
  Status s = p.validate(r);
  if (!s.ok()) return s;
  GenerateResult out;
  return p.run(r, {}, &out);
}

}  // namespace

TEST_CASE("every selection mode runs and gives its documented token count") {
  Pipeline p(testing::tiny_model(), {});
  struct Case {
    SelectionMode mode;
    int64_t visual;
  };
  for (const Case& c :
       {Case{SelectionMode::kBaseline384, 729}, Case{SelectionMode::kLavida384, 197},
        Case{SelectionMode::kFull672, 2304}, Case{SelectionMode::kShirg, 64 + 1152},
        Case{SelectionMode::kNoScaffold, 1152}, Case{SelectionMode::kNoCoords, 64 + 1152},
        Case{SelectionMode::kSimilarityOnly, 64 + 1152}, Case{SelectionMode::kNoMerge, 64 + 1152},
        Case{SelectionMode::kRandomK, 64 + 1152}}) {
    INFO(selection_mode_name(c.mode));
    const GenerateResult r = run_ok(p, request(c.mode));
    CHECK(r.selection.visual_tokens == c.visual);
    CHECK(r.prefix_tokens > c.visual);
    CHECK(r.steps_run >= 1);
    CHECK(r.steps_run <= 8);
    const auto& cfg = testing::tiny_model()->config.llm;
    CHECK(r.cache_bytes == 2 * cfg.n_layers * r.prefix_tokens * cfg.d_model * 2);  // bf16 cache
  }
}

TEST_CASE("lavida-hd on a 768x768 image gives 1008 tokens with newlines") {
  Pipeline p(testing::tiny_model(), {});
  const GenerateResult r =
      run_ok(p, request(SelectionMode::kLavidaHd, testing::chart_png(768, 768)));
  CHECK(r.selection.visual_tokens == 1008);
  CHECK(r.selection.newline_tokens == 28);
}

TEST_CASE("an adapter changes the SHIRG modes only: LaViDa's own modes run on the base weights") {
  Pipeline plain(testing::tiny_model(), {});
  Pipeline adapted(testing::tiny_model_with_adapter(), {});
  for (SelectionMode mode :
       {SelectionMode::kBaseline384, SelectionMode::kLavida384, SelectionMode::kLavidaHd,
        SelectionMode::kFull672, SelectionMode::kShirg, SelectionMode::kNoCoords}) {
    INFO(selection_mode_name(mode));
    std::map<std::string, at::Tensor> d0, d1;
    RunControl c0, c1;
    c0.dump = &d0;
    c1.dump = &d1;
    const GenerateResult a = run_ok(plain, request(mode), c0);
    const GenerateResult b = run_ok(adapted, request(mode), c1);
    const bool same = at::equal(d0.at("visual_tokens"), d1.at("visual_tokens"));
    if (mode == SelectionMode::kShirg || mode == SelectionMode::kNoCoords) {
      CHECK(!same);  // SHIRG runs on the merged SigLIP / projector
    } else {
      CHECK(same);  // bit-identical: the same base tensors, not a merge undone
      CHECK(a.answer_ids == b.answer_ids);
    }
  }
}

TEST_CASE("the coordinate embedding changes the hi-detail tokens, never the 64 scaffold tokens") {
  Pipeline p(testing::tiny_model_with_adapter(), {});
  std::map<std::string, at::Tensor> with, without;
  RunControl c0, c1;
  c0.dump = &with;
  c1.dump = &without;
  run_ok(p, request(SelectionMode::kShirg), c0);
  run_ok(p, request(SelectionMode::kNoCoords), c1);  // the same selection, no embedding
  const at::Tensor a = with.at("visual_tokens"), b = without.at("visual_tokens");
  REQUIRE(a.sizes() == b.sizes());
  CHECK(at::equal(a.slice(0, 0, 64), b.slice(0, 0, 64)));
  const at::Tensor row_changed = (a.slice(0, 64) - b.slice(0, 64)).abs().amax(1) > 0;
  CHECK(row_changed.all().item<bool>());
}

TEST_CASE("cancellation is checked after every SigLIP layer and every prefill layer") {
  const auto model = testing::tiny_model();
  Pipeline p(model, {});
  const auto count = [](const std::vector<std::string>& v, const std::string& what) {
    return std::count(v.begin(), v.end(), what);
  };
  // Uncancelled: one check per SigLIP layer (every view batch) and per prefill layer but the last.
  for (SelectionMode mode :
       {SelectionMode::kShirg, SelectionMode::kBaseline384, SelectionMode::kLavidaHd}) {
    INFO(selection_mode_name(mode));
    std::vector<std::string> points;
    RunControl ctl;
    ctl.on_check = [&](const char* where) { points.emplace_back(where); };
    run_ok(p, request(mode), ctl);
    CHECK(count(points, "in the vision encoder") ==
          static_cast<std::ptrdiff_t>(model->vision.layers.size()));
    CHECK(count(points, "in the prefill") == model->config.llm.n_layers - 1);
  }
  // Cancelled inside a stage: the request stops at that layer, not at the end of the stage.
  for (const char* where : {"in the vision encoder", "in the prefill"}) {
    INFO(where);
    std::atomic<bool> cancelled{false};
    std::vector<std::string> points;
    RunControl ctl;
    ctl.cancelled = &cancelled;
    ctl.on_check = [&](const char* w) {
      points.emplace_back(w);
      if (std::string(w) == where) cancelled.store(true);
    };
    GenerateRequest r = request(SelectionMode::kShirg);
    REQUIRE(p.validate(r).ok());
    GenerateResult out;
    const Status s = p.run(r, ctl, &out);
    CHECK(s.code == StatusCode::kCancelled);
    CHECK(s.message == std::string("request cancelled ") + where);
    CHECK(count(points, where) == 1);
    CHECK(points.back() == where);
  }
}

TEST_CASE("SHIRG with adaptive K stays within its bounds") {
  Pipeline p(testing::tiny_model(), {});
  GenerateRequest r = request(SelectionMode::kShirg);
  r.selection.adaptive_k = true;
  r.selection.k_min = 400;
  r.selection.k_max = 900;
  const GenerateResult out = run_ok(p, r);
  CHECK(out.selection.hi_detail_tokens >= 400);
  CHECK(out.selection.hi_detail_tokens <= 900);
  CHECK(out.selection.scaffold_tokens == 64);
}

TEST_CASE("the same seed gives the same answer and the dump has every stage") {
  Pipeline p(testing::tiny_model(), {});
  GenerateRequest r = request(SelectionMode::kShirg);
  r.generation.temperature = 0.7;
  r.generation.seed = 42;
  std::map<std::string, at::Tensor> dump;
  RunControl ctl;
  ctl.dump = &dump;
  const GenerateResult a = run_ok(p, r, ctl);
  const GenerateResult b = run_ok(p, r);
  CHECK(a.answer_ids == b.answer_ids);
  CHECK(a.answer == b.answer);
  for (const char* key : {"visual_tokens", "prefix_embeddings", "prompt_ids", "selection_scores",
                          "selection_kept_indices", "selection_coords", "step_0_logits",
                          "step_0_tokens", "answer_ids"})
    CHECK(dump.count(key) == 1);
  CHECK(dump["visual_tokens"].size(0) == 64 + 1152);
  CHECK(dump["selection_scores"].numel() == 48 * 48);
}

TEST_CASE("steps run against a frozen prefix: the observer sees the prefix once, then every step") {
  struct Obs : RequestObserver {
    int prefix_events = 0;
    std::vector<int64_t> steps;
    int64_t total = 0, prefix_tokens = 0, cache_bytes = 0;
    bool prefix_before_steps = true;
    void on_prefix_ready(const PrefixReadyEvent& e) override {
      ++prefix_events;
      prefix_tokens = e.prefix_tokens;
      cache_bytes = e.cache_bytes;
    }
    void on_step(const StepEvent& e) override {
      if (prefix_events == 0) prefix_before_steps = false;
      steps.push_back(e.step);
      total = e.total_steps;
    }
    void on_done(const Status&, const GenerateResult&) override {}
  } obs;
  Pipeline p(testing::tiny_model(), {});
  GenerateRequest r = request(SelectionMode::kShirg);
  RunControl ctl;
  ctl.observer = &obs;
  const GenerateResult out = run_ok(p, r, ctl);
  CHECK(obs.prefix_events == 1);
  CHECK(obs.prefix_before_steps);
  // The event reports the live cache: 2 (K, V) x layers x prefix_len x kv width x 2 bytes (bf16).
  const auto& llm = testing::tiny_model()->config.llm;
  const int64_t kv_heads = llm.n_kv_heads > 0 ? llm.n_kv_heads : llm.n_heads;
  CHECK(obs.prefix_tokens == out.prefix_tokens);
  CHECK(obs.cache_bytes == out.cache_bytes);
  CHECK(obs.cache_bytes == 2 * llm.n_layers * out.prefix_tokens * kv_heads * llm.head_dim() * 2);
  REQUIRE(!obs.steps.empty());
  CHECK(obs.steps.front() == 1);
  CHECK(static_cast<int64_t>(obs.steps.size()) == out.steps_run);
}

TEST_CASE("cancellation and deadlines stop a request with the right status") {
  Pipeline p(testing::tiny_model(), {});
  std::atomic<bool> cancelled{true};
  RunControl ctl;
  ctl.cancelled = &cancelled;
  GenerateRequest r = request(SelectionMode::kBaseline384);
  REQUIRE(p.validate(r).ok());
  GenerateResult out;
  CHECK(p.run(r, ctl, &out).code == StatusCode::kCancelled);
  RunControl late;
  late.deadline = std::chrono::steady_clock::now() - std::chrono::milliseconds(1);
  CHECK(p.run(r, late, &out).code == StatusCode::kDeadlineExceeded);
}

TEST_CASE("bad input gives INVALID_ARGUMENT with a message a person understands") {
  Pipeline p(testing::tiny_model(), {});
  GenerateRequest r = request(SelectionMode::kShirg);
  r.image_bytes = "";
  CHECK_THAT(run_status(p, r).message, ContainsSubstring("image is empty"));
  r = request(SelectionMode::kShirg);
  r.image_bytes = "GIF89a not supported";
  Status s = run_status(p, r);
  CHECK(s.code == StatusCode::kInvalidArgument);
  CHECK_THAT(s.message, ContainsSubstring("image"));
  r = request(SelectionMode::kShirg);
  r.question = "   ";
  CHECK_THAT(run_status(p, r).message, ContainsSubstring("question is empty"));
  r = request(SelectionMode::kShirg);
  r.question = std::string("bad \xff\xfe utf8");
  s = run_status(p, r);
  CHECK(s.code == StatusCode::kInvalidArgument);
  CHECK_THAT(s.message, ContainsSubstring("UTF-8"));
  r = request(SelectionMode::kShirg);
  r.question = std::string(3000, 'a') + " " + std::string(3000, 'b');
  RequestLimits lim;
  lim.max_question_tokens = 64;
  Pipeline strict(testing::tiny_model(), lim);
  s = run_status(strict, r);
  CHECK(s.code == StatusCode::kInvalidArgument);
  CHECK_THAT(s.message, ContainsSubstring("limit is 64"));
  r = request(SelectionMode::kShirg);
  r.selection.k = 0;
  CHECK_THAT(run_status(p, r).message, ContainsSubstring("selection.k"));
  r = request(SelectionMode::kShirg);
  r.generation.gen_length = 0;
  CHECK(run_status(p, r).code == StatusCode::kInvalidArgument);
  r = request(SelectionMode::kShirg);
  r.generation.gen_length = 16;
  r.generation.block_length = 5;
  CHECK(run_status(p, r).code == StatusCode::kInvalidArgument);
}

TEST_CASE("selection map returns kept indices, scores and a PNG overlay") {
  Pipeline p(testing::tiny_model(), {});
  SelectionMapRequest r;
  r.image_bytes = testing::chart_png();
  r.selection.mode = SelectionMode::kShirg;
  REQUIRE(p.validate_selection(r).ok());
  SelectionMapResult out;
  REQUIRE(p.run_selection_map(r, {}, &out).ok());
  CHECK(out.grid == 48);
  CHECK(out.scores.size() == 48u * 48u);
  CHECK(out.kept_indices.size() >= 1152u);
  CHECK(out.scaffold_tokens == 64);
  REQUIRE(out.overlay_png.size() > 8);
  CHECK(out.overlay_png.substr(1, 3) == "PNG");
  const auto img = vision::decode_image(out.overlay_png.data(), out.overlay_png.size());
  CHECK(img.width == 672);
  SelectionMapRequest bad = r;
  bad.selection.mode = SelectionMode::kFull672;
  CHECK(p.validate_selection(bad).code == StatusCode::kInvalidArgument);
}
