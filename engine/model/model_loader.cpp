// load_model(): config + tokenizer + every tensor by its real name into the weight structs.
#include <ATen/ATen.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>

#include "engine/llada/llada.h"
#include "engine/model/compute_dtype.h"
#include "engine/model/model.h"
#include "engine/model/special_ids.h"
#include "engine/platform/device_memory.h"
#include "engine/platform/memory.h"
#include "engine/safetensors/checkpoint.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/weights/lora_adapter.h"
#include "engine/weights/weight_binder.h"

namespace shirg {
namespace fs = std::filesystem;
namespace {

constexpr int64_t kCoordFeatureDim = 128;  // SHIRG's 2D rotary coordinate feature width

int64_t count_vision_layers(const st::Checkpoint& ckpt) {
  int64_t n = 0;
  while (ckpt.find(std::string(kVisionPrefix) + "encoder.layers." + std::to_string(n) +
                   ".layer_norm1.weight"))
    ++n;
  return n;
}

LinearW take_linear(WeightBinder& b, const std::string& name, int64_t out, int64_t in, bool bias) {
  LinearW l;
  l.weight = b.take(name + ".weight", {out, in});
  if (bias) l.bias = b.take_fp32(name + ".bias", {out});
  return l;
}

LayerNormW take_norm(WeightBinder& b, const std::string& name, int64_t d) {
  return {b.take_fp32(name + ".weight", {d}), b.take_fp32(name + ".bias", {d})};
}

// The SigLIP tower with the adapter merged, and in *base the same tower without it (LaViDa's own
// modes run on that). The two share every tensor the adapter did not change.
SiglipW bind_vision(WeightBinder& b, const VisionConfig& v, SiglipW* base) {
  const std::string p = kVisionPrefix;
  const int64_t d = v.hidden_size, i = v.intermediate_size, g = v.grid();
  SiglipW w;
  const std::string patch = p + "embeddings.patch_embedding.weight";
  w.patch_weight = b.take(patch, {d, 3, v.patch_size, v.patch_size});
  w.patch_bias = b.take_fp32(p + "embeddings.patch_embedding.bias", {d});
  w.pos_embed = b.take_fp32(p + "embeddings.position_embedding.weight", {g * g, d});
  *base = w;
  base->patch_weight = b.base_of(patch, w.patch_weight);
  base->layers.clear();
  for (int64_t l = 0; l < v.layers_used; ++l) {
    const std::string lp = p + "encoder.layers." + std::to_string(l) + ".";
    SiglipLayerW layer;
    layer.ln1 = take_norm(b, lp + "layer_norm1", d);
    LinearW q = take_linear(b, lp + "self_attn.q_proj", d, d, true);
    LinearW k = take_linear(b, lp + "self_attn.k_proj", d, d, true);
    LinearW vv = take_linear(b, lp + "self_attn.v_proj", d, d, true);
    layer.qkv.weight = at::cat({q.weight, k.weight, vv.weight}, 0).contiguous();
    layer.qkv.bias = at::cat({q.bias, k.bias, vv.bias}, 0).contiguous();
    layer.out = take_linear(b, lp + "self_attn.out_proj", d, d, true);
    layer.ln2 = take_norm(b, lp + "layer_norm2", d);
    layer.fc1 = take_linear(b, lp + "mlp.fc1", i, d, true);
    layer.fc2 = take_linear(b, lp + "mlp.fc2", d, i, true);

    SiglipLayerW bl = layer;
    const at::Tensor bq = b.base_of(lp + "self_attn.q_proj.weight", q.weight);
    const at::Tensor bk = b.base_of(lp + "self_attn.k_proj.weight", k.weight);
    const at::Tensor bv = b.base_of(lp + "self_attn.v_proj.weight", vv.weight);
    if (!bq.is_same(q.weight) || !bk.is_same(k.weight) || !bv.is_same(vv.weight))
      bl.qkv.weight = at::cat({bq, bk, bv}, 0).contiguous();
    bl.out.weight = b.base_of(lp + "self_attn.out_proj.weight", layer.out.weight);
    bl.fc1.weight = b.base_of(lp + "mlp.fc1.weight", layer.fc1.weight);
    bl.fc2.weight = b.base_of(lp + "mlp.fc2.weight", layer.fc2.weight);
    base->layers.push_back(std::move(bl));
    w.layers.push_back(std::move(layer));
  }
  // Present in real checkpoints, deliberately unused (LaViDa applies neither).
  b.ignore_prefix(p + "post_layernorm.");
  b.ignore_prefix(p + "head.");
  // A full 27-layer tower: the last layer is what select_layer -2 skips.
  b.ignore_prefix(p + "encoder.layers." + std::to_string(v.layers_used) + ".");
  return w;
}

// The matrices in `storage` (the compute dtype, or bf16 under fp32 compute); norms in fp32.
LladaW bind_llm(WeightBinder& b, const LladaConfig& c, at::ScalarType storage) {
  const std::string p = kLlmPrefix;
  const int64_t d = c.d_model, h = c.mlp_hidden_size, e = c.embedding_size;
  LladaW w;
  w.wte = b.take_as(p + "wte.weight", {e, d}, storage);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string bp = p + "blocks." + std::to_string(l) + ".";
    LladaBlockW blk;
    blk.attn_norm = b.take_fp32(bp + "attn_norm.weight", {d});
    at::Tensor q = b.take_as(bp + "q_proj.weight", {d, d}, storage);
    at::Tensor k = b.take_as(bp + "k_proj.weight", {d, d}, storage);
    at::Tensor v = b.take_as(bp + "v_proj.weight", {d, d}, storage);
    blk.wqkv = at::cat({q, k, v}, 0).contiguous();
    blk.wo = b.take_as(bp + "attn_out.weight", {d, d}, storage);
    blk.ff_norm = b.take_fp32(bp + "ff_norm.weight", {d});
    at::Tensor gate = b.take_as(bp + "ff_proj.weight", {h, d}, storage);
    at::Tensor up = b.take_as(bp + "up_proj.weight", {h, d}, storage);
    blk.w_gate_up = at::cat({gate, up}, 0).contiguous();
    blk.w_down = b.take_as(bp + "ff_out.weight", {d, h}, storage);
    w.blocks.push_back(std::move(blk));
  }
  w.ln_f = b.take_fp32(p + "ln_f.weight", {d});
  w.lm_head = b.take_as(p + "ff_out.weight", {e, d}, storage);
  return w;
}

int64_t numel_of(std::initializer_list<at::Tensor> ts) {
  int64_t n = 0;
  for (const auto& t : ts)
    if (t.defined()) n += t.numel();
  return n;
}
int64_t bytes_of(std::initializer_list<at::Tensor> ts) {
  int64_t n = 0;
  for (const auto& t : ts)
    if (t.defined()) n += t.numel() * static_cast<int64_t>(t.element_size());
  return n;
}

void summarise(Model& m) {
  auto add = [&](const char* name, std::vector<at::Tensor> ts) {
    ComponentSummary c{name, 0, 0};
    for (const auto& t : ts)
      if (t.defined()) {
        c.parameters += t.numel();
        c.bytes += t.numel() * static_cast<int64_t>(t.element_size());
      }
    m.summary.components.push_back(c);
  };
  std::vector<at::Tensor> vis = {m.vision.patch_weight, m.vision.patch_bias, m.vision.pos_embed};
  for (const auto& l : m.vision.layers)
    for (const auto& t :
         {l.ln1.weight, l.ln1.bias, l.qkv.weight, l.qkv.bias, l.out.weight, l.out.bias,
          l.ln2.weight, l.ln2.bias, l.fc1.weight, l.fc1.bias, l.fc2.weight, l.fc2.bias})
      vis.push_back(t);
  add("vision_tower", vis);
  add("mm_projector", {m.projector.fc1.weight, m.projector.fc1.bias, m.projector.fc2.weight,
                       m.projector.fc2.bias, m.image_newline});
  add("coord_rotary", {m.coord.weight});
  // Unmerged copies of adapted SigLIP / projector matrices (LaViDa's own modes run on them).
  std::vector<at::Tensor> extra;
  const auto if_distinct = [&](const at::Tensor& base, const at::Tensor& merged) {
    if (base.defined() && !base.is_same(merged)) extra.push_back(base);
  };
  if_distinct(m.vision_base.patch_weight, m.vision.patch_weight);
  for (std::size_t i = 0; i < m.vision.layers.size(); ++i) {
    const auto &bl = m.vision_base.layers[i], &l = m.vision.layers[i];
    if_distinct(bl.qkv.weight, l.qkv.weight);
    if_distinct(bl.out.weight, l.out.weight);
    if_distinct(bl.fc1.weight, l.fc1.weight);
    if_distinct(bl.fc2.weight, l.fc2.weight);
  }
  if_distinct(m.projector_base.fc1.weight, m.projector.fc1.weight);
  if_distinct(m.projector_base.fc2.weight, m.projector.fc2.weight);
  for (const auto& t : extra)
    m.summary.base_copy_bytes += t.numel() * static_cast<int64_t>(t.element_size());
  std::vector<at::Tensor> llm = {m.llm.wte, m.llm.ln_f};
  for (const auto& b : m.llm.blocks) {
    llm.push_back(b.attn_norm);
    llm.push_back(b.ff_norm);
  }
  add("llada", llm);
  for (const auto* l : std::as_const(m.llm).matrices()) {
    m.summary.components.back().parameters += l->numel();
    m.summary.components.back().bytes += l->nbytes();
  }
  (void)numel_of;
  (void)bytes_of;
}

}  // namespace

