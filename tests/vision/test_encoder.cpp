// shirg_vision against the independent Python reference (tests/vision/vision_reference.py,
// float64): preprocessing, position-embedding resize, SigLIP at 384 and 672, the projector and all
// three layouts. The test writes its own random LaViDa-format checkpoint (real tensor names, fp32)
// with SafetensorsWriter; the reference reads the same files.
#include <ATen/ATen.h>
#include "tests/common/catch.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "engine/model/model.h"
#include "engine/safetensors/safetensors_file.h"
#include "engine/safetensors/safetensors_writer.h"
#include "engine/vision/anyres.h"
#include "engine/vision/layouts.h"
#include "engine/vision/siglip.h"
#include "tests/vision/test_support.h"

using namespace shirg;
using namespace shirg::vision;
using namespace shirg::vision::testing;

namespace {

constexpr int64_t kDv = 64, kHeads = 4, kInter = 128, kLayers = 2, kD = 48, kPatch = 14, kGrid = 27;

// Weights under their real checkpoint names (fp32), deterministic.
std::map<std::string, at::Tensor> random_checkpoint() {
  at::manual_seed(1234);
  std::map<std::string, at::Tensor> t;
  const std::string v = kVisionPrefix;
  auto lin = [&](const std::string& name, int64_t out, int64_t in) {
    t[name + ".weight"] = at::randn({out, in}) / std::sqrt(double(in));
    t[name + ".bias"] = at::randn({out}) * 0.1;
  };
  auto norm = [&](const std::string& name) {
    t[name + ".weight"] = 1 + at::randn({kDv}) * 0.2;
    t[name + ".bias"] = at::randn({kDv}) * 0.1;
  };
  t[v + "embeddings.patch_embedding.weight"] =
      at::randn({kDv, 3, kPatch, kPatch}) / std::sqrt(3.0 * kPatch * kPatch);
  t[v + "embeddings.patch_embedding.bias"] = at::randn({kDv}) * 0.1;
  t[v + "embeddings.position_embedding.weight"] = at::randn({kGrid * kGrid, kDv}) * 0.5;
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string p = v + "encoder.layers." + std::to_string(l) + ".";
    norm(p + "layer_norm1");
    norm(p + "layer_norm2");
    // Larger q/k weights give peaked attention so that softmax errors would show.
    lin(p + "self_attn.q_proj", kDv, kDv);
    lin(p + "self_attn.k_proj", kDv, kDv);
    t[p + "self_attn.q_proj.weight"] *= 2.0;
    t[p + "self_attn.k_proj.weight"] *= 2.0;
    lin(p + "self_attn.v_proj", kDv, kDv);
    lin(p + "self_attn.out_proj", kDv, kDv);
    lin(p + "mlp.fc1", kInter, kDv);
    lin(p + "mlp.fc2", kDv, kInter);
  }
  lin(std::string(kProjectorPrefix) + "0", kD, kDv);
  lin(std::string(kProjectorPrefix) + "2", kD, kD);
  t[kImageNewline] = at::randn({kD});
  return t;
}

void write_checkpoint(const std::string& dir, const std::map<std::string, at::Tensor>& t) {
  st::SafetensorsWriter w;
  for (const auto& [name, tensor] : t) {
    const at::Tensor c = tensor.contiguous();
    w.add(name, st::DType::F32, c.sizes().vec(), c.data_ptr(),
          static_cast<std::size_t>(c.numel()) * 4);
  }
  w.write(dir + "/model.safetensors");
  std::ofstream cfg(dir + "/config.json");
  cfg << R"({"model_type": "llava_llada", "mm_projector_type": "mlp2x_gelu", "mm_hidden_size": 64,
  "mm_patch_merge_type": "spatial_unpad", "image_aspect_ratio": "anyres",
  "image_grid_pinpoints": [[384, 768], [768, 384], [768, 768], [1152, 384], [384, 1152]],
  "vision_config": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 3,
    "num_attention_heads": 4, "image_size": 384, "patch_size": 14,
    "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6}})";
}

