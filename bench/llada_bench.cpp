// bench_llada: the LLaDA language model with and without the prefix cache.
// Tables: (0) GEMM peak of this machine, measured in the same run; (1) prefix cache on vs off at
// 16 and 32 steps; (2) bf16 vs fp32 compute; (3) cache bytes bf16 vs fp32 and peak RSS;
// (4) per-step time, achieved GFLOP/s and GB/s against the measured peak.
// Configs: "small" (d_model 1024, 16 heads, MLP 2816, vocab 32000, 4 layers) and "real"
// (LLaDA-8B widths: d_model 4096, 32 heads, MLP 12288, vocab 126464) with a few layers measured
// and extrapolated per layer to 32. P = 1290 prefix rows, 32 answer tokens.
// Run: bench_llada [--threads 2] [--reps 3] [--real-layers 2] [--skip-real] [--skip-small]
//                  [--prefix 1290]
// The real config is measured in fp32 here; the dtype `auto` picks (bf16 on a CPU with native
// bf16) is measured at the real widths, with spreads, by bench_stages.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/cpu_report.h"
#include "bench/gemm_peak.h"
#include "engine/llada/llada.h"
#include "engine/platform/process_setup.h"
#include "engine/sampler/sampler.h"

using namespace shirg;

namespace {

struct Dims {
  const char* name;
  int64_t d, heads, mlp, vocab, layers, real_layers;
};

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

at::Tensor rnd(std::vector<int64_t> shape, double a, at::ScalarType dt) {
  return at::empty(shape, at::kFloat).uniform_(-a, a).to(dt);
}

LladaW make_weights(const Dims& d, at::ScalarType dt) {
  LladaW w;
  const double s = 1.0 / std::sqrt(static_cast<double>(d.d));
  w.wte = rnd({d.vocab, d.d}, 1.0, dt);
  for (int64_t i = 0; i < d.layers; ++i) {
    LladaBlockW b;
    b.attn_norm = at::ones({d.d});
    b.ff_norm = at::ones({d.d});
    b.wqkv = rnd({3 * d.d, d.d}, s, dt);
    b.wo = rnd({d.d, d.d}, s, dt);
    b.w_gate_up = rnd({2 * d.mlp, d.d}, s, dt);
    b.w_down = rnd({d.d, d.mlp}, 1.0 / std::sqrt(static_cast<double>(d.mlp)), dt);
    w.blocks.push_back(b);
  }
  w.ln_f = at::ones({d.d});
  w.lm_head = rnd({d.vocab, d.d}, s, dt);
  return w;
}

LladaConfig make_config(const Dims& d) {
  LladaConfig c;
  c.d_model = d.d;
  c.n_layers = d.layers;
  c.n_heads = d.heads;
  c.n_kv_heads = d.heads;
  c.mlp_hidden_size = d.mlp;
  c.vocab_size = d.vocab;
  c.embedding_size = d.vocab;
  c.rope_theta = 500000.0;
  return c;
}

// FLOPs of the linear layers of one block for t rows, attention of t rows over k keys.
double block_flops(const Dims& d, double t, double k) {
  const double D = static_cast<double>(d.d), H = static_cast<double>(d.mlp);
  return 2.0 * t * (4.0 * D * D + 3.0 * D * H) + 4.0 * t * k * D;
}
double block_weight_bytes(const Dims& d, double elt) {
  const double D = static_cast<double>(d.d), H = static_cast<double>(d.mlp);
  return (4.0 * D * D + 3.0 * D * H) * elt;
}

// Times of the measured (shallow) model and their extrapolation to the real depth R:
// prefill(L) = (L-1) full layers + one K/V-only layer; step(L) = L layers + LM head.
struct Measured {
  double prefill_ms = 0, step_ms = 0, step_cache32_ms = 0, uncached_ms = 0;
  double kv_only_ms = 0, head_ms = 0;
  int64_t layers = 1, real_layers = 1;
  int64_t cache16 = 0, cache32 = 0;
  double k() const { return static_cast<double>(real_layers) / static_cast<double>(layers); }
  double prefill_real() const {
    if (layers < 2) return prefill_ms * k();
    return (prefill_ms - kv_only_ms) / static_cast<double>(layers - 1) *
               static_cast<double>(real_layers - 1) +
           kv_only_ms;
  }
  double step_real(double ms) const { return (ms - head_ms) * k() + head_ms; }
};

const char* dt_name(at::ScalarType t) {
  return t == at::kBFloat16 ? "bf16" : "fp32";
}

Measured measure(const Dims& d, at::ScalarType dt, int64_t p, int64_t ans, int reps,
                 bool uncached) {
  auto w = make_weights(d, dt);
  auto cfg = make_config(d);
  auto prefix = rnd({p, d.d}, 1.0, dt);
  auto ids = at::full({ans}, d.vocab - 1, at::kLong);
  Measured m;
  m.layers = d.layers;
  m.real_layers = d.real_layers;
  kv::PrefixCache c16, c32;
  const int pre_reps = d.d >= 4096 ? 1 : reps;
  m.prefill_ms = bench::median_ms(
      [&] { c16 = llada::prefill(w, cfg, prefix, kv::CacheDType::kBf16); }, pre_reps, 0);
  c32 = llada::prefill(w, cfg, prefix, kv::CacheDType::kFp32);
  m.cache16 = c16.bytes();
  m.cache32 = c32.bytes();
  {
    LladaW one = w;
    one.blocks.resize(1);
    auto cfg1 = cfg;
    cfg1.n_layers = 1;
    m.kv_only_ms = bench::median_ms(
        [&] { llada::prefill(one, cfg1, prefix, kv::CacheDType::kBf16); }, pre_reps, 0);
    auto x = rnd({ans, d.d}, 1.0, dt);
    m.head_ms = bench::median_ms([&] { w.lm_head.forward(x); }, reps, 1);
  }
  const auto main_cache = dt == at::kBFloat16 ? &c16 : &c32;
  m.step_ms = bench::median_ms([&] { llada::answer_logits(w, cfg, *main_cache, ids); }, reps, 1);
  if (dt == at::kFloat) {
    m.step_cache32_ms = m.step_ms;
    m.step_ms = bench::median_ms([&] { llada::answer_logits(w, cfg, c16, ids); }, reps, 1);
  }
  if (uncached) {
    m.uncached_ms = bench::median_ms([&] { llada::prefix_dlm_logits(w, cfg, prefix, ids); },
                                     d.d >= 4096 ? 1 : reps, 0);
  }
  return m;
}

// Whole-generation time (prefill + steps) with the cache, and the uncached equivalent.
struct Gen {
  double cached_ms = 0, uncached_ms = 0;
};
Gen measure_generation(const Dims& d, at::ScalarType dt, int64_t p, int64_t steps) {
  auto w = make_weights(d, dt);
  auto cfg = make_config(d);
  auto prefix = rnd({p, d.d}, 1.0, dt);
  GenerationOptions o;
  o.gen_length = 32;
  o.block_length = 32;
  o.steps = steps;
  sampler::SamplerIds s;
  s.mask = d.vocab - 1;
  s.stop_early = false;
  Gen g;
  g.cached_ms = bench::median_ms(
      [&] {
        auto cache = llada::prefill(w, cfg, prefix, kv::CacheDType::kBf16);
        sampler::generate(
            o, s, [&](const at::Tensor& a) { return llada::answer_logits(w, cfg, cache, a); },
            nullptr);
      },
      1, 0);
  g.uncached_ms = bench::median_ms(
      [&] {
        sampler::generate(
            o, s, [&](const at::Tensor& a) { return llada::prefix_dlm_logits(w, cfg, prefix, a); },
            nullptr);
      },
      1, 0);
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  shirg::prepare_process(argv);  // first: before any thread starts
  int threads = 2, reps = 3;
  int64_t real_layers = 2, p = 1290, p_bf16 = 256;
  bool skip_real = false, skip_small = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threads")
      threads = std::stoi(next());
    else if (a == "--reps")
      reps = std::stoi(next());
    else if (a == "--real-layers")
      real_layers = std::stoll(next());
    else if (a == "--prefix")
      p = std::stoll(next());
    else if (a == "--skip-real")
      skip_real = true;
    else if (a == "--skip-small")
      skip_small = true;
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  shirg::bench::setup_and_report_cpu(threads);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const int64_t ans = 32;
  std::printf("bench_llada: %d threads, P = %lld, answer = %lld, reps = %d\n\n", threads,
              static_cast<long long>(p), static_cast<long long>(ans), reps);

  // (0) GEMM peak, this run.
  const double peak32_small = bench::measure_gemm_gflops(at::kFloat, 32, 4096, 4096);
  const double peak32_big = bench::measure_gemm_gflops(at::kFloat, 1024, 4096, 4096, 3);
  const double peak16_small = bench::measure_gemm_gflops(at::kBFloat16, 32, 1024, 1024, 1);
  std::printf("Table 0. GEMM peak measured in this run (at::matmul)\n");
  std::printf("| dtype | m x k x n | GFLOP/s |\n|---|---|---|\n");
  std::printf("| fp32 | 32 x 4096 x 4096 | %.1f |\n", peak32_small);
  std::printf("| fp32 | 1024 x 4096 x 4096 | %.1f |\n", peak32_big);
  std::printf("| bf16 | 32 x 1024 x 1024 | %.2f |\n\n", peak16_small);
  const double peak = std::max(peak32_small, peak32_big);

  std::vector<Dims> configs;
  if (!skip_small) configs.push_back({"small", 1024, 16, 2816, 32000, 4, 4});
  if (!skip_real) configs.push_back({"real", 4096, 32, 12288, 126464, real_layers, 32});

  struct Row {
    Dims d;
    at::ScalarType dt;
    Measured m;
    double rss;
  };
  std::vector<Row> rows, bf16_rows;
  std::vector<std::pair<std::string, Gen>> gens;
  for (const auto& d : configs) {
    const bool small = d.d < 4096;
    std::fprintf(stderr, "measuring %s ...\n", d.name);
    rows.push_back({d, at::kFloat, measure(d, at::kFloat, p, ans, reps, true), peak_rss_mb()});
    if (small) {
      // bf16 compute: real GEMM speed only where a bf16 kernel exists; here it is measured at the
      // small config (the real config would take hours with the measured bf16 GEMM rate).
      std::fprintf(stderr, "measuring bf16 vs fp32 at P = %lld ...\n",
                   static_cast<long long>(p_bf16));
      bf16_rows.push_back({d, at::kFloat, measure(d, at::kFloat, p_bf16, ans, reps, false), 0});
      bf16_rows.push_back({d, at::kBFloat16, measure(d, at::kBFloat16, p_bf16, ans, 1, false), 0});
      for (int64_t steps : {16, 32}) {
        std::fprintf(stderr, "generation with %lld steps ...\n", static_cast<long long>(steps));
        gens.push_back({std::to_string(steps), measure_generation(d, at::kFloat, p, steps)});
      }
    }
  }

  // Layers-only parts: subtract nothing (the LM head is included once in every measured step).
  std::printf("Table 1. Prefix cache on vs off (fp32 compute, bf16 cache), whole LM generation\n");
  std::printf(
      "| config | steps | cached: prefill + steps (s) | uncached: steps (s) | speed-up | how |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (const auto& g : gens) {
    std::printf("| small (4 layers) | %s | %.2f | %.2f | %.2fx | measured runs |\n",
                g.first.c_str(), g.second.cached_ms / 1e3, g.second.uncached_ms / 1e3,
                g.second.uncached_ms / g.second.cached_ms);
  }
  for (const auto& r : rows) {
    if (r.dt != at::kFloat) continue;
    for (int steps : {16, 32}) {
      const double on = r.m.prefill_real() + steps * r.m.step_real(r.m.step_ms);
      const double off = steps * r.m.step_real(r.m.uncached_ms);
      std::printf("| %s (%lld -> %lld layers) | %d | %.1f | %.1f | %.2fx | per-step x steps |\n",
                  r.d.name, static_cast<long long>(r.d.layers),
                  static_cast<long long>(r.d.real_layers), steps, on / 1e3, off / 1e3, off / on);
    }
  }

  std::printf("\nTable 2. bf16 vs fp32 compute (small config, P = %lld, bf16 cache; ms)\n",
              static_cast<long long>(p_bf16));
  std::printf("| config | compute | prefill | cached step |\n|---|---|---|---|\n");
  for (const auto& r : bf16_rows) {
    std::printf("| %s | %s | %.0f | %.0f |\n", r.d.name, dt_name(r.dt), r.m.prefill_ms,
                r.m.step_ms);
  }
  std::printf("Cache dtype at fp32 compute (cached step, real depth, ms):\n");
  std::printf("| config | bf16 cache | fp32 cache |\n|---|---|---|\n");
  for (const auto& r : rows) {
    std::printf("| %s | %.0f | %.0f |\n", r.d.name, r.m.step_real(r.m.step_ms),
                r.m.step_real(r.m.step_cache32_ms));
  }
  std::printf("\nTable 3. Cache bytes (P = %lld, real depth) and peak RSS\n",
              static_cast<long long>(p));
  std::printf("| config | bf16 cache | fp32 cache | ratio | formula 2*L*P*D*2 | peak RSS (MB) |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (const auto& r : rows) {
    if (r.dt != at::kFloat) continue;
    const double k = r.m.k();
    const double formula = 2.0 * r.d.real_layers * p * r.d.d * 2;
    std::printf("| %s | %.1f MB | %.1f MB | %.4f | %.1f MB | %.0f |\n", r.d.name,
                r.m.cache16 * k / 1e6, r.m.cache32 * k / 1e6,
                static_cast<double>(r.m.cache16) / static_cast<double>(r.m.cache32), formula / 1e6,
                r.rss);
  }

  std::printf(
      "\nTable 4. Achieved throughput at the real depth (fp32 compute, peak = %.1f GFLOP/s fp32 "
      "GEMM)\n",
      peak);
  std::printf(
      "| config | stage | time (real depth) | GFLOP | GFLOP/s | %% of peak | GB/s (weights+cache) "
      "|\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const auto& r : rows) {
    if (r.dt != at::kFloat) continue;
    const double R = static_cast<double>(r.d.real_layers), P = static_cast<double>(p);
    const double V = static_cast<double>(r.d.vocab), D = static_cast<double>(r.d.d);
    const double head_flops = 2.0 * ans * V * D, head_bytes = V * D * 4;
    const double cache_real = static_cast<double>(r.m.cache16) * r.m.k();
    const double step_flops = R * block_flops(r.d, ans, P + ans) + head_flops;
    const double step_bytes = R * block_weight_bytes(r.d, 4) + head_bytes + cache_real;
    const double pre_flops = (R - 1) * block_flops(r.d, P, P) + 2.0 * P * 3 * D * D;
    const double unc_flops = R * block_flops(r.d, P + ans, P + ans) + head_flops;
    auto row = [&](const char* stage, double ms, double flops, double bytes) {
      const double gf = flops / (ms * 1e6);
      char gb[32] = "-";
      if (bytes > 0) std::snprintf(gb, sizeof gb, "%.1f", bytes / (ms * 1e6));
      std::printf("| %s | %s | %.3f s | %.0f | %.1f | %.0f%% | %s |\n", r.d.name, stage, ms / 1e3,
                  flops / 1e9, gf, 100.0 * gf / peak, gb);
    };
    row("cached step (bf16 cache)", r.m.step_real(r.m.step_ms), step_flops, step_bytes);
    row("cached step (fp32 cache)", r.m.step_real(r.m.step_cache32_ms), step_flops,
        step_bytes + cache_real);
    row("LM head alone (32 rows)", r.m.head_ms, head_flops, head_bytes);
    row("prefill", r.m.prefill_real(), pre_flops, 0);
    row("uncached step", r.m.step_real(r.m.uncached_ms), unc_flops, 0);
  }
  std::printf("\nPeak RSS at exit: %.0f MB\n", peak_rss_mb());
  return 0;
}
