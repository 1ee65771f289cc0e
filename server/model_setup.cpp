#include "server/model_setup.h"

#include <spdlog/spdlog.h>

#include "engine/model/compute_dtype.h"
#include "engine/model/model.h"
#include "engine/platform/cpu_threads.h"
#include "engine/platform/device.h"
#include "engine/platform/kernels.h"
#include "engine/runtime/options_parse.h"
#include "engine/runtime/pipeline.h"

#ifndef SHIRG_VERSION
#define SHIRG_VERSION "0.0.0"
#endif

namespace shirg::rpc {

int set_torch_threads(int threads) {
  const CpuThreadSetup s = configure_cpu_threads(threads);
  spdlog::info("cpu: {}", s.describe());
  if (!s.warning.empty()) spdlog::warn("cpu: {}", s.warning);
  return s.torch_threads;
}

std::shared_ptr<const Model> load_model_for_server(const ServerConfig& c) {
  LoadOptions o;
  o.model_dir = c.model_dir;
  o.adapter_dirs = c.adapter_dirs;
  o.device = resolve_device(c.device);
  o.kernels = parse_kernels(c.kernels);
  o.dtype = parse_dtype_flag(c.dtype, o.device);
  o.llm_weight_dtype = parse_llm_weights_flag(c.llm_weights);
  o.gemm = gemm::parse_weight_layout(c.gemm);
  return load_model(o);
}

v1::ModelInfoResponse describe_model(const Model& m, const ServerConfig& c) {
  v1::ModelInfoResponse r;
  r.set_checkpoint(m.dir);
  r.set_model_type(m.config.model_type);
  r.set_dtype(m.dtype == at::kBFloat16 ? "bf16"
              : m.dtype == at::kFloat  ? "fp32"
                                       : std::string(c10::toString(m.dtype)));
  r.set_device(m.device.str());
  r.set_llm_weight_dtype(m.summary.llm_weight_dtype);
  r.set_vision_hidden_size(m.config.vision.hidden_size);
  r.set_vision_layers(m.config.vision.layers_used);
  r.set_vision_image_size(m.config.vision.image_size);
  r.set_vision_patch_size(m.config.vision.patch_size);
  r.set_llm_d_model(m.config.llm.d_model);
  r.set_llm_layers(m.config.llm.n_layers);
  r.set_llm_heads(m.config.llm.n_heads);
  r.set_llm_vocab_size(m.config.llm.vocab_size);
  for (SelectionMode mode : kAllSelectionModes) r.add_selection_modes(selection_mode_name(mode));
  r.set_shirg_adapter_loaded(m.coord.active());
  r.set_adapter_dir(m.adapter_dir);
  r.set_lora_modules_merged(m.summary.lora_modules_merged);
  r.set_max_gen_length(c.max_gen_length);
  r.set_max_question_tokens(c.max_question_tokens);
  r.set_max_image_bytes(c.max_image_mib << 20);
  r.set_max_image_pixels(c.max_image_pixels);
  r.set_max_queue(c.max_queue);
  int64_t params = 0;
  for (const auto& comp : m.summary.components) params += comp.parameters;
  r.set_parameters(params);
  r.set_server_version(SHIRG_VERSION);
  return r;
}

std::string model_summary_text(const Model& m) {
  return m.summary.to_table();
}

}  // namespace shirg::rpc
