// bench_pipeline: the design's comparison (baseline-384 / full-672 / SHIRG) on one device. For one
// checkpoint, runs whole requests in the modes baseline-384, full-672 and shirg (64 + K) and
// prints, per mode: median latency per stage, total, visual/prefix tokens, prefix cache bytes and
// peak RSS during the request; then the SHIRG / full-672 ratio and the selection's share of the
// request.
//   bench_pipeline --model-dir DIR [--device auto|cpu|cuda|cuda:N] [--kernels auto|generic]
//                  [--dtype auto|bf16|fp32] [--llm-weights auto|bf16|fp32]
//                  [--threads N] [--reps N] [--warmup N] [--steps N] [--gen-length N]
//                  [--modes a,b,c] [--image FILE] [--concurrency 1,2,4,8]
//                  [--randomize-weights]
//                  [--shallow-model-dir DIR --layers-real L [--vision-layers-real V]]
// It also prints the load: seconds, resident memory after the load and its peak during it. On a
// GPU the peak column is the device's peak allocated memory during the request (weights
// included). --concurrency N,...: N SHIRG requests at once through the executor's batched step
// (prefix-first, max batch N): wall time, requests per second and the speed-up over one.
// --randomize-weights: every weight drawn uniform in [-1/sqrt(in), 1/sqrt(in)] on the device
// after loading (for a checkpoint written with zeros: shirg-make-checkpoint --zeros).
// --warmup 0 --reps 1 measures a full-depth checkpoint once per mode (bench/full_scale.sh).
// Real-dims checkpoints hold only a few layers (the full 8B model does not fit this machine's
// time budget). With --shallow-model-dir, the same modes also run on a second checkpoint that
// differs only in depth; each stage's per-layer cost is the difference between the two, its
// fixed cost (LM head, embeddings, decode, selection) the rest, and the real model's stage time
// is fixed + L x per-layer (LLaDA layers L, SigLIP layers V, default 26). Every measured stage
// keeps its runs: the tables give the total's min-max, and an extrapolated stage whose per-layer
// difference is not clearly above the spread of the two depths' runs is printed as UNSTABLE
// (re-run with more --reps; bench_stages re-measures such stages by itself).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/cpu_report.h"
#include "bench/gemm_peak.h"
#include "bench/samples.h"
#include "engine/model/model.h"
#include "engine/platform/device.h"
#include "engine/platform/device_memory.h"
#include "engine/platform/kernels.h"
#include "engine/platform/process_setup.h"
#include "engine/runtime/executor.h"
#include "engine/runtime/options_parse.h"
#include "engine/runtime/pipeline.h"
#include "engine/vision/image.h"

