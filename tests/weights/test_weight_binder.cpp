// WeightBinder: real-name binding, one error listing every problem, PEFT LoRA merging.
#include "tests/common/catch_torch.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "engine/config/model_config.h"
#include "engine/safetensors/safetensors_writer.h"
#include "engine/weights/lora_adapter.h"
#include "engine/weights/weight_binder.h"

namespace fs = std::filesystem;
using namespace shirg;
using Catch::Matchers::ContainsSubstring;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path p =
      fs::temp_directory_path() / ("shirg_test_w_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void put(st::SafetensorsWriter& w, const std::string& name, const at::Tensor& t0) {
  at::Tensor t = t0.contiguous();
  w.add(name, scalar_type_to_st(t.scalar_type()), t.sizes().vec(), t.data_ptr(),
        static_cast<std::size_t>(t.numel()) * t.element_size());
}

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream(p) << s;
}

}  // namespace

TEST_CASE("take() converts to the compute dtype and take_fp32 keeps fp32") {
  const auto dir = temp_dir("dtype");
  at::manual_seed(0);
  at::Tensor w = at::randn({4, 3});
  st::SafetensorsWriter sw;
  put(sw, "layer.weight", w.to(at::kBFloat16));
  put(sw, "norm.weight", w[0]);
  sw.write((dir / "model.safetensors").string());
  auto ckpt = st::Checkpoint::open_dir(dir.string());
  WeightBinder b(ckpt, at::kFloat, at::kCPU);
  at::Tensor got = b.take("layer.weight", {4, 3});
  CHECK(got.scalar_type() == at::kFloat);
  CHECK(at::allclose(got, w.to(at::kBFloat16).to(at::kFloat)));
  at::Tensor n = b.take_fp32("norm.weight", {3});
  CHECK(at::equal(n, w[0]));
  REQUIRE_NOTHROW(b.finish());
}

TEST_CASE("ONE error lists every missing, unexpected and mis-shaped tensor") {
  const auto dir = temp_dir("problems");
  st::SafetensorsWriter sw;
  put(sw, "a.weight", at::zeros({2, 2}));
  put(sw, "b.weight", at::zeros({3, 2}));            // expected [2, 2]
  put(sw, "stray.weight", at::zeros({1}));           // nobody asks for it
  put(sw, "post_layernorm.weight", at::zeros({1}));  // ignored deliberately
  sw.write((dir / "model.safetensors").string());
  auto ckpt = st::Checkpoint::open_dir(dir.string());
  WeightBinder b(ckpt, at::kFloat, at::kCPU);
  b.take("a.weight", {2, 2});
  at::Tensor z = b.take("b.weight", {2, 2});
  CHECK(z.sizes() == at::IntArrayRef({2, 2}));  // binding goes on with zeros
  b.take("c.weight", {5});
  b.take("d.weight", {6});
  b.ignore_prefix("post_layernorm.");
  try {
    b.finish();
    FAIL("finish() should have thrown");
  } catch (const ModelLoadError& e) {
    const std::string m = e.what();
    CHECK_THAT(m, ContainsSubstring("2 missing, 1 unexpected, 1 mis-shaped"));
    CHECK_THAT(m, ContainsSubstring("c.weight [5]") && ContainsSubstring("d.weight [6]"));
    CHECK_THAT(m, ContainsSubstring("stray.weight"));
    CHECK_THAT(m, ContainsSubstring("b.weight: expected [2, 2], found [3, 2]"));
    CHECK_THAT(m, !ContainsSubstring("post_layernorm"));
  }
}