// The Model a loader would build from those tensors (q|k|v fused), in `dtype`.
Model model_from(const std::map<std::string, at::Tensor>& t, at::ScalarType dtype) {
  Model m;
  m.dtype = dtype;
  auto& vc = m.config.vision;
  vc.hidden_size = kDv, vc.intermediate_size = kInter, vc.num_hidden_layers = kLayers + 1;
  vc.num_attention_heads = kHeads, vc.image_size = 384, vc.patch_size = kPatch,
  vc.layers_used = kLayers;
  vc.hidden_act = "gelu_pytorch_tanh", vc.layer_norm_eps = 1e-6;
  m.config.mm.mm_hidden_size = kDv;
  const std::string v = kVisionPrefix;
  auto w = [&](const std::string& n) { return t.at(n).to(dtype); };
  auto f = [&](const std::string& n) { return t.at(n).to(at::kFloat); };
  m.vision.patch_weight = w(v + "embeddings.patch_embedding.weight");
  m.vision.patch_bias = f(v + "embeddings.patch_embedding.bias");
  m.vision.pos_embed = f(v + "embeddings.position_embedding.weight");
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string p = v + "encoder.layers." + std::to_string(l) + ".";
    SiglipLayerW L;
    L.ln1 = {f(p + "layer_norm1.weight"), f(p + "layer_norm1.bias")};
    L.ln2 = {f(p + "layer_norm2.weight"), f(p + "layer_norm2.bias")};
    const std::string a = p + "self_attn.";
    L.qkv.weight =
        at::cat({t.at(a + "q_proj.weight"), t.at(a + "k_proj.weight"), t.at(a + "v_proj.weight")})
            .to(dtype);
    L.qkv.bias =
        at::cat({t.at(a + "q_proj.bias"), t.at(a + "k_proj.bias"), t.at(a + "v_proj.bias")});
    L.out = {w(a + "out_proj.weight"), f(a + "out_proj.bias")};
    L.fc1 = {w(p + "mlp.fc1.weight"), f(p + "mlp.fc1.bias")};
    L.fc2 = {w(p + "mlp.fc2.weight"), f(p + "mlp.fc2.bias")};
    m.vision.layers.push_back(L);
  }
  const std::string pr = kProjectorPrefix;
  m.projector.fc1 = {w(pr + "0.weight"), f(pr + "0.bias")};
  m.projector.fc2 = {w(pr + "2.weight"), f(pr + "2.bias")};
  m.image_newline = w(kImageNewline);
  m.vision_base = m.vision;  // no adapter: LaViDa's layouts run on the same weights
  m.projector_base = m.projector;
  return m;
}

at::Tensor to_tensor(const st::TensorView& v) {
  const auto dt =
      v.dtype == st::DType::F32 ? at::kFloat : (v.dtype == st::DType::U8 ? at::kByte : at::kLong);
  return at::from_blob(const_cast<std::byte*>(v.data), v.shape, at::TensorOptions().dtype(dt))
      .clone();
}

double rel_err(const at::Tensor& got, const at::Tensor& ref) {
  const at::Tensor g = got.to(at::kDouble), r = ref.to(at::kDouble);
  return (g - r).norm().item<double>() / r.norm().item<double>();
}

double max_rel_err(const at::Tensor& got, const at::Tensor& ref) {
  const at::Tensor g = got.to(at::kDouble), r = ref.to(at::kDouble);
  return (g - r).abs().max().item<double>() / r.abs().max().item<double>();
}

struct Fixture {
  TempDir dir{"encoder"};
  std::map<std::string, at::Tensor> weights = random_checkpoint();
  std::vector<RgbImage> images;
  std::map<std::string, at::Tensor> ref;

