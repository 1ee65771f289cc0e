// bench_pipeline: the seed's comparison on this CPU. For one checkpoint, runs whole requests in
// the modes baseline-384, full-672 and shirg (64 + K) and prints, per mode: median latency per
// stage, total, visual/prefix tokens, prefix cache bytes and peak RSS during the request; then
// the SHIRG / full-672 ratio and the selection's share of the request.
//   bench_pipeline --model-dir DIR [--dtype auto|bf16|fp32] [--threads N] [--reps N]
//                  [--steps N] [--gen-length N] [--modes a,b,c] [--image FILE] [--layers-real L]
// --layers-real L: the checkpoint holds fewer layers than the real model; per-layer stages
// (vision, prefill, steps) are also extrapolated linearly to L LLaDA layers / L-1 SigLIP layers
// (reported in extra columns; decode, selection and projector do not scale with depth).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/gemm_peak.h"
#include "engine/model/model.h"
#include "engine/platform/cpu_threads.h"
#include "engine/runtime/options_parse.h"
#include "engine/runtime/pipeline.h"
#include "engine/vision/image.h"

namespace {

// Peak resident set since the last reset, in MiB (VmHWM; reset by writing 5 to clear_refs).
double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}
void reset_peak_rss() {
  std::ofstream("/proc/self/clear_refs") << "5";
}