TEST_CASE("LoRA merged at load equals the unmerged base + scaled B @ A path") {
  const auto dir = temp_dir("lora");
  const auto adir = dir / "adapter";
  fs::create_directories(adir);
  at::manual_seed(1);
  const int64_t out = 16, in = 12, r = 4;
  const double alpha = 8;
  at::Tensor w = at::randn({out, in});
  at::Tensor a = at::randn({r, in});
  at::Tensor bm = at::randn({out, r}) * 0.1;
  st::SafetensorsWriter sw;
  put(sw, "model.mm_projector.0.weight", w);
  sw.write((dir / "model.safetensors").string());
  st::SafetensorsWriter aw;
  put(aw, "base_model.model.model.mm_projector.0.lora_A.weight", a);
  put(aw, "base_model.model.model.mm_projector.0.lora_B.weight", bm);
  aw.write((adir / "adapter_model.safetensors").string());
  write_text(
      adir / "adapter_config.json",
      R"({"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["mm_projector.0"]})");

  auto ckpt = st::Checkpoint::open_dir(dir.string());
  auto adapter = LoraAdapter::open_dir(adir.string());
  CHECK(adapter.scale() == Approx(2.0));
  WeightBinder b(ckpt, at::kFloat, at::kCPU, &adapter);
  at::Tensor merged = b.take("model.mm_projector.0.weight", {out, in});
  REQUIRE_NOTHROW(b.finish());
  CHECK(b.merged_lora_modules() == 1);

  at::Tensor x = at::randn({5, in});
  at::Tensor y_merged = at::matmul(x, merged.t());
  at::Tensor y_unmerged =
      at::matmul(x, w.t()) + (alpha / r) * at::matmul(at::matmul(x, a.t()), bm.t());
  CHECK(at::allclose(y_merged, y_unmerged, 1e-4, 1e-5));
  CHECK(!at::allclose(y_merged, at::matmul(x, w.t()), 1e-3, 1e-3));  // the adapter did something
}

TEST_CASE("LoRA-only module (coord_rotary) is zero without an adapter and B @ A with one") {
  const auto dir = temp_dir("lora_only");
  st::SafetensorsWriter sw;
  put(sw, "x.weight", at::zeros({1}));
  sw.write((dir / "model.safetensors").string());
  auto ckpt = st::Checkpoint::open_dir(dir.string());
  {
    WeightBinder b(ckpt, at::kFloat, at::kCPU);
    bool merged = true;
    at::Tensor c = b.take_lora_only("model.shirg.coord_rotary", {6, 8}, &merged);
    CHECK(!merged);
    CHECK(c.abs().sum().item<float>() == 0.0f);
  }
  const auto adir = dir / "adapter";
  fs::create_directories(adir);
  at::Tensor a = at::randn({2, 8}), bm = at::randn({6, 2});
  st::SafetensorsWriter aw;
  put(aw, "base_model.model.model.shirg.coord_rotary.lora_A.weight", a);
  put(aw, "base_model.model.model.shirg.coord_rotary.lora_B.weight", bm);
  aw.write((adir / "adapter_model.safetensors").string());
  write_text(adir / "adapter_config.json", R"({"r": 2, "lora_alpha": 4})");
  auto adapter = LoraAdapter::open_dir(adir.string());
  WeightBinder b(ckpt, at::kFloat, at::kCPU, &adapter);
  bool merged = false;
  at::Tensor c = b.take_lora_only("model.shirg.coord_rotary", {6, 8}, &merged);
  CHECK(merged);
  CHECK(at::allclose(c, 2.0 * at::matmul(bm, a), 1e-5, 1e-6));
}

TEST_CASE("adapter problems are reported: unmatched module, wrong rank, lone A") {
  const auto dir = temp_dir("lora_bad");
  st::SafetensorsWriter sw;
  put(sw, "m.weight", at::zeros({4, 4}));
  sw.write((dir / "model.safetensors").string());
  auto ckpt = st::Checkpoint::open_dir(dir.string());
  const auto adir = dir / "adapter";
  fs::create_directories(adir);
  {
    st::SafetensorsWriter aw;
    put(aw, "base_model.model.nowhere.lora_A.weight", at::zeros({2, 4}));
    put(aw, "base_model.model.nowhere.lora_B.weight", at::zeros({4, 2}));
    aw.write((adir / "adapter_model.safetensors").string());
    write_text(adir / "adapter_config.json", R"({"r": 2, "lora_alpha": 4})");
    auto adapter = LoraAdapter::open_dir(adir.string());
    WeightBinder b(ckpt, at::kFloat, at::kCPU, &adapter);
    b.take("m.weight", {4, 4});
    CHECK_THROWS_WITH(b.finish(), ContainsSubstring("adapter module nowhere matches no weight"));
  }
  write_text(adir / "adapter_config.json", R"({"r": 3, "lora_alpha": 4})");
  CHECK_THROWS_WITH(LoraAdapter::open_dir(adir.string()),
                    ContainsSubstring("rank 2") && ContainsSubstring("r = 3"));
  {
    st::SafetensorsWriter aw;
    put(aw, "base_model.model.m.lora_A.weight", at::zeros({2, 4}));
    aw.write((adir / "adapter_model.safetensors").string());
    write_text(adir / "adapter_config.json", R"({"r": 2, "lora_alpha": 4})");
    CHECK_THROWS_WITH(LoraAdapter::open_dir(adir.string()), ContainsSubstring("only lora_A"));
  }
  write_text(adir / "adapter_config.json", R"({"r": "two", "lora_alpha": 4})");
  CHECK_THROWS_WITH(LoraAdapter::open_dir(adir.string()), ContainsSubstring("'r'"));
}

