// shirg-offline: one image + question -> answer with per-stage timings, no server.
// Can dump intermediate tensors (visual tokens, selection, prefix, per-step logits and committed
// tokens) to a safetensors file for comparison with a Python reference.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "engine/model/model.h"
#include "engine/platform/cpu_threads.h"
#include "engine/platform/device.h"
#include "engine/platform/kernels.h"
#include "engine/platform/process_setup.h"
#include "engine/runtime/options_parse.h"
#include "engine/runtime/pipeline.h"
#include "engine/safetensors/safetensors_writer.h"
#include "engine/weights/weight_binder.h"

namespace {

void usage() {
  std::printf(
      "usage: shirg-offline --model-dir DIR --image FILE --question TEXT [options]\n"
      "  --adapter-dir DIR   PEFT LoRA adapter merged at load (repeatable: applied in order)\n"
      "  --device auto|cpu|cuda|cuda:N  where the model runs (default auto: the first CUDA\n"
      "                      device LibTorch sees, else the CPU)\n"
      "  --kernels auto|generic  auto: CPU-specialised kernels on the CPU; generic: the path\n"
      "                      a CUDA device runs, on any device\n"
      "  --dtype auto|bf16|fp32  compute dtype (default auto: bf16 on a GPU or where the CPU has\n"
      "                      native bf16, else fp32)\n"
      "  --llm-weights auto|bf16|fp32  LLaDA matrix storage under fp32 compute (auto: fp32 if the\n"
      "                      model fits in memory, else bf16 upcast per use)\n"
      "  --gemm auto|aten|packed  LLaDA matrices packed once for oneDNN (auto: where it has a\n"
      "                      blocked layout for this CPU) or LibTorch's linear (aten)\n"
      "  --cache-dtype bf16|fp32  prefix KV cache storage (default bf16)\n"
      "  --threads N         LibTorch threads (default: all cores)\n"
      "  --mode M            baseline-384 | lavida-384 | lavida-hd | full-672 | shirg (default) | "
      "no-scaffold "
      "|\n"
      "                      no-coords | similarity-only | no-merge | random-k\n"
      "  --k N               hi-detail tokens kept by SHIRG (default 1152)\n"
      "  --adaptive-k        adaptive K within [--k-min, --k-max]\n"
      "  --query-aware       question-aware SHIRG similarity\n"
      "  --gen-length N      answer tokens (default 32)\n"
      "  --block-length N    (default = gen-length)\n"
      "  --steps N           total denoising steps (default 16)\n"
      "  --step-ratio R      int(block_length * R) steps per block (LaViDa's control)\n"
      "  --steps-per-block N N steps in every block\n"
      "  --temperature T     (default 0 = greedy)\n"
      "  --remasking R       low_confidence | random | entropy | margin\n"
      "  --schedule S        uniform | shift   (--shift s, default 0.33)\n"
      "  --seed N            per-request seed (default 0)\n"
      "  --dump FILE         write intermediate tensors to FILE (safetensors)\n"
      "  --json              print the result as JSON\n"
      "  --summary           print the model load summary\n");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Everything the command line decides.
struct Args {
  shirg::LoadOptions load;
  std::string device = "auto", dtype = "auto";
  shirg::GenerateRequest req;
  std::string image_path, dump_path;
  bool json_out = false, summary = false, help = false;
  shirg::kv::CacheDType cache_dtype = shirg::kv::CacheDType::kBf16;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
};

// Throws std::invalid_argument for a bad flag or value.
Args parse_args(int argc, char** argv) {
  Args a;
  a.req.generation.block_length = -1;  // default: gen_length
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(f + " needs a value");
      return argv[++i];
    };
    if (f == "--help" || f == "-h")
      a.help = true;
    else if (f == "--model-dir")
      a.load.model_dir = next();
    else if (f == "--adapter-dir")
      a.load.adapter_dirs.push_back(next());
    else if (f == "--device")
      a.device = next();
    else if (f == "--kernels")
      a.load.kernels = shirg::parse_kernels(next());
    else if (f == "--dtype")
      a.dtype = next();
    else if (f == "--llm-weights")
      a.load.llm_weight_dtype = shirg::parse_llm_weights_flag(next());
    else if (f == "--gemm")
      a.load.gemm = shirg::gemm::parse_weight_layout(next());
    else if (f == "--cache-dtype") {
      const std::string v = next();
      const auto d = shirg::kv::parse_cache_dtype(v);
      if (!d) throw std::invalid_argument("--cache-dtype must be bf16 or fp32, got '" + v + "'");
      a.cache_dtype = *d;
    } else if (f == "--threads")
      a.threads = std::stoi(next());
    else if (f == "--image")
      a.image_path = next();
    else if (f == "--question")
      a.req.question = next();
    else if (f == "--dump")
      a.dump_path = next();
    else if (f == "--json")
      a.json_out = true;
    else if (f == "--summary")
      a.summary = true;
    else if (!shirg::parse_request_flag(f, next, &a.req))
      throw std::invalid_argument("unknown argument " + f);
  }
  if (a.req.generation.block_length < 0)
    a.req.generation.block_length = a.req.generation.gen_length;
  return a;
}