namespace {

// A /proc/self/status field in MiB (VmHWM: peak resident set since the last reset, VmRSS: now).
double status_mib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0)
      return std::stod(line.substr(std::string(field).size())) / 1024.0;
  return 0;
}
double peak_rss_mib() {
  return status_mib("VmHWM:");
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

struct Row {
  std::string mode;
  shirg::StageTimings t;                              // medians, ms
  std::map<std::string, shirg::bench::Samples> runs;  // every measured run per stage, ms
  int64_t visual = 0, prefix = 0, cache_bytes = 0;
  double peak_mib = 0;  // max over the runs (weights included)
};

struct Measured {
  std::vector<Row> rows;
  int64_t llm_layers = 0, vision_layers = 0;
};

struct BenchArgs {
  std::string device = "auto", kernels = "auto", dtype = "auto", llm_weights = "auto",
              gemm = "auto", modes = "baseline-384,full-672,shirg", concurrency;
  int reps = 3, warmup = 1;
  int64_t steps = 16, gen_length = 32;
  bool randomize = false;
};

// Every weight of the model drawn uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)] in place (norm
// weights 1, biases 0), on the model's device. The model is immutable to requests; the bench
// owns it and changes it before any request runs.
void randomize_weights(const shirg::Model& m) {
  auto lin = [](const at::Tensor& w) {
    if (w.defined())
      w.uniform_(-1.0 / std::sqrt(static_cast<double>(w.size(-1))),
                 1.0 / std::sqrt(static_cast<double>(w.size(-1))));
  };
  auto ones = [](const at::Tensor& t) {
    if (t.defined()) t.fill_(1.0);
  };
  auto zeros = [](const at::Tensor& t) {
    if (t.defined()) t.zero_();
  };
  for (const shirg::SiglipW* v : {&m.vision, &m.vision_base}) {
    lin(v->patch_weight.flatten(1));
    zeros(v->patch_bias);
    v->pos_embed.uniform_(-0.02, 0.02);
    for (const auto& l : v->layers) {
      for (const auto* n : {&l.ln1, &l.ln2}) {
        ones(n->weight);
        zeros(n->bias);
      }
      for (const auto* x : {&l.qkv, &l.out, &l.fc1, &l.fc2}) {
        lin(x->weight);
        zeros(x->bias);
      }
    }
  }
  for (const auto* x : {&m.projector.fc1, &m.projector.fc2}) {
    lin(x->weight);
    zeros(x->bias);
  }
  lin(m.llm.wte);
  ones(m.llm.ln_f);
  for (const auto& b : m.llm.blocks) {
    ones(b.attn_norm);
    ones(b.ff_norm);
  }
  for (const auto* l : m.llm.matrices()) {
    if (l->is_packed()) throw std::runtime_error("--randomize-weights needs plain matrices");
    lin(l->plain());
  }
}

// --concurrency: N SHIRG requests enqueued at once, batched by the executor.
void measure_concurrency(const std::shared_ptr<const shirg::Model>& model, const BenchArgs& a,
                         const shirg::GenerateRequest& req) {
  struct Done : shirg::RequestObserver {
    std::mutex mu;
    std::condition_variable cv;
    int left = 0;
    std::string error;
    void on_done(const shirg::Status& s, const shirg::GenerateResult&) override {
      std::lock_guard<std::mutex> l(mu);
      if (!s.ok()) error = s.message;
      --left;
      cv.notify_all();
    }
  };
  std::printf("Concurrent SHIRG requests (%lld steps each) through the batched step:\n",
              static_cast<long long>(a.steps));
  std::printf("%12s %12s %12s %12s %12s\n", "concurrency", "wall s", "min-max", "req/s",
              "x vs first");
  double first = 0;
  std::stringstream list(a.concurrency);
  for (std::string item; std::getline(list, item, ',');) {
    const int n = std::stoi(item);
    shirg::ExecutorConfig ec;
    ec.workers = 1;
    ec.max_batch = n;
    ec.schedule = shirg::StepSchedule::kPrefixFirst;
    ec.max_queue = static_cast<std::size_t>(n);
    shirg::Executor ex(model, ec);
    shirg::bench::Samples wall;
    for (int r = 0; r < a.warmup + a.reps; ++r) {
      auto done = std::make_shared<Done>();
      done->left = n;
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < n; ++i) {
        shirg::GenerateRequest q = req;
        q.generation.seed = static_cast<uint64_t>(i);
        uint64_t id = 0;
        if (shirg::Status s = ex.enqueue(q, done, &id); !s.ok())
          throw std::runtime_error("enqueue: " + s.message);
      }
      std::unique_lock<std::mutex> l(done->mu);
      done->cv.wait(l, [&] { return done->left == 0; });
      if (!done->error.empty()) throw std::runtime_error(done->error);
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (r >= a.warmup) wall.ms.push_back(ms);
    }
    const double rps = n / (wall.median() / 1000);
    if (first == 0) first = rps;
    std::printf("%12d %12.3f %5.3f-%-6.3f %12.2f %12.2f\n", n, wall.median() / 1000,
                wall.lo() / 1000, wall.hi() / 1000, rps, rps / first);
  }
  std::printf("\n");
}

// A 672x672 synthetic chart-like image (PNG).
std::string synthetic_image() {
  shirg::vision::RgbImage img;
  img.width = img.height = 672;
  img.rgb.resize(672 * 672 * 3);
  for (int64_t y = 0; y < 672; ++y)
    for (int64_t x = 0; x < 672; ++x)
      for (int c = 0; c < 3; ++c)
        img.rgb[(y * 672 + x) * 3 + c] =
            static_cast<uint8_t>(((x / 24 + y / 16) % 7) * 30 + c * 10);
  return shirg::vision::encode_png(img);
}