  Fixture() {
    // General photo, the canonical 768x768, portrait, tiny, and a very wide strip.
    images = {synthetic_image(500, 375, 1), synthetic_image(768, 768, 2),
              synthetic_image(300, 900, 3), synthetic_image(1, 1, 4),
              synthetic_image(10000, 10, 5)};
    write_checkpoint(dir.path.string(), weights);
    // ctest runs every test case in its own process: the reference output is cached in the build
    // tree, keyed by the script text and this test's inputs (weights and images are deterministic).
    const std::string script =
        read_file(std::string(SHIRG_SOURCE_DIR) + "/tests/vision/vision_reference.py");
    const std::string cache_dir = std::string(SHIRG_BINARY_DIR) + "/vision_reference";
    const std::string cached =
        cache_dir + "/ref-" + std::to_string(fnv1a(script + kInputsTag)) + ".safetensors";
    if (!std::filesystem::exists(cached)) {
      std::string args = "model " + dir.path.string() + " " + dir.file("ref.safetensors");
      for (std::size_t i = 0; i < images.size(); ++i) {
        const std::string png = dir.file("img" + std::to_string(i) + ".png");
        write_file(png, encode_png(images[i]));
        args += " " + png;
      }
      if (run_reference(args) != 0) throw std::runtime_error("vision_reference.py failed");
      std::filesystem::create_directories(cache_dir);
      const std::string tmp = cached + ".tmp" + std::to_string(::getpid());
      std::filesystem::copy_file(dir.file("ref.safetensors"), tmp,
                                 std::filesystem::copy_options::overwrite_existing);
      std::filesystem::rename(tmp,
                              cached);  // atomic: parallel ctest processes never see a partial file
    }
    const auto file = st::SafetensorsFile::open(cached);
    for (const auto& v : file->tensors()) ref[v.name] = to_tensor(v);
  }

  static uint64_t fnv1a(const std::string& s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
  }
  // Change when the weights, the images or the requested outputs change.
  static constexpr const char* kInputsTag =
      "v1 seed1234 dv64 h4 i128 l2 d48 | 500x375 768x768 300x900 1x1 10000x10";
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

std::string key(std::size_t i, const std::string& what) {
  return "img" + std::to_string(i) + "." + what;
}

}  // namespace

TEST_CASE("preprocessing: resize within one 8-bit level of PIL, normalisation",
          "[vision][reference]") {
  auto& fx = fixture();
  for (std::size_t i = 0; i < fx.images.size(); ++i) {
    for (int64_t side : {384, 672}) {
      INFO("image " << i << " side " << side);
      const RgbImage r = resize_bicubic(fx.images[i], side, side);
      const at::Tensor mine =
          at::from_blob(const_cast<uint8_t*>(r.rgb.data()), {side, side, 3}, at::kByte);
      const at::Tensor pil = fx.ref.at(key(i, "resized" + std::to_string(side)));
      CHECK((mine.to(at::kInt) - pil.to(at::kInt)).abs().max().item<int>() <= 1);
    }
  }
  RgbImage px;
  px.width = 2, px.height = 1, px.rgb = {0, 255, 128, 10, 20, 30};
  const at::Tensor t = to_pixel_tensor(px);
  REQUIRE(t.sizes() == at::IntArrayRef({1, 3, 1, 2}));
  CHECK(t[0][0][0][0].item<float>() == -1.0f);
  CHECK(t[0][1][0][0].item<float>() == 1.0f);
  CHECK(t[0][2][0][0].item<float>() == Approx(128 / 255.0 * 2 - 1).margin(1e-6));
  CHECK(t[0][0][0][1].item<float>() == Approx(10 / 255.0 * 2 - 1).margin(1e-6));
}

TEST_CASE("position embeddings resize bicubically 27x27 -> 48x48", "[vision][reference]") {
  auto& fx = fixture();
  const at::Tensor pos =
      fx.weights.at(std::string(kVisionPrefix) + "embeddings.position_embedding.weight");
  const at::Tensor r = resize_position_embedding(pos, 48);
  REQUIRE(r.sizes() == at::IntArrayRef({48 * 48, kDv}));
  CHECK(rel_err(r, fx.ref.at("pos48")) < 1e-6);
  CHECK(at::equal(resize_position_embedding(pos, 27), pos));
}

TEST_CASE("SigLIP at 384 and 672 matches the reference in fp32", "[vision][reference]") {
  auto& fx = fixture();
  const Model m = model_from(fx.weights, at::kFloat);
  for (std::size_t i = 0; i < fx.images.size(); ++i) {
    INFO("image " << i);
    const at::Tensor f384 = encode_view(m, fx.images[i], 384);
    REQUIRE(f384.sizes() == at::IntArrayRef({729, kDv}));
    CHECK(f384.scalar_type() == at::kFloat);
    CHECK(rel_err(f384, fx.ref.at(key(i, "siglip384"))) < 1e-4);
    CHECK(max_rel_err(f384, fx.ref.at(key(i, "siglip384"))) < 1e-4);
    const at::Tensor f672 = encode_view(m, fx.images[i], 672);  // exercises the chunked attention
    REQUIRE(f672.sizes() == at::IntArrayRef({2304, kDv}));
    CHECK(rel_err(f672, fx.ref.at(key(i, "siglip672"))) < 1e-4);
    CHECK(max_rel_err(f672, fx.ref.at(key(i, "siglip672"))) < 1e-4);
  }
}

