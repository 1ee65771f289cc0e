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
      "  --dtype auto|bf16|fp32  compute dtype (default auto: bf16 only where the CPU has native "
      "bf16)\n"
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

}  // namespace

int main(int argc, char** argv) {
  shirg::prepare_process(argv);  // first: before any thread starts
  shirg::LoadOptions load;
  load.dtype = shirg::parse_dtype_flag("auto");
  shirg::GenerateRequest req;
  req.generation.block_length = -1;  // default: gen_length
  std::string image_path, dump_path;
  bool json_out = false, summary = false;
  shirg::kv::CacheDType cache_dtype = shirg::kv::CacheDType::kBf16;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "--help" || a == "-h") {
        usage();
        return 0;
      } else if (a == "--model-dir")
        load.model_dir = next();
      else if (a == "--adapter-dir")
        load.adapter_dirs.push_back(next());
      else if (a == "--dtype")
        load.dtype = shirg::parse_dtype_flag(next());
      else if (a == "--llm-weights")
        load.llm_weight_dtype = shirg::parse_llm_weights_flag(next());
      else if (a == "--gemm")
        load.gemm = shirg::gemm::parse_weight_layout(next());
      else if (a == "--cache-dtype") {
        const std::string v = next();
        if (v != "bf16" && v != "fp32")
          throw std::invalid_argument("--cache-dtype must be bf16 or fp32, got '" + v + "'");
        cache_dtype = v == "fp32" ? shirg::kv::CacheDType::kFp32 : shirg::kv::CacheDType::kBf16;
      } else if (a == "--threads")
        threads = std::stoi(next());
      else if (a == "--image")
        image_path = next();
      else if (a == "--question")
        req.question = next();
      else if (a == "--dump")
        dump_path = next();
      else if (a == "--json")
        json_out = true;
      else if (a == "--summary")
        summary = true;
      else if (!shirg::parse_request_flag(a, next, &req))
        throw std::invalid_argument("unknown argument " + a);
    }
    if (load.model_dir.empty() || image_path.empty()) {
      usage();
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  if (req.generation.block_length < 0) req.generation.block_length = req.generation.gen_length;

  try {
    const shirg::CpuThreadSetup cpu = shirg::configure_cpu_threads(std::max(1, threads));
    if (!cpu.warning.empty()) std::fprintf(stderr, "warning: %s\n", cpu.warning.c_str());
    auto model = shirg::load_model(load);
    if (summary) std::printf("%s", model->summary.to_table().c_str());
    shirg::Pipeline pipeline(model, shirg::RequestLimits{}, cache_dtype);
    req.image_bytes = read_file(image_path);
    req.request_id = "offline";
    if (shirg::Status s = pipeline.validate(req); !s.ok()) {
      std::fprintf(stderr, "%s: %s\n", shirg::status_code_name(s.code), s.message.c_str());
      return 3;
    }
    std::map<std::string, at::Tensor> dump;
    shirg::RunControl ctl;
    if (!dump_path.empty()) ctl.dump = &dump;
    shirg::GenerateResult r;
    shirg::Status s = pipeline.run(req, ctl, &r);
    if (!s.ok()) {
      std::fprintf(stderr, "%s: %s\n", shirg::status_code_name(s.code), s.message.c_str());
      return 3;
    }
    if (!dump_path.empty()) {
      shirg::st::SafetensorsWriter w;
      for (const auto& [name, t] : dump) {
        at::Tensor c = t.contiguous().cpu();
        w.add(name, shirg::scalar_type_to_st(c.scalar_type()), c.sizes().vec(), c.data_ptr(),
              static_cast<std::size_t>(c.numel()) * c.element_size());
      }
      w.write(dump_path);
    }
    const auto& t = r.timings;
    if (json_out) {
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
    } else {
      std::printf("answer: %s\n", r.answer.c_str());
      std::printf("mode %s | visual tokens %lld | prefix %lld | cache %.2f MiB | steps %lld\n",
                  shirg::selection_mode_name(req.selection.mode),
                  static_cast<long long>(r.selection.visual_tokens),
                  static_cast<long long>(r.prefix_tokens),
                  static_cast<double>(r.cache_bytes) / (1 << 20),
                  static_cast<long long>(r.steps_run));
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
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
