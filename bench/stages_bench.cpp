// bench_stages: the stages of a LaViDa request at the real LaViDa-8B widths, in the dtype `auto`
// picks and in fp32, measured the way ../shared/bench/lavida-baseline measures LaViDa's own code so
// that bench/compare_lavida.py can print the ratio per stage (same machine, same run):
//   SigLIP so400m at 672x672 (2,304 tokens), 26 layers     = embedding + 26 x one layer
//   projector (mlp2x_gelu) on 1,216 / 2,304 tokens          measured whole
//   LLaDA prefill at each P, 32 layers                      = kv-only + 31 x (2-layer - 1-layer)
//   cached denoising step at each P (32 answer tokens)      = fixed + 32 x (5-layer - 1-layer) / 4
//   SHIRG request (P = first prefix, --steps steps)         = vision + projector(1,216) + prefill
//                                                             + steps x cached step
// Every quantity is the median of --reps runs, printed with its min-max range; a quantity whose
// central runs (Samples::central_spread: the 2nd to 4th of 5, min to max for 3 or fewer) spread
// by more than --max-spread (or a per-layer difference that is not clearly above that spread) is
// measured again, up to --retries times, and marked UNSTABLE in the table and the JSON if it
// still is (never silently extrapolated from noise). The central range, not min-max, judges
// agreement: one run slowed by a time slice of another process is not the stage's cost. The cached
// step's bytes (weights + cache at the real depth) are reported in GB/s next to this machine's read
// bandwidth measured in the run.
//   bench_stages [--threads 2] [--reps 3] [--dtypes auto,fp32] [--prefixes 1290,2380]
//                [--steps 16] [--max-spread 0.15] [--retries 2] [--json FILE]
//                [--gemm auto|aten|packed]   (LLaDA matrices: packed by oneDNN as the loader does)
//                [--kernels auto|generic]  (auto: the CPU-specialised kernels; generic: the path a
//                                           CUDA device runs, here on the CPU)
#include <ATen/ATen.h>

#include <cstdio>
#include <fstream>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/cli.h"
#include "bench/cpu_report.h"
#include "bench/gemm_peak.h"
#include "bench/real_widths.h"
#include "bench/samples.h"
#include "engine/llada/llada.h"
#include "engine/model/compute_dtype.h"
#include "engine/platform/process_setup.h"
#include "engine/vision/siglip.h"

using namespace shirg;
using bench::Samples;
using json = nlohmann::json;

