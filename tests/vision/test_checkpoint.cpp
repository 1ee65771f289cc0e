// The vision path on the model writer's checkpoints (build/models/tiny and small), loaded by the
// real loader in fp32, against the float64 Python reference reading the same files.
#include <ATen/ATen.h>
#include "tests/common/catch.h"

#include <filesystem>
#include <map>
#include <string>

#include "engine/model/model.h"
#include "engine/safetensors/safetensors_file.h"
#include "engine/vision/layouts.h"
#include "engine/vision/siglip.h"
#include "tests/vision/test_support.h"

using namespace shirg;
using namespace shirg::vision;
using namespace shirg::vision::testing;

namespace {

double rel_err(const at::Tensor& got, const at::Tensor& ref) {
  const at::Tensor g = got.to(at::kDouble), r = ref.to(at::kDouble);
  return (g - r).norm().item<double>() / r.norm().item<double>();
}

void compare_with_reference(const std::string& name, const std::vector<RgbImage>& images) {
  const std::string dir = std::string(SHIRG_BINARY_DIR) + "/models/" + name;
  INFO("checkpoint " << dir << " (made by the model_" << name << " target)");
  REQUIRE(std::filesystem::exists(dir + "/config.json"));
  LoadOptions opts;
  opts.model_dir = dir;
  opts.dtype = at::kFloat;
  const std::shared_ptr<const Model> m = load_model(opts);

  TempDir tmp("ckpt_" + name);
  std::string args = "model " + dir + " " + tmp.file("ref.safetensors");
  for (std::size_t i = 0; i < images.size(); ++i) {
    const std::string png = tmp.file("img" + std::to_string(i) + ".png");
    write_file(png, encode_png(images[i]));
    args += " " + png;
  }
  REQUIRE(run_reference(args) == 0);
  const auto file = st::SafetensorsFile::open(tmp.file("ref.safetensors"));
  auto ref = [&](const std::string& key) {
    const st::TensorView* v = file->find(key);
    REQUIRE(v != nullptr);
    return at::from_blob(const_cast<std::byte*>(v->data), v->shape, at::kFloat).clone();
  };
  const int64_t d = m->config.llm.d_model;
  for (std::size_t i = 0; i < images.size(); ++i) {
    INFO("image " << i << " " << images[i].width << "x" << images[i].height);
    const std::string k = "img" + std::to_string(i) + ".";
    CHECK(rel_err(encode_view(*m, images[i], 672), ref(k + "siglip672")) < 1e-4);
    const LayoutTokens low = layout_lowres384(*m, images[i]);
    CHECK(low.tokens.sizes() == at::IntArrayRef({729, d}));
    CHECK(rel_err(low.tokens, ref(k + "lowres384")) < 1e-4);
    const LayoutTokens full = layout_full672(*m, images[i]);
    CHECK(full.tokens.sizes() == at::IntArrayRef({2304, d}));
    CHECK(rel_err(full.tokens, ref(k + "full672")) < 1e-4);
    const LayoutTokens hd = layout_lavida_hd(*m, images[i]);
    const at::Tensor hd_ref = ref(k + "lavida_hd");
    REQUIRE(hd.tokens.size(0) == hd_ref.size(0));
    if (images[i].width == 768 && images[i].height == 768) CHECK(hd.tokens.size(0) == 1008);
    CHECK(rel_err(hd.tokens, hd_ref) < 1e-4);
  }
}

}  // namespace

TEST_CASE("tiny checkpoint: SigLIP, projector and layouts match the reference",
          "[vision][checkpoint]") {
  compare_with_reference("tiny", {synthetic_image(768, 768, 11), synthetic_image(640, 480, 12)});
}

TEST_CASE("small checkpoint (SigLIP width 1152): layouts match the reference",
          "[vision][checkpoint]") {
  compare_with_reference("small", {synthetic_image(768, 768, 13)});
}