std::string read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Row {
  std::string mode;
  shirg::StageTimings t;  // medians
  int64_t visual = 0, prefix = 0, cache_bytes = 0;
  double peak_mib = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir, image_path, dtype = "auto", modes_arg = "baseline-384,full-672,shirg";
  int threads = static_cast<int>(std::thread::hardware_concurrency()), reps = 3;
  int64_t steps = 16, gen_length = 32, layers_real = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--model-dir")
      model_dir = next();
    else if (a == "--image")
      image_path = next();
    else if (a == "--dtype")
      dtype = next();
    else if (a == "--threads")
      threads = std::stoi(next());
    else if (a == "--reps")
      reps = std::stoi(next());
    else if (a == "--steps")
      steps = std::stoll(next());
    else if (a == "--gen-length")
      gen_length = std::stoll(next());
    else if (a == "--modes")
      modes_arg = next();
    else if (a == "--layers-real")
      layers_real = std::stoll(next());
    else {
      std::fprintf(
          stderr,
          "usage: bench_pipeline --model-dir DIR [--dtype auto|bf16|fp32] [--threads N] [--reps N]"
          " [--steps N] [--gen-length N] [--modes a,b] [--image FILE] [--layers-real L]\n");
      return 2;
    }
  }
  if (model_dir.empty()) {
    std::fprintf(stderr, "--model-dir is required\n");
    return 2;
  }
  const shirg::CpuThreadSetup cpu = shirg::configure_cpu_threads(threads);
  std::printf("cpu: %s\n", cpu.describe().c_str());
  if (!cpu.warning.empty()) std::printf("warning: %s\n", cpu.warning.c_str());
  shirg::LoadOptions lo;
  lo.model_dir = model_dir;
  lo.dtype = shirg::parse_dtype_flag(dtype);
  auto model = shirg::load_model(lo);
  std::printf("model %s (%s), %d threads\n%s\n", model_dir.c_str(), model->summary.dtype.c_str(),
              threads, model->summary.to_table().c_str());
  const double peak = shirg::bench::measure_gemm_gflops(lo.dtype, 1024, 1024, 1024);
  std::printf("GEMM peak (%s, 1024^3): %.1f GFLOP/s\n\n", model->summary.dtype.c_str(), peak);

  std::string image;
  if (!image_path.empty()) {
    image = read_file(image_path);
  } else {  // a 672x672 synthetic chart-like image
    shirg::vision::RgbImage img;
    img.width = img.height = 672;
    img.rgb.resize(672 * 672 * 3);
    for (int64_t y = 0; y < 672; ++y)
      for (int64_t x = 0; x < 672; ++x)
        for (int c = 0; c < 3; ++c)
          img.rgb[(y * 672 + x) * 3 + c] =
              static_cast<uint8_t>(((x / 24 + y / 16) % 7) * 30 + c * 10);
    image = shirg::vision::encode_png(img);
  }

  shirg::Pipeline pipeline(model, shirg::PipelineLimits{});
  std::vector<Row> rows;
  std::stringstream ms(modes_arg);
  std::string mode_name;
  while (std::getline(ms, mode_name, ',')) {
    auto mode = shirg::parse_selection_mode(mode_name);
    if (!mode) {
      std::fprintf(stderr, "unknown mode %s\n", mode_name.c_str());
      return 2;
    }
    shirg::GenerateRequest req;
    req.image_bytes = image;
    req.question = "What is the value of the tallest bar?";
    req.selection.mode = *mode;
    req.generation.gen_length = gen_length;
    req.generation.block_length = gen_length;
    req.generation.steps = steps;
    if (shirg::Status s = pipeline.validate(req); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.message.c_str());
      return 1;
    }
    Row row;
    row.mode = mode_name;
    std::map<std::string, std::vector<double>> t;
    for (int r = 0; r < reps + 1; ++r) {  // the first run is a warm-up
      reset_peak_rss();
      shirg::GenerateResult out;
      shirg::Status s = pipeline.run(req, {}, &out);
      if (!s.ok()) {
        std::fprintf(stderr, "%s: %s\n", mode_name.c_str(), s.message.c_str());
        return 1;
      }
      row.peak_mib = std::max(row.peak_mib, peak_rss_mib());
      row.visual = out.selection.visual_tokens;
      row.prefix = out.prefix_tokens;
      row.cache_bytes = out.cache_bytes;
      if (r == 0) continue;
      const auto& o = out.timings;
      t["decode"].push_back(o.decode_ms);
      t["vision"].push_back(o.vision_ms);
      t["selection"].push_back(o.selection_ms);
      t["projector"].push_back(o.projector_ms);
      t["prefill"].push_back(o.prefill_ms);
      t["steps"].push_back(o.steps_ms);
      t["total"].push_back(o.total_ms);
    }
    row.t.decode_ms = median(t["decode"]);
    row.t.vision_ms = median(t["vision"]);
    row.t.selection_ms = median(t["selection"]);
    row.t.projector_ms = median(t["projector"]);
    row.t.prefill_ms = median(t["prefill"]);
    row.t.steps_ms = median(t["steps"]);
    row.t.total_ms = median(t["total"]);
    rows.push_back(row);
  }

  std::printf("%d measured runs per mode (median), gen_length %lld, %lld steps\n", reps,
              static_cast<long long>(gen_length), static_cast<long long>(steps));
  std::printf("%-14s %7s %7s %9s %9s %9s %9s %9s %10s %10s %11s %10s\n", "mode", "visual", "prefix",
              "decode", "vision", "select", "project", "prefill", "steps", "total ms", "cache MiB",
              "peak MiB");
  for (const auto& r : rows)
    std::printf("%-14s %7lld %7lld %9.1f %9.1f %9.2f %9.1f %9.1f %10.1f %10.1f %11.2f %10.0f\n",
                r.mode.c_str(), static_cast<long long>(r.visual), static_cast<long long>(r.prefix),
                r.t.decode_ms, r.t.vision_ms, r.t.selection_ms, r.t.projector_ms, r.t.prefill_ms,
                r.t.steps_ms, r.t.total_ms, static_cast<double>(r.cache_bytes) / (1 << 20),
                r.peak_mib);
  const Row* full = nullptr;
  const Row* sh = nullptr;
  for (const auto& r : rows) {
    if (r.mode == "full-672") full = &r;
    if (r.mode == "shirg") sh = &r;
  }
  if (sh)
    std::printf("\nSHIRG selection share of the request: %.2f%%\n",
                100.0 * sh->t.selection_ms / sh->t.total_ms);
  if (full && sh)
    std::printf("SHIRG / full-672 latency: %.3f\n", sh->t.total_ms / full->t.total_ms);

  if (layers_real > 0) {
    const auto& cfg = model->config;
    const double lf = static_cast<double>(layers_real) / static_cast<double>(cfg.llm.n_layers);
    // SigLIP's real depth is 26 used layers; LLaDA's is layers_real.
    const double vscale = 26.0 / static_cast<double>(cfg.vision.layers_used);
    std::printf(
        "\nExtrapolated to %lld LLaDA layers and 26 SigLIP layers (per-layer stages scaled; the LM "
        "head and\n"
        "embedding cost inside prefill/steps are scaled too, so this is an upper bound):\n",
        static_cast<long long>(layers_real));
    std::printf("%-14s %10s %10s %10s %10s %11s\n", "mode", "vision s", "prefill s", "steps s",
                "total s", "cache GiB");
    for (const auto& r : rows) {
      const double v = r.t.vision_ms * vscale / 1000, p = r.t.prefill_ms * lf / 1000,
                   s = r.t.steps_ms * lf / 1000;
      const double total = (r.t.decode_ms + r.t.selection_ms + r.t.projector_ms) / 1000 + v + p + s;
      std::printf("%-14s %10.1f %10.1f %10.1f %10.1f %11.2f\n", r.mode.c_str(), v, p, s, total,
                  static_cast<double>(r.cache_bytes) * lf / (1 << 30));
    }
  }
  return 0;
}