void write_dump(const std::map<std::string, at::Tensor>& dump, const std::string& path) {
  shirg::st::SafetensorsWriter w;
  for (const auto& [name, t] : dump) {
    at::Tensor c = t.contiguous().cpu();
    w.add(name, shirg::scalar_type_to_st(c.scalar_type()), c.sizes().vec(), c.data_ptr(),
          static_cast<std::size_t>(c.numel()) * c.element_size());
  }
  w.write(path);
}

void print_json(const shirg::GenerateResult& r) {
  const auto& t = r.timings;
  nlohmann::ordered_json j;
  j["answer"] = r.answer;
  j["answer_ids"] = r.answer_ids;
  j["stop_reason"] = r.stop_reason == shirg::StopReason::kStopToken ? "stop_token" : "length";
  j["prefix_tokens"] = r.prefix_tokens;
  j["cache_bytes"] = r.cache_bytes;
  j["steps"] = r.steps_run;
  j["selection"] = {{"scaffold_tokens", r.selection.scaffold_tokens},
                    {"hi_detail_tokens", r.selection.hi_detail_tokens},
                    {"merged_groups", r.selection.merged_groups},
                    {"newline_tokens", r.selection.newline_tokens},
                    {"visual_tokens", r.selection.visual_tokens},
                    {"candidate_tokens", r.selection.candidate_tokens}};
  j["timings_ms"] = {{"decode", t.decode_ms},       {"vision", t.vision_ms},
                     {"selection", t.selection_ms}, {"projector", t.projector_ms},
                     {"prefill", t.prefill_ms},     {"steps", t.steps_ms},
                     {"total", t.total_ms}};
  std::printf("%s\n", j.dump(2).c_str());
}

void print_text(const shirg::GenerateRequest& req, const shirg::GenerateResult& r) {
  const auto& t = r.timings;
  std::printf("answer: %s\n", r.answer.c_str());
  std::printf("mode %s | visual tokens %lld | prefix %lld | cache %.2f MiB | steps %lld\n",
              shirg::selection_mode_name(req.selection.mode),
              static_cast<long long>(r.selection.visual_tokens),
              static_cast<long long>(r.prefix_tokens),
              static_cast<double>(r.cache_bytes) / (1 << 20), static_cast<long long>(r.steps_run));
  std::printf("%-10s %10s\n", "stage", "ms");
  for (auto [name, v] : {std::pair<const char*, double>{"decode", t.decode_ms},
                         {"vision", t.vision_ms},
                         {"selection", t.selection_ms},
                         {"projector", t.projector_ms},
                         {"prefill", t.prefill_ms},
                         {"steps", t.steps_ms},
                         {"total", t.total_ms}})
    std::printf("%-10s %10.1f\n", name, v);
}

// Loads the model, runs the request, prints the result. Returns the exit code.
int run(Args a) {
  const shirg::CpuThreadSetup cpu = shirg::configure_cpu_threads(std::max(1, a.threads));
  if (!cpu.warning.empty()) std::fprintf(stderr, "warning: %s\n", cpu.warning.c_str());
  auto model = shirg::load_model(a.load);
  if (a.summary) std::printf("%s", model->summary.to_table().c_str());
  shirg::Pipeline pipeline(model, shirg::RequestLimits{}, a.cache_dtype);
  a.req.image_bytes = read_file(a.image_path);
  a.req.request_id = "offline";
  if (shirg::Status s = pipeline.validate(a.req); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", shirg::status_code_name(s.code), s.message.c_str());
    return 3;
  }
  std::map<std::string, at::Tensor> dump;
  shirg::RunControl ctl;
  if (!a.dump_path.empty()) ctl.dump = &dump;
  shirg::GenerateResult r;
  if (shirg::Status s = pipeline.run(a.req, ctl, &r); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", shirg::status_code_name(s.code), s.message.c_str());
    return 3;
  }
  if (!a.dump_path.empty()) write_dump(dump, a.dump_path);
  a.json_out ? print_json(r) : print_text(a.req, r);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  shirg::prepare_process(argv);  // first: before any thread starts
  Args args;
  try {
    args = parse_args(argc, argv);
    if (args.help) {
      usage();
      return 0;
    }
    if (args.load.model_dir.empty() || args.image_path.empty()) {
      usage();
      return 2;
    }
    args.load.device = shirg::resolve_device(args.device);
    args.load.dtype = shirg::parse_dtype_flag(args.dtype, args.load.device);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  try {
    return run(std::move(args));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
