// load_model() on checkpoints written by the model writer: real names, shapes, shards, dtype,
// adapter, and one clear error for every kind of broken checkpoint.
#include "tests/common/catch_torch.h"

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/config/model_config.h"
#include "engine/gemm/linear_weight.h"
#include "engine/model/model.h"
#include "engine/safetensors/checkpoint.h"
#include "engine/safetensors/safetensors_writer.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/weights/weight_binder.h"

namespace fs = std::filesystem;
using namespace shirg;
using Catch::Matchers::ContainsSubstring;

namespace {

const std::string kModels = std::string(SHIRG_BINARY_DIR) + "/models";

fs::path copy_model(const std::string& name) {
  fs::path dst =
      fs::temp_directory_path() / ("shirg_test_model_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dst);
  fs::copy(kModels + "/tiny", dst, fs::copy_options::recursive);
  return dst;
}

// Rewrites model.safetensors through `edit`, which may add, drop or replace tensors.
template <typename Edit>
void rewrite_weights(const fs::path& dir, Edit edit) {
  std::map<std::string, at::Tensor> tensors;
  {
    auto ckpt = st::Checkpoint::open_dir(dir.string());
    for (const auto& n : ckpt.names()) {
      const auto* v = ckpt.find(n);
      tensors[n] = view_to_tensor(*v, at::kFloat, at::kCPU);
    }
  }
  edit(tensors);
  st::SafetensorsWriter w;
  for (auto& [n, t0] : tensors) {
    at::Tensor t = t0.contiguous();
    w.add(n, scalar_type_to_st(t.scalar_type()), t.sizes().vec(), t.data_ptr(),
          static_cast<std::size_t>(t.numel()) * t.element_size());
  }
  w.write((dir / "model.safetensors").string());
}

void edit_config(const fs::path& dir, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j;
  std::ifstream(dir / "config.json") >> j;
  edit(j);
  std::ofstream(dir / "config.json") << j.dump(2);
}

// The seed's adapter (3.3.3) for the tiny model as PEFT writes it: projector and SigLIP layer 0
// q/k/v at r 128 / alpha 256, coord_rotary at 16 / 32 through rank_pattern / alpha_pattern.
fs::path write_seed_adapter(const ModelConfig& c) {
  const fs::path dir =
      fs::temp_directory_path() / ("shirg_test_seed_adapter_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const int64_t dv = c.vision.hidden_size, d = c.llm.d_model;
  at::manual_seed(21);
  std::map<std::string, at::Tensor> t;
  auto lora = [&](const std::string& module, int64_t out, int64_t in, int64_t r) {
    t["base_model.model." + module + ".lora_A.weight"] = at::randn({r, in}) / std::sqrt(in);
    t["base_model.model." + module + ".lora_B.weight"] = at::randn({out, r}) * 0.01;
  };
  lora(std::string(kProjectorPrefix) + "0", d, dv, 128);
  lora(std::string(kProjectorPrefix) + "2", d, d, 128);
  for (const char* p : {"q_proj", "k_proj", "v_proj"})
    lora(std::string(kVisionPrefix) + "encoder.layers.0.self_attn." + p, dv, dv, 128);
  lora(kCoordModule, dv, 128, 16);
  st::SafetensorsWriter w;
  for (auto& [n, x] : t)
    w.add(n, st::DType::F32, x.sizes().vec(), x.data_ptr(),
          static_cast<std::size_t>(x.numel()) * 4);
  w.write((dir / "adapter_model.safetensors").string());
  nlohmann::json cfg = {
      {"alpha_pattern", {{"coord_rotary", 32}}},
      {"base_model_name_or_path", "lavida"},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"inference_mode", true},
      {"lora_alpha", 256},
      {"lora_dropout", 0.05},
      {"modules_to_save", nullptr},
      {"peft_type", "LORA"},
      {"r", 128},
      {"rank_pattern", {{"coord_rotary", 16}}},
      {"target_modules",
       {"mm_projector.0", "mm_projector.2", "q_proj", "k_proj", "v_proj", "coord_rotary"}},
      {"task_type", nullptr},
      {"use_dora", false},
      {"use_rslora", false}};
  std::ofstream(dir / "adapter_config.json") << cfg.dump(2);
  return dir;
}

LoadOptions fp32(const std::string& dir) {
  LoadOptions o;
  o.model_dir = dir;
  o.dtype = at::kFloat;
  return o;
}

}  // namespace

TEST_CASE("the tiny checkpoint loads by its real names with fused layouts and a summary") {
  auto m = load_model(fp32(kModels + "/tiny"));
  const auto& c = m->config;
  CHECK(c.model_type == "llava_llada");
  CHECK(m->vision.layers.size() == 2);  // 3-layer tower, the last one dropped
  const int64_t dv = c.vision.hidden_size, d = c.llm.d_model;
  CHECK(m->vision.layers[0].qkv.weight.sizes() == at::IntArrayRef({3 * dv, dv}));
  CHECK(m->vision.pos_embed.sizes() == at::IntArrayRef({27 * 27, dv}));
  CHECK(m->projector.fc1.weight.sizes() == at::IntArrayRef({d, dv}));
  CHECK(m->llm.blocks.size() == static_cast<std::size_t>(c.llm.n_layers));
  CHECK(m->llm.blocks[0].w_gate_up.sizes() == std::vector<int64_t>{2 * c.llm.mlp_hidden_size, d});
  CHECK(m->image_newline.sizes() == at::IntArrayRef({d}));
  CHECK(!m->coord.from_adapter);
  CHECK(m->coord.weight.abs().sum().item<float>() == 0.0f);
  // Special ids come from the tokenizer, and agree with config.json.
  CHECK(m->ids.mask == m->tokenizer->token_to_id("<|mdm_mask|>").value());
  CHECK(m->ids.mask == c.llm.mask_token_id.value());
  CHECK(m->ids.eot == m->tokenizer->token_to_id("<|eot_id|>").value());
  // The writer's chat template always ends with the assistant header (LLaDA-8B-Instruct's).
  const std::string tmpl = m->tokenizer_config.chat_template;
  const std::string tail = "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}";
  REQUIRE(tmpl.size() > tail.size());
  CHECK(tmpl.substr(tmpl.size() - tail.size()) == tail);
  CHECK(tmpl.find("add_generation_prompt") == std::string::npos);
  REQUIRE(m->summary.components.size() == 4);
  int64_t params = 0;
  for (const auto& comp : m->summary.components) params += comp.parameters;
  CHECK(params > 300000);
  const std::string table = m->summary.to_table();
  CHECK_THAT(table, ContainsSubstring("vision_tower") && ContainsSubstring("llada") &&
                        ContainsSubstring("fp32"));
  // The unfused q rows of block 0 equal the checkpoint tensor.
  auto ckpt = st::Checkpoint::open_dir(kModels + "/tiny");
  at::Tensor q =
      view_to_tensor(*ckpt.find("model.transformer.blocks.0.q_proj.weight"), at::kFloat, at::kCPU);
  CHECK(at::equal(m->llm.blocks[0].wqkv.to_plain().slice(0, 0, d), q));
}

TEST_CASE("a sharded bf16 checkpoint of the same seed loads to the same weights (bf16-rounded)") {
  auto a = load_model(fp32(kModels + "/tiny"));
  auto b = load_model(fp32(kModels + "/tiny-sharded"));
  CHECK(at::equal(a->llm.wte.to(at::kBFloat16).to(at::kFloat), b->llm.wte));
  CHECK(at::equal(a->vision.layers[1].fc2.weight.to(at::kBFloat16).to(at::kFloat),
                  b->vision.layers[1].fc2.weight));
}

TEST_CASE("bf16 compute dtype keeps norms and biases in fp32") {
  LoadOptions o = fp32(kModels + "/tiny");
  o.dtype = at::kBFloat16;
  auto m = load_model(o);
  CHECK(m->llm.wte.scalar_type() == at::kBFloat16);
  CHECK(m->llm.blocks[0].attn_norm.scalar_type() == at::kFloat);
  CHECK(m->vision.layers[0].qkv.bias.scalar_type() == at::kFloat);
  CHECK(m->summary.dtype == "bf16");
}

TEST_CASE("a PEFT adapter is merged into projector, SigLIP attention and coord_rotary") {
  auto base = load_model(fp32(kModels + "/tiny"));
  LoadOptions o = fp32(kModels + "/tiny");
  o.adapter_dirs = {kModels + "/tiny-adapter"};
  auto m = load_model(o);
  CHECK(m->summary.lora_modules_merged == 9);  // 2 projector + 2 layers x q,k,v + coord_rotary
  CHECK(m->coord.from_adapter);
  CHECK(m->coord.weight.abs().sum().item<float>() > 0.0f);
  CHECK(!at::equal(base->projector.fc1.weight, m->projector.fc1.weight));
  CHECK(!at::equal(base->vision.layers[0].qkv.weight, m->vision.layers[0].qkv.weight));
  CHECK(at::equal(base->llm.wte, m->llm.wte));  // the LM is untouched
}

TEST_CASE("with an adapter the base SigLIP / projector are kept for LaViDa's own modes") {
  auto plain = load_model(fp32(kModels + "/tiny"));
  LoadOptions o = fp32(kModels + "/tiny");
  o.adapter_dirs = {kModels + "/tiny-adapter"};
  auto m = load_model(o);
  // Base weights equal the checkpoint's exactly; merged ones differ.
  CHECK(at::equal(m->projector_base.fc1.weight, plain->projector.fc1.weight));
  CHECK(at::equal(m->projector_base.fc2.weight, plain->projector.fc2.weight));
  for (std::size_t l = 0; l < m->vision.layers.size(); ++l) {
    CHECK(at::equal(m->vision_base.layers[l].qkv.weight, plain->vision.layers[l].qkv.weight));
    CHECK(!at::equal(m->vision_base.layers[l].qkv.weight, m->vision.layers[l].qkv.weight));
    // Not adapted: one tensor shared by both (no second copy).
    CHECK(m->vision_base.layers[l].fc1.weight.is_same(m->vision.layers[l].fc1.weight));
  }
  CHECK(m->vision_base.patch_weight.is_same(m->vision.patch_weight));
  // Held twice: 2 layers x qkv [3*Dv, Dv] + projector fc1 [D, Dv] + fc2 [D, D], fp32.
  const int64_t dv = m->config.vision.hidden_size, d = m->config.llm.d_model;
  CHECK(m->summary.base_copy_bytes == 4 * (2 * 3 * dv * dv + d * dv + d * d));
  CHECK_THAT(m->summary.to_table(), ContainsSubstring("unmerged SigLIP/projector"));
  // Without an adapter nothing is held twice.
  CHECK(plain->summary.base_copy_bytes == 0);
  CHECK(plain->vision_base.layers[0].qkv.weight.is_same(plain->vision.layers[0].qkv.weight));
  CHECK(plain->projector_base.fc1.weight.is_same(plain->projector.fc1.weight));
}

TEST_CASE("a coord_rotary base weight in a merged checkpoint (no adapter) is used") {
  auto dir = copy_model("coord");
  const int64_t dv = load_model(fp32(kModels + "/tiny"))->config.vision.hidden_size;
  at::manual_seed(11);
  const at::Tensor w = at::randn({dv, 128});
  rewrite_weights(dir, [&](std::map<std::string, at::Tensor>& t) {
    t[std::string(kCoordModule) + ".weight"] = w;
  });
  auto m = load_model(fp32(dir.string()));
  CHECK(m->coord.in_checkpoint);
  CHECK(!m->coord.from_adapter);
  CHECK(m->coord.active());
  CHECK(at::equal(m->coord.weight, w));
  // An adapter on top adds its delta to that base weight.
  LoadOptions o = fp32(dir.string());
  o.adapter_dirs = {kModels + "/tiny-adapter"};
  auto merged = load_model(o);
  CHECK(merged->coord.in_checkpoint);
  CHECK(merged->coord.from_adapter);
  auto adapter_only = load_model([&] {
    LoadOptions a = fp32(kModels + "/tiny");
    a.adapter_dirs = {kModels + "/tiny-adapter"};
    return a;
  }());
  CHECK(at::allclose(merged->coord.weight, w + adapter_only->coord.weight, 1e-5, 1e-6));
  fs::remove_all(dir);
}

TEST_CASE("the seed's adapter (per-module rank/alpha) loads, and adapters stack in order") {
  auto plain = load_model(fp32(kModels + "/tiny"));
  const fs::path seed_dir = write_seed_adapter(plain->config);
  LoadOptions o = fp32(kModels + "/tiny");
  o.adapter_dirs = {seed_dir.string()};
  auto seed = load_model(o);
  CHECK(seed->summary.lora_modules_merged == 6);
  CHECK(seed->coord.from_adapter);
  // scale 256 / 128 = 2 on the projector and 32 / 16 = 2 on coord_rotary.
  auto ckpt = st::Checkpoint::open_file((seed_dir / "adapter_model.safetensors").string());
  auto t = [&](const std::string& n) {
    return view_to_tensor(*ckpt.find(n), at::kFloat, at::kCPU);
  };
  const std::string pa = "base_model.model." + std::string(kProjectorPrefix) + "0.lora_";
  const at::Tensor delta = 2.0 * at::matmul(t(pa + "B.weight"), t(pa + "A.weight"));
  CHECK(at::allclose(seed->projector.fc1.weight, plain->projector.fc1.weight + delta, 1e-5, 1e-6));
  const std::string ca = "base_model.model." + std::string(kCoordModule) + ".lora_";
  CHECK(at::allclose(seed->coord.weight, 2.0 * at::matmul(t(ca + "B.weight"), t(ca + "A.weight")),
                     1e-5, 1e-6));
  // Two adapters: both deltas, in order; the comparison modes keep the base weights.
  LoadOptions both = fp32(kModels + "/tiny");
  both.adapter_dirs = {kModels + "/tiny-adapter", seed_dir.string()};
  auto m = load_model(both);
  LoadOptions first = fp32(kModels + "/tiny");
  first.adapter_dirs = {kModels + "/tiny-adapter"};
  auto tiny_adapted = load_model(first);
  CHECK(m->summary.lora_modules_merged == 9 + 6);
  CHECK(m->adapter_dir == kModels + "/tiny-adapter," + seed_dir.string());
  const at::Tensor expect = tiny_adapted->projector.fc1.weight + delta;
  CHECK(at::allclose(m->projector.fc1.weight, expect, 1e-5, 1e-6));
  CHECK(at::equal(m->projector_base.fc1.weight, plain->projector.fc1.weight));
  CHECK(at::equal(m->vision_base.layers[0].qkv.weight, plain->vision.layers[0].qkv.weight));
  fs::remove_all(seed_dir);
}

TEST_CASE("missing, unexpected and mis-shaped tensors are reported together") {
  auto dir = copy_model("broken");
  rewrite_weights(dir, [](std::map<std::string, at::Tensor>& t) {
    t.erase("model.transformer.blocks.1.up_proj.weight");
    t.erase("model.mm_projector.2.bias");
    t["model.transformer.extra.weight"] = at::zeros({3});
    t["model.transformer.ln_f.weight"] = at::zeros({7});
  });
  try {
    load_model(fp32(dir.string()));
    FAIL("expected ModelLoadError");
  } catch (const ModelLoadError& e) {
    const std::string m = e.what();
    CHECK_THAT(m, ContainsSubstring("2 missing, 1 unexpected, 1 mis-shaped"));
    CHECK_THAT(m, ContainsSubstring("model.transformer.blocks.1.up_proj.weight"));
    CHECK_THAT(m, ContainsSubstring("model.mm_projector.2.bias"));
    CHECK_THAT(m, ContainsSubstring("model.transformer.extra.weight"));
    CHECK_THAT(m, ContainsSubstring("model.transformer.ln_f.weight: expected [64], found [7]"));
  }
  fs::remove_all(dir);
}

TEST_CASE("a vision layer count that contradicts the config names both numbers") {
  auto dir = copy_model("layers");
  edit_config(dir, [](nlohmann::json& j) { j["vision_config"]["num_hidden_layers"] = 5; });
  CHECK_THROWS_WITH(load_model(fp32(dir.string())),
                    ContainsSubstring("2 encoder layers") && ContainsSubstring("4 used"));
  fs::remove_all(dir);
}

TEST_CASE("config with a wrong type fails at load naming the key") {
  auto dir = copy_model("cfgtype");
  edit_config(dir, [](nlohmann::json& j) { j["n_heads"] = "four"; });
  CHECK_THROWS_WITH(load_model(fp32(dir.string())), ContainsSubstring("'n_heads'"));
  fs::remove_all(dir);
}

TEST_CASE("a config special id that contradicts the tokenizer is refused") {
  auto dir = copy_model("maskid");
  edit_config(dir, [](nlohmann::json& j) { j["mask_token_id"] = 3; });
  CHECK_THROWS_WITH(load_model(fp32(dir.string())),
                    ContainsSubstring("mask_token_id") && ContainsSubstring("<|mdm_mask|>"));
  fs::remove_all(dir);
}

namespace {

// The tiny model's LLaDA config and its weight elements (LLaDA, the rest).
struct TinySizes {
  LladaConfig llm;
  int64_t llm_numel = 0, other_numel = 0;
};

TinySizes tiny_sizes() {
  TinySizes t;
  t.llm = load_model_config(kModels + "/tiny/config.json").llm;
  const st::Checkpoint ckpt = st::Checkpoint::open_dir(kModels + "/tiny");
  for (const auto& n : ckpt.names())
    (n.rfind(kLlmPrefix, 0) == 0 ? t.llm_numel : t.other_numel) += ckpt.find(n)->numel();
  return t;
}

}  // namespace

TEST_CASE("the load's transient copy is the largest fused or packed LLaDA matrix") {
  LladaConfig c;
  c.d_model = 4096, c.mlp_hidden_size = 12288, c.embedding_size = 126464;  // LLaDA-8B
  CHECK(load_transient_elements(c, false) == 2 * 12288 * 4096);            // gate|up
  CHECK(load_transient_elements(c, true) == int64_t{126464} * 4096);       // the LM head
  c.mlp_hidden_size = 1000, c.embedding_size = 16;                         // q|k|v the largest
  CHECK(load_transient_elements(c, true) == 3 * 4096 * 4096);
}

TEST_CASE("a load that does not fit the memory budget fails up front with a clear message") {
  // Exactly the fp32 weight bytes plus the load's transient copy fit; one byte less does not
  // (LLaDA storage forced to fp32; the default --gemm auto packs where oneDNN is built in).
  const TinySizes t = tiny_sizes();
  const int64_t numel = t.llm_numel + t.other_numel;
  const bool packs = shirg::gemm::packing_available();
  LoadOptions o = fp32(kModels + "/tiny");
  o.llm_weight_dtype = at::kFloat;
  o.memory_budget_bytes = numel * 4 + load_transient_elements(t.llm, packs) * 4;
  CHECK_NOTHROW(load_model(o));
  o.memory_budget_bytes -= 1;
  try {
    load_model(o);
    FAIL("expected ModelLoadError");
  } catch (const ModelLoadError& e) {
    const std::string m = e.what();
    CHECK_THAT(m, ContainsSubstring("not enough memory"));
    CHECK_THAT(m, ContainsSubstring("largest transient copy"));
    CHECK_THAT(m, ContainsSubstring("fp32 compute, LLaDA matrices in fp32"));
    CHECK_THAT(m, ContainsSubstring("--llm-weights bf16"));
    CHECK_THAT(m, ContainsSubstring("--dtype bf16"));
  }
  // Not packed (--gemm aten): only the fusing copy counts.
  o.gemm = shirg::gemm::WeightLayout::kPlain;
  o.memory_budget_bytes = numel * 4 + load_transient_elements(t.llm, false) * 4;
  CHECK_NOTHROW(load_model(o));
  o.memory_budget_bytes -= 1;
  CHECK_THROWS_AS(load_model(o), ModelLoadError);
  o.gemm = shirg::gemm::WeightLayout::kAuto;
  // bf16 compute needs half: half the fp32 need fits; one byte less does not.
  o.dtype = at::kBFloat16;
  o.llm_weight_dtype = at::ScalarType::Undefined;
  o.memory_budget_bytes = numel * 2 + load_transient_elements(t.llm, packs) * 2;
  CHECK_NOTHROW(load_model(o));
  o.memory_budget_bytes -= 1;
  CHECK_THROWS_AS(load_model(o), ModelLoadError);
  o.memory_budget_bytes = 0;  // check disabled
  CHECK_NOTHROW(load_model(o));
}

TEST_CASE(
    "auto LLaDA storage: fp32 when the model fits in fp32, else bf16 matrices under fp32 compute") {
  const TinySizes t = tiny_sizes();
  const int64_t llm = t.llm_numel, other = t.other_numel;
  REQUIRE(llm > 0);
  const bool packs = shirg::gemm::packing_available();
  LoadOptions o = fp32(kModels + "/tiny");
  // fp32 storage: packed under fp32 compute; bf16 storage under fp32 compute: never packed.
  const int64_t fp32_need = (llm + other) * 4 + load_transient_elements(t.llm, packs) * 4;
  const int64_t bf16_need = other * 4 + llm * 2 + load_transient_elements(t.llm, false) * 2;
  REQUIRE(bf16_need < fp32_need - 1);
  o.memory_budget_bytes = fp32_need;
  auto full = load_model(o);
  CHECK(full->llm.wte.scalar_type() == at::kFloat);
  CHECK(full->summary.llm_weight_dtype == "fp32");

  o.memory_budget_bytes = fp32_need - 1;  // fp32 does not fit, bf16 matrices do
  auto half = load_model(o);
  CHECK(half->summary.llm_weight_dtype == "bf16");
  CHECK(half->llm.compute_dtype == at::kFloat);
  CHECK(half->llm.wte.scalar_type() == at::kBFloat16);
  CHECK(half->llm.lm_head.dtype() == at::kBFloat16);
  CHECK(half->llm.blocks[0].wqkv.dtype() == at::kBFloat16);
  CHECK(half->llm.blocks[0].attn_norm.scalar_type() == at::kFloat);      // norms stay fp32
  CHECK(half->vision.layers[0].qkv.weight.scalar_type() == at::kFloat);  // vision untouched
  CHECK_THAT(half->summary.to_table(),
             ContainsSubstring("LLaDA matrices stored in bf16, upcast to fp32"));
  // The bf16 matrices hold the fp32 ones rounded to bf16.
  CHECK(at::equal(half->llm.blocks[0].w_down.to_plain(),
                  full->llm.blocks[0].w_down.to_plain().to(at::kBFloat16)));

  o.memory_budget_bytes = bf16_need;  // exactly the bf16 storage fits
  CHECK(load_model(o)->summary.llm_weight_dtype == "bf16");
  o.memory_budget_bytes = bf16_need - 1;  // not even that
  try {
    load_model(o);
    FAIL("expected ModelLoadError");
  } catch (const ModelLoadError& e) {
    CHECK_THAT(std::string(e.what()), ContainsSubstring("LLaDA matrices in bf16"));
    CHECK_THAT(std::string(e.what()), ContainsSubstring("--dtype bf16"));
  }
}

TEST_CASE("LLaDA weight storage options that make no sense are refused") {
  LoadOptions o = fp32(kModels + "/tiny");
  o.dtype = at::kBFloat16;
  o.llm_weight_dtype = at::kFloat;
  CHECK_THROWS_WITH(load_model(o), ContainsSubstring("fp32 LLaDA weights need fp32 compute"));
  o = fp32(kModels + "/tiny");
  o.llm_weight_dtype = at::kHalf;
  CHECK_THROWS_WITH(load_model(o), ContainsSubstring("must be bf16 or fp32"));
  o.dtype = at::kBFloat16;  // refused whatever the compute dtype
  CHECK_THROWS_WITH(load_model(o), ContainsSubstring("must be bf16 or fp32"));
}

TEST_CASE("the measured memory budget lets the test models load") {
  LoadOptions o = fp32(kModels + "/tiny");
  REQUIRE(o.memory_budget_bytes == -1);  // the default measures
  CHECK_NOTHROW(load_model(o));
}