TEST_CASE("projector and the three layouts match the reference in fp32", "[vision][reference]") {
  auto& fx = fixture();
  const Model m = model_from(fx.weights, at::kFloat);
  for (std::size_t i = 0; i < fx.images.size(); ++i) {
    INFO("image " << i << " " << fx.images[i].width << "x" << fx.images[i].height);
    const LayoutTokens low = layout_lowres384(m, fx.images[i]);
    REQUIRE(low.tokens.sizes() == at::IntArrayRef({729, kD}));
    CHECK(low.newline_tokens == 0);
    CHECK(rel_err(low.tokens, fx.ref.at(key(i, "lowres384"))) < 1e-4);
    CHECK(max_rel_err(low.tokens, fx.ref.at(key(i, "lowres384"))) < 1e-4);

    const LayoutTokens full = layout_full672(m, fx.images[i]);
    REQUIRE(full.tokens.sizes() == at::IntArrayRef({2304, kD}));
    CHECK(rel_err(full.tokens, fx.ref.at(key(i, "full672"))) < 1e-4);

    const LayoutTokens hd = layout_lavida_hd(m, fx.images[i]);
    const at::Tensor& ref = fx.ref.at(key(i, "lavida_hd"));
    REQUIRE(hd.tokens.size(0) == ref.size(0));
    REQUIRE(hd.tokens.size(1) == kD);
    if (i == 1) CHECK(hd.tokens.size(0) == 1008);  // 768x768: the issue's exact count
    CHECK(hd.views == fx.ref.at(key(i, "lavida_hd_views")).item<int64_t>());
    CHECK(rel_err(hd.tokens, ref) < 1e-4);
    CHECK(max_rel_err(hd.tokens, ref) < 1e-4);
  }
  // 768x768: 4 tiles + base; grid 28x28 plus one newline per row.
  const LayoutTokens hd = layout_lavida_hd(m, fx.images[1]);
  CHECK(hd.views == 5);
  CHECK(hd.newline_tokens == 28);
  CHECK(at::equal(hd.tokens[196 + 28], m.image_newline));
  // 10000x10: the unpadded grid is empty; only the base view remains.
  CHECK(layout_lavida_hd(m, fx.images[4]).tokens.size(0) == 196);
}

TEST_CASE("lavida-384 is LaViDa's single view: the pooled base view (196) + one newline",
          "[vision][reference]") {
  auto& fx = fixture();
  const Model m = model_from(fx.weights, at::kFloat);
  for (std::size_t i = 0; i < fx.images.size(); ++i) {
    INFO("image " << i);
    const LayoutTokens one = layout_lavida384(m, fx.images[i]);
    REQUIRE(one.tokens.sizes() == at::IntArrayRef({197, kD}));
    CHECK(one.newline_tokens == 1);
    CHECK(one.views == 1);
    CHECK(at::equal(one.tokens[196], m.image_newline));
    // The reference's lavida-hd sequence starts with the same pooled base view.
    const at::Tensor base_ref = fx.ref.at(key(i, "lavida_hd")).slice(0, 0, 196);
    CHECK(rel_err(one.tokens.slice(0, 0, 196), base_ref) < 1e-4);
    CHECK(max_rel_err(one.tokens.slice(0, 0, 196), base_ref) < 1e-4);
  }
  Model no_newline = model_from(fx.weights, at::kFloat);
  no_newline.image_newline = at::Tensor();
  CHECK_THROWS_AS(layout_lavida384(no_newline, fx.images[0]), std::invalid_argument);
}

