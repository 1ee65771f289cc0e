// bench_attention: the former attention paths ("before": full score rows per head/row chunk) vs
// the default online-softmax kernel ("after": the fused CPU kernel), measured in the same process,
// interleaved rep by rep, at real widths: (A) the attention op alone at the LLaDA prefill (32 heads
// x 128) and SigLIP (16 heads x 72) shapes; (B) one LLaDA-8B-width prefill layer at two prefix
// lengths; (C) one SigLIP so400m layer at 384 and 672. Every row gives the median and the min-max
// spread, and the growth of the time from the short to the long length next to the growth of the
// FLOP count; (D) a cached denoising step's attention (32 answer rows against a prefix cache of P
// rows plus the answer rows; fp32 compute over a bf16 or fp32 cache, bf16 compute over a bf16
// cache): the former head-chunked path ("before") against the cached-step kernel ("after",
// cached_step_attention.h).
//   bench_attention [--threads 2] [--reps 3] [--dtypes auto,fp32] [--prefixes 1350,2438]
//                   [--sections kernel,llada,siglip,step]
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "bench/cli.h"
#include "bench/cpu_report.h"
#include "bench/real_widths.h"
#include "bench/samples.h"
#include "engine/attention/blocked_attention.h"
#include "engine/attention/cached_step_attention.h"
#include "engine/attention/legacy_attention.h"
#include "engine/llada/llada.h"
#include "engine/model/compute_dtype.h"
#include "engine/platform/process_setup.h"
#include "engine/vision/siglip.h"

using namespace shirg;
namespace att = shirg::attention;