// Loads `dir`, runs every mode reps + 1 times (the first is a warm-up) and prints its table.
Measured measure(const std::string& dir, const BenchArgs& a, const std::string& image) {
  shirg::LoadOptions lo;
  lo.model_dir = dir;
  lo.device = shirg::resolve_device(a.device);
  lo.kernels = shirg::parse_kernels(a.kernels);
  lo.dtype = shirg::parse_dtype_flag(a.dtype, lo.device);
  lo.llm_weight_dtype = shirg::parse_llm_weights_flag(a.llm_weights);
  lo.gemm = shirg::gemm::parse_weight_layout(a.gemm);
  reset_peak_rss();
  const double rss_before = status_mib("VmRSS:");
  auto model = shirg::load_model(lo);
  if (a.randomize) randomize_weights(*model);
  const bool gpu = !model->device.is_cpu();
  std::printf("model %s on %s (%s compute, LLaDA weights %s, kernels %s)\n%s\n", dir.c_str(),
              model->device.str().c_str(), model->summary.dtype.c_str(),
              model->summary.llm_weight_dtype.c_str(), shirg::kernels_name(model->kernels),
              model->summary.to_table().c_str());
  if (gpu) {
    const shirg::DeviceMemory dm = shirg::read_device_memory(model->device);
    std::printf(
        "device memory after the load: %.0f MiB allocated, %.0f MiB reserved, %.0f of "
        "%.0f MiB free\n",
        static_cast<double>(dm.allocated) / (1 << 20), static_cast<double>(dm.reserved) / (1 << 20),
        static_cast<double>(dm.free) / (1 << 20), static_cast<double>(dm.total) / (1 << 20));
  }
  std::printf(
      "load: %.1f s, checkpoint %.2f GiB, RSS %.0f -> %.0f MiB (peak during the load %.0f MiB)\n",
      model->summary.load_seconds, static_cast<double>(model->summary.checkpoint_bytes) / (1 << 30),
      rss_before, status_mib("VmRSS:"), peak_rss_mib());
  Measured m;
  m.llm_layers = model->config.llm.n_layers;
  m.vision_layers = model->config.vision.layers_used;

  shirg::Pipeline pipeline(model, shirg::RequestLimits{});
  std::stringstream ms(a.modes);
  std::string mode_name;
  while (std::getline(ms, mode_name, ',')) {
    auto mode = shirg::parse_selection_mode(mode_name);
    if (!mode) throw std::invalid_argument("unknown mode " + mode_name);
    shirg::GenerateRequest req;
    req.image_bytes = image;
    req.question = "What is the value of the tallest bar?";
    req.selection.mode = *mode;
    req.generation.gen_length = a.gen_length;
    req.generation.block_length = a.gen_length;
    req.generation.steps = a.steps;
    if (shirg::Status s = pipeline.validate(req); !s.ok()) throw std::runtime_error(s.message);
    Row row;
    row.mode = mode_name;
    std::map<std::string, shirg::bench::Samples>& t = row.runs;
    for (int r = 0; r < a.warmup + a.reps; ++r) {
      reset_peak_rss();
      shirg::reset_peak_device_memory(model->device);
      shirg::GenerateResult out;
      if (shirg::Status s = pipeline.run(req, {}, &out); !s.ok())
        throw std::runtime_error(mode_name + ": " + s.message);
      const double peak =
          gpu ? static_cast<double>(shirg::read_device_memory(model->device).peak_allocated) /
                    (1 << 20)
              : peak_rss_mib();
      row.peak_mib = std::max(row.peak_mib, peak);
      row.visual = out.selection.visual_tokens;
      row.prefix = out.prefix_tokens;
      row.cache_bytes = out.cache_bytes;
      if (r < a.warmup) continue;
      const auto& o = out.timings;
      t["decode"].ms.push_back(o.decode_ms);
      t["vision"].ms.push_back(o.vision_ms);
      t["selection"].ms.push_back(o.selection_ms);
      t["projector"].ms.push_back(o.projector_ms);
      t["prefill"].ms.push_back(o.prefill_ms);
      t["steps"].ms.push_back(o.steps_ms);
      t["total"].ms.push_back(o.total_ms);
    }
    row.t.decode_ms = t["decode"].median();
    row.t.vision_ms = t["vision"].median();
    row.t.selection_ms = t["selection"].median();
    row.t.projector_ms = t["projector"].median();
    row.t.prefill_ms = t["prefill"].median();
    row.t.steps_ms = t["steps"].median();
    row.t.total_ms = t["total"].median();
    m.rows.push_back(row);
  }

  std::printf(
      "%d measured runs per mode (median; %d warm-up), gen_length %lld, %lld steps, %lld LLaDA / "
      "%lld SigLIP layers\n",
      a.reps, a.warmup, static_cast<long long>(a.gen_length), static_cast<long long>(a.steps),
      static_cast<long long>(m.llm_layers), static_cast<long long>(m.vision_layers));
  std::printf("%-14s %7s %7s %9s %9s %9s %9s %9s %10s %10s %19s %11s %10s\n", "mode", "visual",
              "prefix", "decode", "vision", "select", "project", "prefill", "steps", "total ms",
              "total min-max", "cache MiB", "peak MiB");
  for (const auto& r : m.rows) {
    const auto& total = r.runs.at("total");
    std::printf(
        "%-14s %7lld %7lld %9.1f %9.1f %9.2f %9.1f %9.1f %10.1f %10.1f %9.1f-%-9.1f %11.2f "
        "%10.0f\n",
        r.mode.c_str(), static_cast<long long>(r.visual), static_cast<long long>(r.prefix),
        r.t.decode_ms, r.t.vision_ms, r.t.selection_ms, r.t.projector_ms, r.t.prefill_ms,
        r.t.steps_ms, r.t.total_ms, total.lo(), total.hi(),
        static_cast<double>(r.cache_bytes) / (1 << 20), r.peak_mib);
  }
  std::printf(
      "(baseline-384 and full-672 have no selection; their projector runs inside the "
      "vision stage)\n");
  const Row* full = nullptr;
  const Row* sh = nullptr;
  for (const auto& r : m.rows) {
    if (r.mode == "full-672") full = &r;
    if (r.mode == "shirg") sh = &r;
  }
  if (sh)
    std::printf("SHIRG selection share of the request: %.2f%%\n",
                100.0 * sh->t.selection_ms / sh->t.total_ms);
  if (full && sh)
    std::printf("SHIRG / full-672 latency: %.3f\n", sh->t.total_ms / full->t.total_ms);
  std::printf("(peak MiB: %s)\n\n",
              gpu ? "the device's peak allocated memory during the request, weights included"
                  : "the process's peak resident memory, weights included");
  if (!a.concurrency.empty()) {
    shirg::GenerateRequest req;
    req.image_bytes = image;
    req.question = "What is the value of the tallest bar?";
    req.generation.gen_length = a.gen_length;
    req.generation.block_length = a.gen_length;
    req.generation.steps = a.steps;
    measure_concurrency(model, a, req);
  }
  return m;
}