TEST_CASE("projector is Linear -> erf GELU -> Linear on any leading shape", "[vision]") {
  auto& fx = fixture();
  const Model m = model_from(fx.weights, at::kFloat);
  const at::Tensor x = at::randn({2, 3, kDv});
  const auto& p = m.projector;
  const at::Tensor h = at::matmul(x, p.fc1.weight.t()) + p.fc1.bias;
  const at::Tensor erf_gelu = h * 0.5 * (1 + at::erf(h / std::sqrt(2.0)));
  const at::Tensor expect = at::matmul(erf_gelu, p.fc2.weight.t()) + p.fc2.bias;
  const at::Tensor got = project(p, x);
  REQUIRE(got.sizes() == at::IntArrayRef({2, 3, kD}));
  CHECK(rel_err(got, expect) < 1e-6);
}

TEST_CASE("tanh GELU: fp32 is the formula, bf16 is the fp32 result rounded once", "[vision]") {
  const at::Tensor x = at::linspace(-8, 8, 4001, at::kFloat);
  const double c = std::sqrt(2.0 / M_PI);
  const at::Tensor formula =
      (0.5 * x.to(at::kDouble) *
       (1 + at::tanh(c * (x.to(at::kDouble) + 0.044715 * x.to(at::kDouble).pow(3)))))
          .to(at::kFloat);
  const at::Tensor f32 = gelu_tanh(x);
  CHECK(f32.scalar_type() == at::kFloat);
  CHECK((f32 - formula).abs().max().item<float>() < 1e-6);
  // The same values in bf16: exactly the fp32 GELU of the bf16 input, rounded once to bf16.
  const at::Tensor xb = x.to(at::kBFloat16);
  const at::Tensor bf = gelu_tanh(xb);
  CHECK(bf.scalar_type() == at::kBFloat16);
  CHECK(at::equal(bf, at::gelu(xb.to(at::kFloat), "tanh").to(at::kBFloat16)));
  // Every hidden_act name of the tanh family takes this path; an unknown one is refused.
  for (const char* name : {"gelu_pytorch_tanh", "gelu_new", "gelu_fast"})
    CHECK(at::equal(activation(xb, name), bf));
  CHECK(at::equal(activation(x, "gelu"), at::gelu(x)));
  CHECK_THROWS_WITH(activation(x, "swish"),
                    Catch::Matchers::ContainsSubstring("unsupported hidden_act 'swish'"));
}

// bf16 rounding (8-bit mantissa) of pixels, weights and attention logits is amplified by this
// random model's deliberately peaked attention (an all-bf16 float64-vs-bf16 experiment gives ~2%
// error on the attention probabilities alone), so the bound is loose; a wrong layout or a lost bias
// gives ~100%.
TEST_CASE("bf16 compute stays close to the fp32 reference and returns bf16",
          "[vision][reference]") {
  auto& fx = fixture();
  const Model m = model_from(fx.weights, at::kBFloat16);
  const at::Tensor f = encode_view(m, fx.images[0], 672);
  CHECK(f.scalar_type() == at::kBFloat16);
  CHECK(rel_err(f, fx.ref.at(key(0, "siglip672"))) < 0.15);
  const LayoutTokens hd = layout_lavida_hd(m, fx.images[1]);
  CHECK(hd.tokens.scalar_type() == at::kBFloat16);
  CHECK(rel_err(hd.tokens, fx.ref.at(key(1, "lavida_hd"))) < 0.1);
}

TEST_CASE("bad model or tensor input gives clear errors", "[vision]") {
  auto& fx = fixture();
  Model m = model_from(fx.weights, at::kFloat);
  CHECK_THROWS_AS(siglip_encode(m.vision, m.config.vision, at::zeros({1, 3, 10, 10})),
                  std::invalid_argument);
  CHECK_THROWS_AS(siglip_encode(m.vision, m.config.vision, at::zeros({3, 28, 28})),
                  std::invalid_argument);
  CHECK_THROWS_AS(encode_view(m, RgbImage{}, 384), ImageError);
  m.config.vision.layers_used = 3;
  CHECK_THROWS_AS(encode_view(m, fx.images[0], 384), std::invalid_argument);
  m.config.vision.layers_used = kLayers;
  m.image_newline = at::Tensor();
  CHECK_THROWS_AS(layout_lavida_hd(m, fx.images[1]), std::invalid_argument);
}
