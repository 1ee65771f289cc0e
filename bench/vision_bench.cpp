// bench_vision: per-stage times of the vision path at 672x672 (decode, resize, pixels, patch
// embedding, one encoder layer, projector), fp32 and bf16, with random weights at SigLIP so400m
// width (1152, MLP 4304, 16 heads). The encoder's GFLOP/s is reported as a share of the GEMM peak
// measured in the same run; the per-layer time is extrapolated to LaViDa's 26 layers.
//   bench_vision [--threads N] [--layers L] [--reps R] [--dtypes fp32,bf16]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <turbojpeg.h>
#include <cmath>
#include <cstdio>
#include <string>
#include <thread>

#include "bench/cpu_report.h"
#include "bench/gemm_peak.h"
#include "engine/platform/process_setup.h"
#include "engine/vision/image.h"
#include "engine/vision/siglip.h"

using namespace shirg;
using namespace shirg::vision;

namespace {

constexpr int64_t kDv = 1152, kInter = 4304, kHeads = 16, kPatch = 14, kSide = 672,
                  kRealLayers = 26;

RgbImage photo(int64_t w, int64_t h) {
  RgbImage img;
  img.width = w, img.height = h;
  img.rgb.resize(static_cast<std::size_t>(w * h * 3));
  uint32_t s = 7;
  for (int64_t i = 0; i < w * h; ++i) {
    s = s * 1664525u + 1013904223u;
    const int64_t x = i % w, y = i / w;
    img.rgb[i * 3] = static_cast<uint8_t>((x * 255) / w);
    img.rgb[i * 3 + 1] = static_cast<uint8_t>((y * 255) / h);
    img.rgb[i * 3 + 2] = static_cast<uint8_t>(((x / 40 + y / 40) % 2) * 200 + (s >> 28));
  }
  return img;
}

std::string jpeg_of(const RgbImage& img) {
  tjhandle h = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  tjCompress2(h, img.rgb.data(), static_cast<int>(img.width), 0, static_cast<int>(img.height),
              TJPF_RGB, &buf, &size, TJSAMP_420, 90, 0);
  std::string out(reinterpret_cast<char*>(buf), size);
  tjFree(buf);
  tjDestroy(h);
  return out;
}

LinearW linear(int64_t out, int64_t in, at::ScalarType dt) {
  return {(at::randn({out, in}) / std::sqrt(double(in))).to(dt), at::randn({out}) * 0.02};
}

SiglipW siglip(int64_t layers, at::ScalarType dt) {
  SiglipW w;
  w.patch_weight = (at::randn({kDv, 3, kPatch, kPatch}) * 0.02).to(dt);
  w.patch_bias = at::zeros({kDv});
  w.pos_embed = at::randn({27 * 27, kDv}) * 0.02;
  for (int64_t l = 0; l < layers; ++l) {
    SiglipLayerW L;
    L.ln1 = {at::ones({kDv}), at::zeros({kDv})};
    L.ln2 = {at::ones({kDv}), at::zeros({kDv})};
    L.qkv = linear(3 * kDv, kDv, dt);
    L.out = linear(kDv, kDv, dt);
    L.fc1 = linear(kInter, kDv, dt);
    L.fc2 = linear(kDv, kInter, dt);
    w.layers.push_back(L);
  }
  return w;
}

double layer_gflop(int64_t n) {
  const double linear = 2.0 * n * kDv * (3 * kDv + kDv + 2 * kInter);
  const double attention = 4.0 * n * n * kDv;  // QK^T and PV
  return (linear + attention) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  shirg::prepare_process(argv);  // first: before any thread starts
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  int64_t layers = 2;
  int reps = 3;
  std::string dtypes = "fp32,bf16";
  for (int i = 1; i + 1 < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads") threads = std::stoi(argv[i + 1]);
    if (a == "--layers") layers = std::stoll(argv[i + 1]);
    if (a == "--reps") reps = std::stoi(argv[i + 1]);
    if (a == "--dtypes") dtypes = argv[i + 1];
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  shirg::bench::setup_and_report_cpu(threads);
  at::manual_seed(0);
  std::printf(
      "Vision path at %lldx%lld (%lld tokens), SigLIP width %lld, MLP %lld, %lld heads; %d "
      "threads; "
      "medians of %d runs\n\n",
      (long long)kSide, (long long)kSide, (long long)((kSide / kPatch) * (kSide / kPatch)),
      (long long)kDv, (long long)kInter, (long long)kHeads, threads, reps);

  // Image stages (no LibTorch): decode a 1024x768 JPEG and PNG, resize to 672x672.
  const RgbImage src = photo(1024, 768);
  const std::string jpg = jpeg_of(src), png = encode_png(src);
  const double t_jpeg = bench::median_ms([&] { decode_image(jpg.data(), jpg.size()); }, reps);
  const double t_png = bench::median_ms([&] { decode_image(png.data(), png.size()); }, reps);
  RgbImage resized;
  const double t_resize =
      bench::median_ms([&] { resized = resize_bicubic(src, kSide, kSide); }, reps);
  at::Tensor pixels;
  const double t_pixels = bench::median_ms([&] { pixels = to_pixel_tensor(resized); }, reps);
  std::printf("%-38s %10s\n", "image stage", "ms");
  std::printf("%-38s %10.2f\n", "decode JPEG 1024x768 (q90, 4:2:0)", t_jpeg);
  std::printf("%-38s %10.2f\n", "decode PNG 1024x768", t_png);
  std::printf("%-38s %10.2f\n", "resize 1024x768 -> 672x672 (PIL bicubic)", t_resize);
  std::printf("%-38s %10.2f\n\n", "to_pixel_tensor", t_pixels);

  const int64_t n = (kSide / kPatch) * (kSide / kPatch);
  VisionConfig cfg;
  cfg.hidden_size = kDv, cfg.intermediate_size = kInter, cfg.num_attention_heads = kHeads;
  cfg.patch_size = kPatch, cfg.layers_used = layers;

  std::printf("%-6s %9s %9s %9s %10s %9s %8s %10s %10s %12s %12s\n", "dtype", "GEMM pk", "embed ms",
              "layer ms", "layer GF/s", "% peak", "proj1024", "proj4096", "encode ms",
              "26 layers s", "total 26L s");
  for (at::ScalarType dt : {at::kFloat, at::kBFloat16}) {
    if (dtypes.find(dt == at::kFloat ? "fp32" : "bf16") == std::string::npos) continue;
    const double peak = bench::measure_gemm_gflops(dt, n, kDv, kInter);
    const SiglipW w = siglip(layers, dt);
    at::Tensor x;
    const double t_embed = bench::median_ms([&] { x = siglip_embed(w, cfg, pixels); }, reps);
    // Per-layer median over all layers and reps.
    const double t_layer = bench::median_ms([&] { siglip_layer(w.layers[0], cfg, x); }, reps);
    double t_proj[2];
    const int64_t dims[2] = {1024, 4096};
    for (int i = 0; i < 2; ++i) {
      ProjectorW p{linear(dims[i], kDv, dt), linear(dims[i], dims[i], dt)};
      const at::Tensor feats = x[0].to(dt);
      t_proj[i] = bench::median_ms([&] { project(p, feats); }, reps);
    }
    const double t_encode = bench::median_ms([&] { siglip_encode(w, cfg, pixels); }, 1);
    const double gfs = layer_gflop(n) / (t_layer / 1e3);
    const double real = (t_embed + kRealLayers * t_layer) / 1e3;
    const double total = real + (t_jpeg + t_resize + t_pixels + t_proj[1]) / 1e3;
    std::printf("%-6s %9.0f %9.1f %9.1f %10.1f %8.0f%% %8.1f %10.1f %10.1f %12.2f %12.2f\n",
                dt == at::kFloat ? "fp32" : "bf16", peak, t_embed, t_layer, gfs, 100 * gfs / peak,
                t_proj[0], t_proj[1], t_encode, real, total);
  }
  std::printf(
      "\nGEMM pk: GFLOP/s of a [%lld,%lld]x[%lld,%lld] matmul measured now. layer GF/s counts %.1f "
      "GFLOP "
      "per layer\n(linears + QK^T + PV). 26 layers s = embed + 26 x layer (LaViDa's depth); total "
      "adds decode, "
      "resize,\npixels and the real-dims projector (1152 -> 4096 -> 4096). encode ms: all %lld "
      "layers built "
      "here. Target (performance.md): 26 layers bf16 <= 6 s.\n",
      (long long)n, (long long)kDv, (long long)kDv, (long long)kInter, layer_gflop(n),
      (long long)layers);
  return 0;
}