// fixed + layers x per-layer, from the same quantity measured at two depths.
double at_depth(double deep, double shallow, int64_t deep_layers, int64_t shallow_layers,
                int64_t layers) {
  const double per_layer = (deep - shallow) / static_cast<double>(deep_layers - shallow_layers);
  const double fixed = deep - per_layer * static_cast<double>(deep_layers);
  return fixed + per_layer * static_cast<double>(layers);
}

void print_extrapolation(const Measured& deep, const Measured& shallow, int64_t layers_real,
                         int64_t vision_layers_real, int64_t steps) {
  if (deep.llm_layers == shallow.llm_layers || deep.vision_layers == shallow.vision_layers) {
    std::printf("cannot extrapolate: the two checkpoints have the same depth\n");
    return;
  }
  std::printf(
      "Real depth (%lld LLaDA, %lld SigLIP layers) from the two depths: stage = fixed + "
      "layers x per-layer\n",
      static_cast<long long>(layers_real), static_cast<long long>(vision_layers_real));
  std::printf("%-14s %10s %10s %10s %10s %10s %11s %11s\n", "mode", "vision s", "prefill s",
              "steps s", "step s", "total s", "cache GiB", "peak GiB");
  for (const auto& d : deep.rows) {
    const Row* s = nullptr;
    for (const auto& r : shallow.rows)
      if (r.mode == d.mode) s = &r;
    if (!s) continue;
    auto llm = [&](double dv, double sv) {
      return at_depth(dv, sv, deep.llm_layers, shallow.llm_layers, layers_real);
    };
    // A per-layer difference smaller than the runs' own spread is noise, not a layer's cost.
    std::string unstable;
    for (const char* stage : {"vision", "prefill", "steps"}) {
      const auto &a = d.runs.at(stage), &b = s->runs.at(stage);
      const double diff = a.median() - b.median();
      const double noise = 0.5 * ((a.hi() - a.lo()) + (b.hi() - b.lo()));
      if (!(diff > 0) || noise > 0.25 * diff) unstable += std::string(" ") + stage;
    }
    const double vision = at_depth(d.t.vision_ms, s->t.vision_ms, deep.vision_layers,
                                   shallow.vision_layers, vision_layers_real) /
                          1000;
    const double prefill = llm(d.t.prefill_ms, s->t.prefill_ms) / 1000;
    const double steps_s = llm(d.t.steps_ms, s->t.steps_ms) / 1000;
    const double total =
        (d.t.decode_ms + d.t.selection_ms + d.t.projector_ms) / 1000 + vision + prefill + steps_s;
    const double cache =
        llm(static_cast<double>(d.cache_bytes), static_cast<double>(s->cache_bytes));
    // Peak memory: both stacks grow per layer; the LLaDA layers dominate (SigLIP layer ~17 MB).
    const double peak = llm(d.peak_mib, s->peak_mib) / 1024;
    std::printf(
        "%-14s %10.1f %10.1f %10.1f %10.2f %10.1f %11.2f %11.1f  %s\n", d.mode.c_str(), vision,
        prefill, steps_s, steps_s / static_cast<double>(std::max<int64_t>(1, steps)), total,
        cache / (1 << 30), peak,
        unstable.empty() ? "ok" : ("UNSTABLE:" + unstable + " (re-run with more --reps)").c_str());
  }
  std::printf(
      "(step s = one denoising step; peak GiB holds the weights in the compute dtype; UNSTABLE = "
      "the stage's per-layer difference is within its runs' spread: those numbers are noise)\n");
}

}  // namespace