int64_t load_transient_elements(const LladaConfig& c, bool packs) {
  const int64_t d = c.d_model, h = c.mlp_hidden_size, e = c.embedding_size;
  const int64_t fused = std::max(3 * d * d, 2 * h * d);  // q|k|v, gate|up
  return packs ? std::max(fused, e * d) : fused;         // ff_out [d, h] < gate|up
}

namespace {

// The storage dtype of the LLaDA matrices (LoadOptions::llm_weight_dtype), refusing a CPU load
// whose weights would not fit the memory budget in that storage. The budget covers the weights
// plus the load's largest transient copy (load_transient_elements: a matrix being fused or
// packed exists twice for a moment).
at::ScalarType choose_llm_weight_dtype(const st::Checkpoint& ckpt, const LladaConfig& cfg,
                                       const LoadOptions& opts) {
  const bool fp32 = opts.dtype == at::kFloat;
  const at::ScalarType asked = opts.llm_weight_dtype;
  if (asked != at::ScalarType::Undefined && asked != at::kFloat && asked != at::kBFloat16)
    throw ConfigError("LLaDA weight storage must be bf16 or fp32");
  at::ScalarType chosen = fp32 ? asked : at::kBFloat16;
  if (!fp32 && asked == at::kFloat)
    throw ConfigError("fp32 LLaDA weights need fp32 compute (--dtype fp32)");
  std::optional<int64_t> budget;
  if (opts.memory_budget_bytes > 0) {
    budget = opts.memory_budget_bytes;
  } else if (opts.memory_budget_bytes < 0) {
    const int64_t free = read_device_memory(opts.device).free;  // -1: unknown, not checked
    if (free >= 0) budget = free;
  }
  int64_t llm = 0, other = 0;  // elements
  for (const auto& name : ckpt.names())
    (name.rfind(kLlmPrefix, 0) == 0 ? llm : other) += ckpt.find(name)->numel();
  // Bytes of the weights for a compute dtype and LLaDA storage dtype, plus the transient.
  const auto need_for = [&](at::ScalarType compute, at::ScalarType storage) {
    // Packing (LoadOptions::gemm) happens only where storage == compute dtype on the CPU.
    const bool packs = opts.gemm != gemm::WeightLayout::kPlain && gemm::packing_available() &&
                       opts.device.is_cpu() && opts.kernels == Kernels::kAuto && storage == compute;
    const auto storage_size = static_cast<int64_t>(c10::elementSize(storage));
    return other * static_cast<int64_t>(c10::elementSize(compute)) + llm * storage_size +
           load_transient_elements(cfg, packs) * storage_size;
  };
  const auto need = [&](at::ScalarType storage) { return need_for(opts.dtype, storage); };
  if (chosen == at::ScalarType::Undefined)  // auto: fp32 when it fits, else bf16
    chosen = !budget || need(at::kFloat) <= *budget ? at::kFloat : at::kBFloat16;
  if (!budget || need(chosen) <= *budget) return chosen;
  std::string hint;
  if (fp32 && chosen == at::kFloat)
    hint = "; use --llm-weights bf16 (" + format_gib(need(at::kBFloat16)) + ") or --dtype bf16,";
  else if (fp32)
    hint = "; try --dtype bf16 (" + format_gib(need_for(at::kBFloat16, at::kBFloat16)) + "),";
  else
    hint = ";";
  throw ModelLoadError(
      "not enough memory: the weights need " + format_gib(need(chosen)) +
      " with the load's largest transient copy (" + compute_dtype_name(opts.dtype) +
      " compute, LLaDA matrices in " + compute_dtype_name(chosen) + ") but only " +
      format_gib(*budget) + " is available " +
      (opts.device.is_cpu() ? std::string("to this process (MemAvailable / cgroup limit)")
                            : "on " + opts.device.str()) +
      hint + " a machine with more memory, or a GPU");
}

}  // namespace

