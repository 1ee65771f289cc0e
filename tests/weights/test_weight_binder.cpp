// WeightBinder: real-name binding, one error listing every problem, PEFT LoRA merging.
#include "tests/common/catch_torch.h"

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "engine/safetensors/safetensors_writer.h"
#include "engine/weights/lora_adapter.h"
#include "engine/weights/weight_binder.h"

namespace fs = std::filesystem;
using namespace shirg;
using Catch::Matchers::Contains;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("shirg_test_w_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void put(st::SafetensorsWriter& w, const std::string& name, const at::Tensor& t0) {
  at::Tensor t = t0.contiguous();
  w.add(name, scalar_type_to_st(t.scalar_type()), t.sizes().vec(), t.data_ptr(),
        static_cast<std::size_t>(t.numel()) * t.element_size());
}

void write_text(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }

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
  put(sw, "b.weight", at::zeros({3, 2}));        // expected [2, 2]
  put(sw, "stray.weight", at::zeros({1}));       // nobody asks for it
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
    CHECK_THAT(m, Contains("2 missing, 1 unexpected, 1 mis-shaped"));
    CHECK_THAT(m, Contains("c.weight [5]") && Contains("d.weight [6]"));
    CHECK_THAT(m, Contains("stray.weight"));
    CHECK_THAT(m, Contains("b.weight: expected [2, 2], found [3, 2]"));
    CHECK_THAT(m, !Contains("post_layernorm"));
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
  write_text(adir / "adapter_config.json",
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
  at::Tensor y_unmerged = at::matmul(x, w.t()) + (alpha / r) * at::matmul(at::matmul(x, a.t()), bm.t());
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
    CHECK_THROWS_WITH(b.finish(), Contains("adapter module nowhere matches no weight"));
  }
  write_text(adir / "adapter_config.json", R"({"r": 3, "lora_alpha": 4})");
  CHECK_THROWS_WITH(LoraAdapter::open_dir(adir.string()), Contains("rank 2") && Contains("r = 3"));
  {
    st::SafetensorsWriter aw;
    put(aw, "base_model.model.m.lora_A.weight", at::zeros({2, 4}));
    aw.write((adir / "adapter_model.safetensors").string());
    write_text(adir / "adapter_config.json", R"({"r": 2, "lora_alpha": 4})");
    CHECK_THROWS_WITH(LoraAdapter::open_dir(adir.string()), Contains("only lora_A"));
  }
  write_text(adir / "adapter_config.json", R"({"r": "two", "lora_alpha": 4})");
  CHECK_THROWS_WITH(LoraAdapter::open_dir(adir.string()), Contains("'r'"));
}