int main(int argc, char** argv) {
  shirg::prepare_process(argv);  // first: before any thread starts
  std::string model_dir, shallow_dir, image_path;
  BenchArgs a;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  int64_t layers_real = 0, vision_layers_real = 26;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--model-dir")
      model_dir = next();
    else if (arg == "--shallow-model-dir")
      shallow_dir = next();
    else if (arg == "--image")
      image_path = next();
    else if (arg == "--device")
      a.device = next();
    else if (arg == "--kernels")
      a.kernels = next();
    else if (arg == "--concurrency")
      a.concurrency = next();
    else if (arg == "--randomize-weights")
      a.randomize = true;
    else if (arg == "--dtype")
      a.dtype = next();
    else if (arg == "--llm-weights")
      a.llm_weights = next();
    else if (arg == "--gemm")
      a.gemm = next();
    else if (arg == "--warmup")
      a.warmup = std::stoi(next());
    else if (arg == "--threads")
      threads = std::stoi(next());
    else if (arg == "--reps")
      a.reps = std::stoi(next());
    else if (arg == "--steps")
      a.steps = std::stoll(next());
    else if (arg == "--gen-length")
      a.gen_length = std::stoll(next());
    else if (arg == "--modes")
      a.modes = next();
    else if (arg == "--layers-real")
      layers_real = std::stoll(next());
    else if (arg == "--vision-layers-real")
      vision_layers_real = std::stoll(next());
    else {
      std::fprintf(stderr,
                   "usage: bench_pipeline --model-dir DIR [--device auto|cpu|cuda|cuda:N] "
                   "[--kernels auto|generic] [--concurrency 1,2,4,8] [--randomize-weights] "
                   "[--dtype auto|bf16|fp32] "
                   "[--llm-weights auto|bf16|fp32] [--gemm auto|aten|packed] [--threads N] [--reps "
                   "N] [--warmup N] [--steps "
                   "N] [--gen-length N] [--modes a,b] [--image FILE] "
                   "[--shallow-model-dir DIR --layers-real L [--vision-layers-real V]]\n");
      return 2;
    }
  }
  if (a.reps < 1 || a.warmup < 0) {
    std::fprintf(stderr, "--reps must be >= 1 and --warmup >= 0\n");
    return 2;
  }
  if (model_dir.empty() || (layers_real > 0) != !shallow_dir.empty()) {
    std::fprintf(stderr,
                 "--model-dir is required; --layers-real and --shallow-model-dir go together\n");
    return 2;
  }
  try {
    shirg::bench::setup_and_report_cpu(threads);
    const at::Device device = shirg::resolve_device(a.device);
    if (device.is_cpu()) {
      const at::ScalarType dt = shirg::parse_dtype_flag(a.dtype, device);
      std::printf("GEMM peak (%s, 1024^3): %.1f GFLOP/s\n\n", c10::toString(dt),
                  shirg::bench::measure_gemm_gflops(dt, 1024, 1024, 1024));
    }
    const std::string image = image_path.empty() ? synthetic_image() : read_file(image_path);
    const Measured deep = measure(model_dir, a, image);
    if (!shallow_dir.empty()) {
      const Measured shallow = measure(shallow_dir, a, image);
      print_extrapolation(deep, shallow, layers_real, vision_layers_real, a.steps);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