std::shared_ptr<const Model> load_model(const LoadOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  if (opts.dtype != at::kBFloat16 && opts.dtype != at::kFloat)
    throw ConfigError("compute dtype must be bf16 or fp32");
  if (opts.kernels == Kernels::kGeneric && opts.gemm == gemm::WeightLayout::kPacked)
    throw ConfigError(
        "--gemm packed is a CPU-specialised kernel; --kernels generic needs --gemm "
        "auto or aten");
  const fs::path dir(opts.model_dir);
  if (!fs::is_directory(dir)) throw ConfigError(opts.model_dir + ": not a directory");

  auto m = std::make_shared<Model>();
  m->dir = opts.model_dir;
  m->adapter_dirs = opts.adapter_dirs;
  for (const auto& a : opts.adapter_dirs) m->adapter_dir += (m->adapter_dir.empty() ? "" : ",") + a;
  m->dtype = opts.dtype;
  m->device = opts.device;
  m->kernels = opts.kernels;
  m->config = load_model_config((dir / "config.json").string());
  m->generation_defaults = load_generation_defaults((dir / "generation_config.json").string());
  if (fs::exists(dir / "tokenizer_config.json"))
    m->tokenizer_config = load_tokenizer_config((dir / "tokenizer_config.json").string());
  m->tokenizer = tok::Tokenizer::from_file((dir / "tokenizer.json").string());
  m->ids = resolve_special_ids(*m->tokenizer, m->config, m->tokenizer_config);

  const st::Checkpoint ckpt = st::Checkpoint::open_dir(opts.model_dir);
  // Encoder layers present decide how many are used; cross-checked against the config.
  auto& vc = m->config.vision;
  const int64_t present = count_vision_layers(ckpt);
  if (present == vc.num_hidden_layers) {
    // Full tower saved: select_layer -2 means the last one is skipped (layers_used from config).
  } else if (present != vc.layers_used) {
    throw ModelLoadError("vision tower: the checkpoint has " + std::to_string(present) +
                         " encoder layers, config.json implies " + std::to_string(vc.layers_used) +
                         " used (num_hidden_layers " + std::to_string(vc.num_hidden_layers) +
                         ", mm_vision_select_layer " +
                         std::to_string(m->config.mm.vision_select_layer) + ")");
  }

  const at::ScalarType llm_weights = choose_llm_weight_dtype(ckpt, m->config.llm, opts);

  std::vector<LoraAdapter> adapters;
  adapters.reserve(opts.adapter_dirs.size());
  for (const auto& a : opts.adapter_dirs) adapters.push_back(LoraAdapter::open_dir(a));
  std::vector<const LoraAdapter*> adapter_ptrs;
  for (const auto& a : adapters) adapter_ptrs.push_back(&a);
  WeightBinder b(ckpt, opts.dtype, opts.device, adapter_ptrs);

  m->vision = bind_vision(b, vc, &m->vision_base);
  const int64_t dv = vc.hidden_size, d = m->config.llm.d_model;
  const std::string pp = kProjectorPrefix;
  m->projector.fc1 = take_linear(b, pp + "0", d, dv, true);
  m->projector.fc2 = take_linear(b, pp + "2", d, d, true);
  m->projector_base = m->projector;
  m->projector_base.fc1.weight = b.base_of(pp + "0.weight", m->projector.fc1.weight);
  m->projector_base.fc2.weight = b.base_of(pp + "2.weight", m->projector.fc2.weight);
  b.release_base_copies();  // the LLaDA is bound next; nothing of it is kept twice
  const bool needs_newline = m->config.mm.patch_merge_type.find("unpad") != std::string::npos;
  if (needs_newline || b.has(kImageNewline)) m->image_newline = b.take(kImageNewline, {d});
  m->coord.in_checkpoint = b.has(std::string(kCoordModule) + ".weight");
  m->coord.weight = b.take_lora_only(kCoordModule, {dv, kCoordFeatureDim}, &m->coord.from_adapter);
  m->llm = bind_llm(b, m->config.llm, llm_weights);
  m->llm.compute_dtype = opts.dtype;
  m->llm.kernels = m->vision.kernels = m->vision_base.kernels = opts.kernels;
  b.finish();
  // The generic path holds every matrix plain (at::linear: cuBLAS on CUDA); packing is CPU-only.
  const bool cpu_kernels = opts.device.is_cpu() && opts.kernels == Kernels::kAuto;
  m->summary.llm_matrices_packed =
      llada::pack_weights(m->llm, cpu_kernels ? opts.gemm : gemm::WeightLayout::kPlain);
  m->summary.llm_matrices = static_cast<int64_t>(m->llm.matrices().size());
  m->summary.llm_gemm = m->llm.lm_head.implementation();

  m->summary.dtype = compute_dtype_name(opts.dtype);
  m->summary.llm_weight_dtype = compute_dtype_name(llm_weights);
  m->summary.checkpoint_bytes = static_cast<int64_t>(ckpt.total_bytes());
  m->summary.lora_modules_merged = b.merged_lora_modules();
  summarise(*m);
  m->summary.load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return m;
}

}  // namespace shirg