namespace {

using bench::Samples;
using bench::time_ms;

// Runs before/after alternately (the order flips every rep), after one warm-up of each if asked.
void interleave(int reps, const std::function<void()>& before, const std::function<void()>& after,
                Samples& b, Samples& a, bool warmup) {
  const att::Kernel saved = att::kernel();
  if (warmup) {
    att::set_kernel(att::Kernel::kLegacy);
    before();
    att::set_kernel(att::Kernel::kFused);
    after();
  }
  for (int r = 0; r < reps; ++r) {
    for (int i = 0; i < 2; ++i) {
      const bool legacy = (i == 0) == (r % 2 == 0);
      att::set_kernel(legacy ? att::Kernel::kLegacy : att::Kernel::kFused);
      (legacy ? b : a).ms.push_back(time_ms(legacy ? before : after));
    }
  }
  att::set_kernel(saved);
}

bool has(const std::vector<std::string>& v, const std::string& w) {
  return std::find(v.begin(), v.end(), w) != v.end();
}

using bench::uniform;

struct Row {
  std::string what;
  int64_t len;
  double gflop;
  Samples before, after;
};

void print_rows(const char* title, const std::vector<Row>& rows) {
  std::printf("\n%s\n", title);
  std::printf(
      "| dtype, shape | length | GFLOP | before ms (median, min-max) | after ms (median, min-max) "
      "| "
      "after/before | before GFLOP/s | after GFLOP/s |\n|---|---|---|---|---|---|---|---|\n");
  for (const auto& r : rows) {
    std::printf("| %s | %lld | %.2f | %.1f (%.1f-%.1f) | %.1f (%.1f-%.1f) | %.2f | %.1f | %.1f |\n",
                r.what.c_str(), static_cast<long long>(r.len), r.gflop, r.before.median(),
                r.before.lo(), r.before.hi(), r.after.median(), r.after.lo(), r.after.hi(),
                r.after.median() / r.before.median(), r.gflop / r.before.median() * 1e3,
                r.gflop / r.after.median() * 1e3);
  }
  // Growth from the shortest to the longest length of each shape, against the FLOP growth.
  std::printf("\ngrowth short -> long: | dtype, shape | FLOP x | before time x | after time x |\n");
  std::printf("|---|---|---|---|\n");
  for (size_t i = 0; i + 1 < rows.size(); ++i) {
    const Row &s = rows[i], &l = rows[i + 1];
    if (s.what != l.what) continue;
    std::printf("| %s %lld -> %lld | %.2f | %.2f | %.2f |\n", s.what.c_str(),
                static_cast<long long>(s.len), static_cast<long long>(l.len), l.gflop / s.gflop,
                l.before.median() / s.before.median(), l.after.median() / s.after.median());
  }
}

// LLaDA-8B and SigLIP so400m widths (bench/real_widths.h).
constexpr int64_t kD = bench::kLladaD, kHeads = bench::kLladaHeads, kVHeads = bench::kSiglipHeads;

double llada_layer_gflop(double p) {
  return bench::llada_layer_flops(p, p) / 1e9;
}
double siglip_layer_gflop(double n) {
  return bench::siglip_layer_flops(n) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  shirg::prepare_process(argv);  // first: before any thread starts
  int threads = 2, reps = 3;
  std::string dtypes_arg = "auto,fp32", prefixes_arg = "1350,2438",
              sections_arg = "kernel,llada,siglip,step";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "missing value for %s\n", a.c_str());
      return 2;
    }
    const std::string v = argv[++i];
    if (a == "--threads")
      threads = std::stoi(v);
    else if (a == "--reps")
      reps = std::stoi(v);
    else if (a == "--dtypes")
      dtypes_arg = v;
    else if (a == "--prefixes")
      prefixes_arg = v;
    else if (a == "--sections")
      sections_arg = v;
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  bench::setup_and_report_cpu(threads);
  const std::vector<at::ScalarType> dts = bench::compute_dtypes(bench::split_commas(dtypes_arg));
  std::vector<int64_t> prefixes;
  for (const auto& p : bench::split_commas(prefixes_arg)) prefixes.push_back(std::stoll(p));
  const auto sections = bench::split_commas(sections_arg);
  std::printf(
      "bench_attention: %d threads, %d interleaved reps (before = the former attention, "
      "after = blocked online softmax)\n",
      threads, reps);
  at::manual_seed(0);

  if (has(sections, "kernel")) {
    std::vector<Row> rows;
    for (auto dt : dts) {
      struct Shape {
        const char* name;
        int64_t heads, hd;
        std::vector<int64_t> lens;
        bool siglip;
      };
      for (const Shape& s : {Shape{"llada 32x128", kHeads, 128, prefixes, false},
                             Shape{"siglip 16x72", kVHeads, 72, {729, 2304}, true}}) {
        for (int64_t t : s.lens) {
          std::fprintf(stderr, "kernel %s %s %lld ...\n", compute_dtype_name(dt), s.name,
                       static_cast<long long>(t));
          auto q = uniform({s.heads, t, s.hd}, 1.0, dt), k = uniform({s.heads, t, s.hd}, 1.0, dt),
               v = uniform({s.heads, t, s.hd}, 1.0, dt);
          const double scale = 1.0 / std::sqrt(static_cast<double>(s.hd));
          Row r{std::string(compute_dtype_name(dt)) + " " + s.name,
                t,
                4.0 * t * t * s.heads * s.hd / 1e9,
                {},
                {}};
          interleave(
              reps,
              [&] {
                (void)(s.siglip ? att::legacy_row_chunked(q, k, v, scale)
                                : att::legacy_head_chunked(q, {{k, v}}, {}, scale));
              },
              [&] {
                att::blocked_attention(q, {{k, v}}, {}, scale);
              },
              r.before, r.after,
              /*warmup=*/true);
          std::fprintf(stderr, "  before %.0f ms (%.0f-%.0f), after %.0f ms (%.0f-%.0f)\n",
                       r.before.median(), r.before.lo(), r.before.hi(), r.after.median(),
                       r.after.lo(), r.after.hi());
          rows.push_back(r);
        }
      }
    }
    print_rows("(A) attention alone, [heads, T, hd] self-attention", rows);
  }

  if (has(sections, "siglip")) {
    std::vector<Row> rows;
    for (auto dt : dts) {
      const SiglipLayerW l = bench::siglip_layer_weights(dt);
      const VisionConfig cfg = bench::siglip_config(1);
      for (int64_t n : {int64_t{729}, int64_t{2304}}) {
        std::fprintf(stderr, "siglip layer %s N %lld ...\n", compute_dtype_name(dt),
                     static_cast<long long>(n));
        const at::Tensor x = at::randn({1, n, bench::kSiglipD});
        Row r{std::string(compute_dtype_name(dt)) + " siglip layer",
              n,
              siglip_layer_gflop(n),
              {},
              {}};
        auto run = [&] { vision::siglip_layer(l, cfg, x); };
        interleave(reps, run, run, r.before, r.after, true);
        rows.push_back(r);
      }
    }
    print_rows("(C) one SigLIP so400m layer (384: 729 tokens, 672: 2304 tokens)", rows);
  }
  if (has(sections, "llada")) {
    std::vector<Row> rows;
    for (auto dt : dts) {
      // A 2-layer prefill runs one full layer plus the K/V projection of the second; a 1-layer
      // prefill runs only that K/V projection. One layer = the difference (K/V part measured once).
      const LladaW w2 = bench::llada_weights(2, dt, /*vocab=*/16);
      LladaW w1 = w2;
      w1.blocks.resize(1);
      const auto cfg2 = bench::llada_config(2, 16), cfg1 = bench::llada_config(1, 16);
      for (int64_t p : prefixes) {
        std::fprintf(stderr, "llada layer %s P %lld ...\n", compute_dtype_name(dt),
                     static_cast<long long>(p));
        const at::Tensor prefix = uniform({p, kD}, 1.0, dt);
        Samples kv_only;
        for (int r = 0; r < std::max(1, reps / 2); ++r)
          kv_only.ms.push_back(
              time_ms([&] { llada::prefill(w1, cfg1, prefix, kv::CacheDType::kBf16); }));
        Row r{
            std::string(compute_dtype_name(dt)) + " llada layer", p, llada_layer_gflop(p), {}, {}};
        auto run = [&] { llada::prefill(w2, cfg2, prefix, kv::CacheDType::kBf16); };
        // No warm-up at this size (minutes per run): the weights are already in memory.
        interleave(reps, run, run, r.before, r.after, false);
        for (auto* s : {&r.before, &r.after})
          for (auto& ms : s->ms) ms -= kv_only.median();
        rows.push_back(r);
      }
    }
    print_rows(
        "(B) one LLaDA-8B-width prefill layer (2-layer prefill minus the K/V-only 1-layer prefill)",
        rows);
  }

  if (has(sections, "step")) {
    std::vector<Row> rows;
    constexpr int64_t kAnswer = 32;  // the answer rows of a step (gen_length 32)
    struct StepCase {
      at::ScalarType q, cache;  // the answer rows (queries, their keys and values) and the cache
    };
    for (const StepCase c : {StepCase{at::kFloat, at::kBFloat16}, StepCase{at::kFloat, at::kFloat},
                             StepCase{at::kBFloat16, at::kBFloat16}}) {
      for (int64_t p : prefixes) {
        const std::string what = std::string(c.q == at::kBFloat16 ? "bf16" : "fp32") + " step, " +
                                 (c.cache == at::kBFloat16 ? "bf16" : "fp32") + " cache";
        std::fprintf(stderr, "step attention: %s, P %lld ...\n", what.c_str(),
                     static_cast<long long>(p));
        const at::Tensor q = uniform({kHeads, kAnswer, 128}, 1.0, c.q);
        const std::vector<att::KvPart> parts{
            {uniform({kHeads, p, 128}, 1.0, c.cache), uniform({kHeads, p, 128}, 1.0, c.cache)},
            {uniform({kHeads, kAnswer, 128}, 1.0, c.q), uniform({kHeads, kAnswer, 128}, 1.0, c.q)}};
        const double scale = 1.0 / std::sqrt(128.0);
        Row r{what, p, 4.0 * kHeads * kAnswer * (p + kAnswer) * 128 / 1e9, {}, {}};
        // Many short calls: 10 per sample, so that one sample is tens of ms.
        auto ten = [](const std::function<void()>& f) {
          return [f] {
            for (int i = 0; i < 10; ++i) f();
          };
        };
        interleave(
            std::max(reps, 5), ten([&] { (void)att::legacy_head_chunked(q, parts, {}, scale); }),
            ten([&] { (void)att::cached_step_attention(q, parts, scale); }), r.before, r.after,
            /*warmup=*/true);
        for (auto* smp : {&r.before, &r.after})
          for (auto& ms : smp->ms) ms /= 10;
        rows.push_back(r);
      }
    }
    print_rows(
        "(D) a cached step's attention, per layer: 32 heads x 128, "
        "32 answer rows against P cached + 32 answer keys (ms per call)",
        rows);
  }

  return 0;
}