namespace {

// adapter_config.json for the seed's (3.3.3) configuration exactly as PEFT's save_pretrained
// writes it (sorted keys, indent 2): r 128 / alpha 256 by default, coord_rotary 16 / 32 by
// pattern.
const char* kSeedPeftConfig = R"({
  "alpha_pattern": {
    "coord_rotary": 32
  },
  "auto_mapping": null,
  "base_model_name_or_path": "KonstantinosKK/lavida-llada-v1.0-instruct",
  "bias": "none",
  "eva_config": null,
  "exclude_modules": null,
  "fan_in_fan_out": false,
  "inference_mode": true,
  "init_lora_weights": true,
  "layer_replication": null,
  "layers_pattern": null,
  "layers_to_transform": null,
  "loftq_config": {},
  "lora_alpha": 256,
  "lora_bias": false,
  "lora_dropout": 0.05,
  "megatron_config": null,
  "megatron_core": "megatron.core",
  "modules_to_save": null,
  "peft_type": "LORA",
  "r": 128,
  "rank_pattern": {
    "coord_rotary": 16
  },
  "revision": null,
  "target_modules": [
    "mm_projector.0",
    "mm_projector.2",
    "layers.0.self_attn.q_proj",
    "coord_rotary"
  ],
  "task_type": null,
  "use_dora": false,
  "use_rslora": false
})";

}  // namespace