namespace {

constexpr int64_t kAnswer = 32, kShirgVisual = 1216, kFullVisual = 2304, kSide = 672;
constexpr int64_t kStepExtra = 4;  // the step's deep run: 1 + kStepExtra layers

struct Args {
  int threads = 2, reps = 3, retries = 2;
  double max_spread = 0.15;
  int64_t steps = 16;
  std::vector<std::string> dtypes{"auto", "fp32"};
  std::vector<int64_t> prefixes{1290, 2380};
  std::string json_path;
  gemm::WeightLayout gemm = gemm::WeightLayout::kAuto;  // LLaDA matrices, as the loader packs them
  Kernels kernels = Kernels::kAuto;                     // --kernels
};

// A stage at the real depth: seconds, how it was obtained, and whether its runs agreed.
struct Stage {
  double seconds = 0;
  double lo = 0, hi = 0;  // the range implied by the runs' min/max (seconds)
  bool stable = true;
  std::string how;
  json to_json() const {
    return {{"s", seconds}, {"lo_s", lo}, {"hi_s", hi}, {"stable", stable}, {"how", how}};
  }
};

// Measures fn until its spread is within max_spread (at most 1 + retries rounds).
Samples stable_sample(const std::function<void()>& fn, const Args& a, int warmup, bool* stable) {
  Samples s = bench::sample(fn, a.reps, warmup);
  for (int r = 0; r < a.retries && s.central_spread() > a.max_spread; ++r) {
    std::fprintf(stderr, "  spread %.0f%% > %.0f%%: measuring again\n", 100 * s.central_spread(),
                 100 * a.max_spread);
    s = bench::sample(fn, a.reps, 0);
  }
  *stable = s.central_spread() <= a.max_spread;
  return s;
}

// fixed + layers x per_layer from runs at two depths (deep = shallow + `extra` layers): per
// layer = (deep - shallow) / extra. Re-measured while either run spreads too much or the
// per-layer difference is not clearly above its own uncertainty. A step's layer is small next to
// its fixed part (the LM head), so the step uses extra = 4: one layer's difference drowns in noise.
Stage two_depth(const std::function<void()>& shallow, const std::function<void()>& deep,
                int64_t extra, int64_t layers_real, const Args& a, const std::string& what,
                const std::function<double(double, double)>& real) {
  Stage st;
  for (int round = 0; round <= a.retries; ++round) {
    Samples s1 = bench::sample(shallow, a.reps, round == 0 ? 1 : 0);
    Samples s2 = bench::sample(deep, a.reps, round == 0 ? 1 : 0);
    const double per_layer = (s2.median() - s1.median()) / static_cast<double>(extra);
    const double uncertainty =
        0.5 * ((s2.central_hi() - s2.central_lo()) + (s1.central_hi() - s1.central_lo())) /
        static_cast<double>(extra);
    st.seconds = real(s1.median(), per_layer) / 1e3;
    // Range: the per-layer difference at its extremes, the fixed part at the shallow median.
    const double x = static_cast<double>(extra);
    st.lo = real(s1.median(), std::max(0.0, s2.lo() - s1.hi()) / x) / 1e3;
    st.hi = real(s1.median(), (s2.hi() - s1.lo()) / x) / 1e3;
    st.stable = per_layer > 0 && s1.central_spread() <= a.max_spread &&
                s2.central_spread() <= a.max_spread && uncertainty <= a.max_spread * per_layer;
    std::ostringstream how;
    how << std::fixed << std::setprecision(1) << "1-layer " << s1.median() << " ms (" << s1.lo()
        << "-" << s1.hi() << "), " << 1 + extra << "-layer " << s2.median() << " ms (" << s2.lo()
        << "-" << s2.hi() << "), per layer " << per_layer << " ms x " << layers_real;
    st.how = how.str();
    if (st.stable) break;
    std::fprintf(stderr, "  %s: the two depths disagree (%s): measuring again\n", what.c_str(),
                 st.how.c_str());
  }
  return st;
}

// This machine's read bandwidth: a sum over 1 GiB of fp32 (median of 3), GB/s.
double read_bandwidth_gbps() {
  const at::Tensor x = at::ones({int64_t{1} << 28}, at::kFloat);
  const double ms = bench::sample([&] { (void)x.sum().item<float>(); }, 3, 1).median();
  return static_cast<double>(x.numel()) * 4 / (ms * 1e6);
}

json measure_dtype(at::ScalarType dt, const Args& a, double read_gbps) {
  json out;
  const char* name = compute_dtype_name(dt);
  std::printf("\n== compute dtype %s ==\n", name);
  std::printf("| stage | real depth (s) | range (s) | GFLOP/s or GB/s | runs agree | how |\n");
  std::printf("|---|---|---|---|---|---|\n");
  auto row = [](const std::string& what, const Stage& s, const std::string& rate) {
    std::printf("| %s | %.2f | %.2f-%.2f | %s | %s | %s |\n", what.c_str(), s.seconds, s.lo, s.hi,
                rate.c_str(), s.stable ? "yes" : "UNSTABLE", s.how.c_str());
  };
  auto gflops = [](double flops, double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f GFLOP/s", flops / s / 1e9);
    return std::string(buf);
  };

  // SigLIP at 672: embedding (pixels -> residual stream, 48x48 interpolated positions) + layers.
  std::fprintf(stderr, "[%s] SigLIP at 672x672 ...\n", name);
  SiglipW vw = bench::siglip_weights(1, dt);
  vw.kernels = a.kernels;
  const VisionConfig vcfg = bench::siglip_config(1);
  const at::Tensor pixels = bench::uniform({1, 3, kSide, kSide}, 1.0, at::kFloat);
  at::Tensor stream = vision::siglip_embed(vw, vcfg, pixels);
  bool embed_ok = true, layer_ok = true;
  const Samples embed =
      stable_sample([&] { vision::siglip_embed(vw, vcfg, pixels); }, a, 1, &embed_ok);
  const Samples layer = stable_sample(
      [&] { vision::siglip_layer(vw.layers[0], vcfg, stream, a.kernels); }, a, 1, &layer_ok);
  Stage vision;
  vision.seconds = (embed.median() + bench::kSiglipLayers * layer.median()) / 1e3;
  vision.lo = (embed.lo() + bench::kSiglipLayers * layer.lo()) / 1e3;
  vision.hi = (embed.hi() + bench::kSiglipLayers * layer.hi()) / 1e3;
  vision.stable = embed_ok && layer_ok;
  std::ostringstream vhow;
  vhow << std::fixed << std::setprecision(1) << "embedding " << embed.median()
       << " ms + 26 x layer " << layer.median() << " ms";
  vision.how = vhow.str();
  row("SigLIP 672x672, 26 layers", vision,
      gflops(bench::kSiglipLayers * bench::siglip_layer_flops(kFullVisual), vision.seconds));
  out["vision_672"] = vision.to_json();

  // Projector on the SHIRG and the full-672 token counts.
  const ProjectorW pw = bench::projector_weights(dt);
  std::map<int64_t, Stage> proj;
  for (int64_t n : {kShirgVisual, kFullVisual}) {
    const at::Tensor x = bench::uniform({n, bench::kSiglipD}, 1.0, dt);
    Stage s;
    const Samples m = stable_sample([&] { vision::project(pw, x); }, a, 1, &s.stable);
    s.seconds = m.median() / 1e3, s.lo = m.lo() / 1e3, s.hi = m.hi() / 1e3;
    s.how = "measured whole";
    const double flops =
        2.0 * n * (bench::kSiglipD * bench::kLladaD + 1.0 * bench::kLladaD * bench::kLladaD);
    row("projector, " + std::to_string(n) + " tokens", s, gflops(flops, s.seconds));
    out["projector"][std::to_string(n)] = s.to_json();
    proj[n] = s;
  }

  // LLaDA with the full vocabulary (the step's LM head) at 1, 2 (prefill) and 1 + kStepExtra
  // (step) layers: the first blocks of one set of weights.
  std::fprintf(stderr, "[%s] LLaDA weights (%lld layers, vocab %lld) ...\n", name,
               static_cast<long long>(1 + kStepExtra), static_cast<long long>(bench::kLladaVocab));
  LladaW w5 = bench::llada_weights(1 + kStepExtra, dt);
  w5.kernels = a.kernels;
  const int packed =
      llada::pack_weights(w5, a.kernels == Kernels::kAuto ? a.gemm : gemm::WeightLayout::kPlain);
  std::printf("LLaDA GEMM (--gemm %s): %d of %lld matrices packed, %s\n", gemm::to_string(a.gemm),
              packed, static_cast<long long>(w5.matrices().size()),
              w5.lm_head.implementation().c_str());
  LladaW w1 = w5, w2 = w5;
  w1.blocks.resize(1);
  w2.blocks.resize(2);
  const LladaConfig c2 = bench::llada_config(2), c1 = bench::llada_config(1),
                    c5 = bench::llada_config(1 + kStepExtra);
  const at::Tensor ids = at::full({kAnswer}, bench::kLladaVocab - 1, at::kLong);
  const int64_t L = bench::kLladaLayers;
  std::map<int64_t, Stage> prefill, step;
  for (int64_t p : a.prefixes) {
    std::fprintf(stderr, "[%s] LLaDA prefill and step at P %lld ...\n", name,
                 static_cast<long long>(p));
    const at::Tensor prefix = bench::uniform({p, bench::kLladaD}, 1.0, dt);
    const std::string P = std::to_string(p);
    // prefill(L) = (L - 1) full layers + the K/V projection of the last one.
    Stage pre = two_depth([&] { llada::prefill(w1, c1, prefix, kv::CacheDType::kBf16); },
                          [&] { llada::prefill(w2, c2, prefix, kv::CacheDType::kBf16); }, 1, L - 1,
                          a, "prefill P " + P,
                          [&](double kv_only, double layer) { return kv_only + (L - 1) * layer; });
    row("prefill P " + P + ", 32 layers", pre,
        gflops((L - 1) * bench::llada_layer_flops(p, p), pre.seconds));
    out["prefill"][P] = pre.to_json();
    prefill[p] = pre;

    const kv::PrefixCache k1 = llada::prefill(w1, c1, prefix, kv::CacheDType::kBf16);
    const kv::PrefixCache k5 = llada::prefill(w5, c5, prefix, kv::CacheDType::kBf16);
    Stage st =
        two_depth([&] { llada::answer_logits(w1, c1, k1, ids); },
                  [&] { llada::answer_logits(w5, c5, k5, ids); }, kStepExtra, L, a, "step P " + P,
                  [&](double one, double layer) { return one - layer + L * layer; });
    // Bytes a step must read at the real depth: every block's matrices, the LM head, the cache.
    const double elt = static_cast<double>(c10::elementSize(dt));
    const double bytes = L * bench::llada_block_weight_bytes(elt) +
                         static_cast<double>(bench::kLladaVocab) * bench::kLladaD * elt +
                         static_cast<double>(k1.bytes()) * L;
    char rate[96];
    std::snprintf(rate, sizeof rate, "%.1f GB/s (%.0f%% of read bw; floor %.2f s)",
                  bytes / st.seconds / 1e9, 100 * bytes / st.seconds / 1e9 / read_gbps,
                  bytes / (read_gbps * 1e9));
    row("cached step P " + P + ", 32 layers", st, rate);
    json sj = st.to_json();
    sj["bytes"] = bytes;
    sj["floor_s"] = bytes / (read_gbps * 1e9);
    out["step"][P] = sj;
    step[p] = st;
  }

  // Whole requests from the stages (selection and decode are milliseconds; not included).
  auto request = [&](int64_t visual, int64_t p) {
    Stage r;
    const Stage &pj = proj.at(visual), &pre = prefill.at(p), &st = step.at(p);
    r.seconds = vision.seconds + pj.seconds + pre.seconds + a.steps * st.seconds;
    r.lo = vision.lo + pj.lo + pre.lo + a.steps * st.lo;
    r.hi = vision.hi + pj.hi + pre.hi + a.steps * st.hi;
    r.stable = vision.stable && pj.stable && pre.stable && st.stable;
    r.how = "vision + projector(" + std::to_string(visual) + ") + prefill(P " + std::to_string(p) +
            ") + " + std::to_string(a.steps) + " x step";
    return r;
  };
  const Stage shirg = request(kShirgVisual, a.prefixes.front());
  row("SHIRG request, " + std::to_string(a.steps) + " steps", shirg, "-");
  out["request_shirg"] = shirg.to_json();
  if (a.prefixes.size() > 1) {
    const Stage full = request(kFullVisual, a.prefixes.back());
    row("full-672 request, " + std::to_string(a.steps) + " steps", full, "-");
    out["request_full_672"] = full.to_json();
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  shirg::prepare_process(argv);  // first: before any thread starts
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "missing value for %s\n", arg.c_str());
      return 2;
    }
    const std::string v = argv[++i];
    try {
      if (arg == "--threads")
        a.threads = std::stoi(v);
      else if (arg == "--reps")
        a.reps = std::stoi(v);
      else if (arg == "--retries")
        a.retries = std::stoi(v);
      else if (arg == "--max-spread")
        a.max_spread = std::stod(v);
      else if (arg == "--steps")
        a.steps = std::stoll(v);
      else if (arg == "--dtypes")
        a.dtypes = bench::split_commas(v);
      else if (arg == "--prefixes") {
        a.prefixes.clear();
        for (const auto& p : bench::split_commas(v)) a.prefixes.push_back(std::stoll(p));
      } else if (arg == "--json")
        a.json_path = v;
      else if (arg == "--gemm")
        a.gemm = gemm::parse_weight_layout(v);
      else if (arg == "--kernels")
        a.kernels = parse_kernels(v);
      else {
        std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
        return 2;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "bad value for %s: %s\n", arg.c_str(), v.c_str());
      return 2;
    }
  }
  if (a.reps < 1 || a.retries < 0 || a.prefixes.empty() || a.dtypes.empty() || a.steps < 1) {
    std::fprintf(stderr, "--reps >= 1, --retries >= 0, --steps >= 1 and a prefix are required\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  try {
    const int threads = bench::setup_and_report_cpu(a.threads);
    std::printf("kernels (--kernels): %s\n", kernels_name(a.kernels));
    const std::vector<at::ScalarType> dts = bench::compute_dtypes(a.dtypes);
    at::manual_seed(0);
    const double read_gbps = read_bandwidth_gbps();
    std::printf("memory read bandwidth (sum over 1 GiB fp32): %.1f GB/s\n", read_gbps);
    std::printf(
        "bench_stages: LaViDa-8B widths, %d reps per quantity (median; range = min-max), "
        "max spread %.0f%%, %d retries\n",
        a.reps, 100 * a.max_spread, a.retries);
    json out = {{"cpu", bench::cpu_model_name()},
                {"native_bf16", cpu_has_native_bf16()},
                {"auto_dtype", compute_dtype_name(auto_compute_dtype(at::Device(at::kCPU)))},
                {"threads", threads},
                {"reps", a.reps},
                {"steps", a.steps},
                {"read_gbps", read_gbps},
                {"prefixes", a.prefixes},
                {"gemm", gemm::to_string(a.gemm)},
                {"kernels", kernels_name(a.kernels)},
                {"onednn_isa", gemm::onednn_isa()}};
    for (auto dt : dts) {
      std::printf("GEMM peak %s (1024^3): %.1f GFLOP/s\n", compute_dtype_name(dt),
                  bench::measure_gemm_gflops(dt, 1024, 1024, 1024));
      out["dtypes"][compute_dtype_name(dt)] = measure_dtype(dt, a, read_gbps);
    }
    if (!a.json_path.empty()) {
      std::ofstream f(a.json_path);
      f << out.dump(1) << "\n";
      if (!f) throw std::runtime_error("cannot write " + a.json_path);
      std::printf("\nwrote %s\n", a.json_path.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_stages: %s\n", e.what());
    return 1;
  }
  return 0;
}
