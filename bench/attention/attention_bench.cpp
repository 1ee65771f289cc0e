// bench_attention: the attention implementations side by side, measured in one process,
// interleaved rep by rep (the order rotates every rep), at real widths. Columns:
//   auto     what the product runs on this CPU (attention::attend with Kernels::kAuto: the
//            chunked kernel, or the cached-step kernel for a step)
//   generic  what a CUDA device runs (Kernels::kGeneric: SDPA where LibTorch has it, else plain
//            matmul-softmax-matmul), here on the CPU
//   fused, blocked  the benchmark-only online-softmax kernels (bench/attention), kernel rows only
// Sections: (A) the attention op alone at the LLaDA prefill (32 heads x 128) and SigLIP (16 heads
// x 72) shapes; (B) one LLaDA-8B-width prefill layer at two prefix lengths; (C) one SigLIP
// so400m layer at 384 and 672; (D) a cached denoising step's attention (32 answer rows against a
// prefix cache of P rows plus the answer rows; fp32 compute over a bf16 or fp32 cache, bf16 over
// bf16). Every cell: median ms and the min-max spread; then the growth from the short to the long
// length next to the growth of the FLOP count.
//   bench_attention [--threads 2] [--reps 3] [--dtypes auto,fp32] [--prefixes 1350,2438]
//                   [--sections kernel,llada,siglip,step]
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench/attention/blocked_attention.h"
#include "bench/attention/fused_cpu_attention.h"
#include "bench/cli.h"
#include "bench/cpu_report.h"
#include "bench/real_widths.h"
#include "bench/samples.h"
#include "engine/attention/attention.h"
#include "engine/attention/chunked_attention.h"
#include "engine/attention/generic_attention.h"
#include "engine/llada/llada.h"
#include "engine/model/compute_dtype.h"
#include "engine/platform/process_setup.h"
#include "engine/vision/siglip.h"

using namespace shirg;
namespace att = shirg::attention;

namespace {

using bench::Samples;
using bench::time_ms;
using bench::uniform;

struct Candidate {
  std::string name;
  std::function<void()> run;
};

// Runs every candidate once per rep, the starting candidate rotating every rep, after one
// untimed warm-up of each if asked. Returns one Samples per candidate.
std::vector<Samples> interleave(int reps, const std::vector<Candidate>& cands, bool warmup) {
  if (warmup)
    for (const auto& c : cands) c.run();
  std::vector<Samples> out(cands.size());
  for (int r = 0; r < reps; ++r)
    for (size_t i = 0; i < cands.size(); ++i) {
      const size_t j = (i + static_cast<size_t>(r)) % cands.size();
      out[j].ms.push_back(time_ms(cands[j].run));
    }
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& w) {
  return std::find(v.begin(), v.end(), w) != v.end();
}

struct Row {
  std::string what;
  int64_t len;
  double gflop;
  std::vector<std::string> names;
  std::vector<Samples> samples;
};

void print_rows(const char* title, const std::vector<Row>& rows) {
  if (rows.empty()) return;
  const auto& names = rows[0].names;
  std::printf("\n%s\n| dtype, shape | length | GFLOP |", title);
  for (const auto& n : names) std::printf(" %s ms (median, min-max) |", n.c_str());
  for (size_t i = 1; i < names.size(); ++i)
    std::printf(" %s/%s |", names[i].c_str(), names[0].c_str());
  std::printf("\n|---|---|---|");
  for (size_t i = 0; i < 2 * names.size() - 1; ++i) std::printf("---|");
  std::printf("\n");
  for (const auto& r : rows) {
    std::printf("| %s | %lld | %.2f |", r.what.c_str(), static_cast<long long>(r.len), r.gflop);
    for (const auto& s : r.samples) std::printf(" %.1f (%.1f-%.1f) |", s.median(), s.lo(), s.hi());
    for (size_t i = 1; i < r.samples.size(); ++i)
      std::printf(" %.2f |", r.samples[i].median() / r.samples[0].median());
    std::printf("\n");
  }
  // Growth from the shortest to the longest length of each shape, against the FLOP growth.
  std::printf("\ngrowth short -> long: | dtype, shape | FLOP x |");
  for (const auto& n : names) std::printf(" %s time x |", n.c_str());
  std::printf("\n|---|---|");
  for (size_t i = 0; i < names.size(); ++i) std::printf("---|");
  std::printf("\n");
  for (size_t i = 0; i + 1 < rows.size(); ++i) {
    const Row &s = rows[i], &l = rows[i + 1];
    if (s.what != l.what) continue;
    std::printf("| %s %lld -> %lld | %.2f |", s.what.c_str(), static_cast<long long>(s.len),
                static_cast<long long>(l.len), l.gflop / s.gflop);
    for (size_t j = 0; j < s.samples.size(); ++j)
      std::printf(" %.2f |", l.samples[j].median() / s.samples[j].median());
    std::printf("\n");
  }
}

Row measure(std::string what, int64_t len, double gflop, int reps,
            const std::vector<Candidate>& cands, bool warmup) {
  std::fprintf(stderr, "%s %lld ...\n", what.c_str(), static_cast<long long>(len));
  Row r{std::move(what), len, gflop, {}, interleave(reps, cands, warmup)};
  for (const auto& c : cands) r.names.push_back(c.name);
  return r;
}

// The same LLaDA weights for the generic path: plain matrices (a packed one would still run
// oneDNN's GEMM), generic attention.
LladaW generic_copy(const LladaW& w) {
  LladaW g = w;
  g.kernels = Kernels::kGeneric;
  for (gemm::LinearWeight* l : g.matrices())
    if (l->is_packed()) *l = gemm::LinearWeight(l->to_plain());
  return g;
}

// LLaDA-8B and SigLIP so400m widths (bench/real_widths.h).
constexpr int64_t kD = bench::kLladaD, kHeads = bench::kLladaHeads, kVHeads = bench::kSiglipHeads;

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
  std::printf("bench_attention: %d threads, %d interleaved reps; generic = %s\n", threads, reps,
              att::generic_attention_uses_sdpa()
                  ? "scaled_dot_product_attention"
                  : "matmul-softmax-matmul (no SDPA in this LibTorch)");
  at::manual_seed(0);