TEST_CASE("per-module rank and alpha as PEFT's rank_pattern / alpha_pattern give them") {
  const auto dir = temp_dir("lora_pattern");
  at::manual_seed(7);
  const at::Tensor w = at::randn({8, 6}), q = at::randn({6, 6});
  st::SafetensorsWriter sw;
  put(sw, "model.mm_projector.0.weight", w);
  put(sw, "model.vt.layers.0.self_attn.q_proj.weight", q);
  sw.write((dir / "model.safetensors").string());
  const auto adir = dir / "adapter";
  fs::create_directories(adir);
  const at::Tensor a1 = at::randn({128, 6}), b1 = at::randn({8, 128}) * 0.01;
  const at::Tensor aq = at::randn({128, 6}), bq = at::randn({6, 128}) * 0.01;
  const at::Tensor ac = at::randn({16, 8}), bc = at::randn({6, 16});
  st::SafetensorsWriter aw;
  put(aw, "base_model.model.model.mm_projector.0.lora_A.weight", a1);
  put(aw, "base_model.model.model.mm_projector.0.lora_B.weight", b1);
  put(aw, "base_model.model.model.vt.layers.0.self_attn.q_proj.lora_A.weight", aq);
  put(aw, "base_model.model.model.vt.layers.0.self_attn.q_proj.lora_B.weight", bq);
  put(aw, "base_model.model.model.shirg.coord_rotary.lora_A.weight", ac);
  put(aw, "base_model.model.model.shirg.coord_rotary.lora_B.weight", bc);
  aw.write((adir / "adapter_model.safetensors").string());
  write_text(adir / "adapter_config.json", kSeedPeftConfig);

  const LoraAdapter adapter = LoraAdapter::open_dir(adir.string());
  CHECK(adapter.r() == 128);
  const auto proj = adapter.find("model.mm_projector.0");
  REQUIRE(proj);
  CHECK(proj->r == 128);
  CHECK(proj->scale == 2.0);
  const auto coord = adapter.find("model.shirg.coord_rotary");
  REQUIRE(coord);
  CHECK(coord->r == 16);
  CHECK(coord->alpha == 32.0);
  CHECK(coord->scale == 2.0);

  auto ckpt = st::Checkpoint::open_dir(dir.string());
  WeightBinder b(ckpt, at::kFloat, at::kCPU, &adapter);
  CHECK(at::allclose(b.take("model.mm_projector.0.weight", {8, 6}), w + 2.0 * at::matmul(b1, a1),
                     1e-5, 1e-5));
  b.take("model.vt.layers.0.self_attn.q_proj.weight", {6, 6});
  bool merged = false;
  const at::Tensor c = b.take_lora_only("model.shirg.coord_rotary", {6, 8}, &merged);
  CHECK(merged);
  CHECK(at::allclose(c, 2.0 * at::matmul(bc, ac), 1e-5, 1e-5));
  REQUIRE_NOTHROW(b.finish());

  // A different alpha for the projector only: its scale changes, the others keep theirs.
  std::string cfg = kSeedPeftConfig;
  cfg.replace(cfg.find("\"coord_rotary\": 32"), 18, "\"mm_projector.0\": 64, \"coord_rotary\": 32");
  write_text(adir / "adapter_config.json", cfg);
  const LoraAdapter a2 = LoraAdapter::open_dir(adir.string());
  CHECK(a2.find("model.mm_projector.0")->scale == 0.5);
  CHECK(a2.find("model.vt.layers.0.self_attn.q_proj")->scale == 2.0);
  // A key matches a whole dotted suffix only: "proj.0" is not "mm_projector.0".
  cfg = kSeedPeftConfig;
  cfg.replace(cfg.find("\"coord_rotary\": 16"), 18, "\"proj.0\": 16");
  write_text(adir / "adapter_config.json", cfg);
  CHECK_THROWS_WITH(LoraAdapter::open_dir(adir.string()),
                    ContainsSubstring("model.shirg.coord_rotary") && ContainsSubstring("r = 128"));
  // use_rslora: alpha / sqrt(r).
  cfg = kSeedPeftConfig;
  cfg.replace(cfg.find("\"use_rslora\": false"), 19, "\"use_rslora\": true");
  write_text(adir / "adapter_config.json", cfg);
  CHECK(LoraAdapter::open_dir(adir.string()).find("model.mm_projector.0")->scale ==
        Approx(256.0 / std::sqrt(128.0)));
  // Without the pattern the rank-16 module does not fit r = 128.
  write_text(adir / "adapter_config.json", R"({"r": 128, "lora_alpha": 256})");
  CHECK_THROWS_WITH(LoraAdapter::open_dir(adir.string()),
                    ContainsSubstring("coord_rotary") && ContainsSubstring("rank 16"));
  for (const char* bad : {R"({"r": 128, "lora_alpha": 256, "rank_pattern": {"x": 0}})",
                          R"({"r": 128, "lora_alpha": 256, "rank_pattern": {"(": 4}})",
                          R"({"r": 128, "lora_alpha": 256, "fan_in_fan_out": true})",
                          R"({"r": 128, "lora_alpha": 256, "use_dora": true})"}) {
    write_text(adir / "adapter_config.json", bad);
    CHECK_THROWS_AS(LoraAdapter::open_dir(adir.string()), ConfigError);
  }
  fs::remove_all(dir);
}

TEST_CASE("several adapters are merged in order, each with its own scale") {
  const auto dir = temp_dir("lora_two");
  at::manual_seed(8);
  const at::Tensor w = at::randn({5, 4});
  st::SafetensorsWriter sw;
  put(sw, "m.weight", w);
  sw.write((dir / "model.safetensors").string());
  const at::Tensor a1 = at::randn({2, 4}), b1 = at::randn({5, 2});
  const at::Tensor a2 = at::randn({3, 4}), b2 = at::randn({5, 3});
  for (auto [name, a, b, cfg] : {std::tuple{"one", a1, b1, R"({"r": 2, "lora_alpha": 4})"},
                                 std::tuple{"two", a2, b2, R"({"r": 3, "lora_alpha": 1.5})"}}) {
    fs::create_directories(dir / name);
    st::SafetensorsWriter aw;
    put(aw, "base_model.model.m.lora_A.weight", a);
    put(aw, "base_model.model.m.lora_B.weight", b);
    aw.write((dir / name / "adapter_model.safetensors").string());
    write_text(dir / name / "adapter_config.json", cfg);
  }
  const LoraAdapter one = LoraAdapter::open_dir((dir / "one").string());
  const LoraAdapter two = LoraAdapter::open_dir((dir / "two").string());
  auto ckpt = st::Checkpoint::open_dir(dir.string());
  WeightBinder b(ckpt, at::kFloat, at::kCPU, std::vector<const LoraAdapter*>{&one, &two});
  const at::Tensor got = b.take("m.weight", {5, 4});
  CHECK(at::allclose(got, w + 2.0 * at::matmul(b1, a1) + 0.5 * at::matmul(b2, a2), 1e-5, 1e-5));
  CHECK(b.merged_lora_modules() == 2);
  CHECK(at::equal(b.base_of("m.weight", got), w));  // the unmerged weight is kept
  REQUIRE_NOTHROW(b.finish());
  fs::remove_all(dir);
}