  if (has(sections, "kernel")) {
    std::vector<Row> rows;
    for (auto dt : dts) {
      struct Shape {
        const char* name;
        int64_t heads, hd;
        std::vector<int64_t> lens;
      };
      for (const Shape& s : {Shape{"llada 32x128", kHeads, 128, prefixes},
                             Shape{"siglip 16x72", kVHeads, 72, {729, 2304}}}) {
        for (int64_t t : s.lens) {
          const at::Tensor q = uniform({s.heads, t, s.hd}, 1.0, dt);
          const std::vector<att::KvPart> kv{
              {uniform({s.heads, t, s.hd}, 1.0, dt), uniform({s.heads, t, s.hd}, 1.0, dt)}};
          const double scale = 1.0 / std::sqrt(static_cast<double>(s.hd));
          rows.push_back(
              measure(std::string(compute_dtype_name(dt)) + " " + s.name, t,
                      4.0 * t * t * s.heads * s.hd / 1e9, reps,
                      {{"auto", [&] { (void)att::attend(q, kv, {}, scale, Kernels::kAuto); }},
                       {"generic", [&] { (void)att::attend(q, kv, {}, scale, Kernels::kGeneric); }},
                       {"fused", [&] { (void)att::fused_cpu_attention(q, kv, {}, scale); }},
                       {"blocked", [&] { (void)att::blocked_attention(q, kv, {}, scale); }}},
                      /*warmup=*/true));
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
        const at::Tensor x = at::randn({1, n, bench::kSiglipD});
        rows.push_back(
            measure(std::string(compute_dtype_name(dt)) + " siglip layer", n,
                    bench::siglip_layer_flops(n) / 1e9, reps,
                    {{"auto", [&] { vision::siglip_layer(l, cfg, x, Kernels::kAuto); }},
                     {"generic", [&] { vision::siglip_layer(l, cfg, x, Kernels::kGeneric); }}},
                    true));
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
      const LladaW g2 = generic_copy(w2);
      LladaW w1 = w2;
      w1.blocks.resize(1);
      const auto cfg2 = bench::llada_config(2, 16), cfg1 = bench::llada_config(1, 16);
      for (int64_t p : prefixes) {
        const at::Tensor prefix = uniform({p, kD}, 1.0, dt);
        Samples kv_only;
        for (int r = 0; r < std::max(1, reps / 2); ++r)
          kv_only.ms.push_back(
              time_ms([&] { llada::prefill(w1, cfg1, prefix, kv::CacheDType::kBf16); }));
        // No warm-up at this size (minutes per run): the weights are already in memory.
        Row r =
            measure(std::string(compute_dtype_name(dt)) + " llada layer", p,
                    bench::llada_layer_flops(p, p) / 1e9, reps,
                    {{"auto", [&] { llada::prefill(w2, cfg2, prefix, kv::CacheDType::kBf16); }},
                     {"generic", [&] { llada::prefill(g2, cfg2, prefix, kv::CacheDType::kBf16); }}},
                    false);
        for (auto& s : r.samples)
          for (auto& ms : s.ms) ms -= kv_only.median();
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
        const at::Tensor q = uniform({kHeads, kAnswer, 128}, 1.0, c.q);
        const std::vector<att::KvPart> parts{
            {uniform({kHeads, p, 128}, 1.0, c.cache), uniform({kHeads, p, 128}, 1.0, c.cache)},
            {uniform({kHeads, kAnswer, 128}, 1.0, c.q), uniform({kHeads, kAnswer, 128}, 1.0, c.q)}};
        const double scale = 1.0 / std::sqrt(128.0);
        // Many short calls: 10 per sample, so that one sample is tens of ms.
        auto ten = [&](Kernels k) {
          return [&, k] {
            for (int i = 0; i < 10; ++i) (void)att::attend(q, parts, {}, scale, k);
          };
        };
        auto chunked = [&] {
          for (int i = 0; i < 10; ++i) (void)att::chunked_attention(q, parts, {}, scale);
        };
        Row r =
            measure(what, p, 4.0 * kHeads * kAnswer * (p + kAnswer) * 128 / 1e9, std::max(reps, 5),
                    {{"auto", ten(Kernels::kAuto)},
                     {"chunked", chunked},
                     {"generic", ten(Kernels::kGeneric)}},
                    true);
        for (auto& s : r.samples)
          for (auto& ms : s.ms) ms /= 10;
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
