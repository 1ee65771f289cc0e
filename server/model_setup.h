#pragma once
// The LibTorch side of start-up, kept in one translation unit: thread count, model loading and
// the model's description for ModelInfo / shirg_model_info.
#include <cstdint>
#include <memory>

#include "server/server_config.h"
#include "shirg/v1/inference.pb.h"

namespace shirg {
struct Model;
}

namespace shirg::rpc {

// LibTorch threads (hardware cores when `threads` is 0) and the BLAS check; logs the result
// (a warning when the BLAS would slow the server down). Returns the LibTorch thread count.
int set_torch_threads(int threads);

// load_model() with --model-dir, --adapter-dir and --dtype. Throws what load_model throws.
std::shared_ptr<const Model> load_model_for_server(const ServerConfig& c);

// ModelInfo: checkpoint, dimensions, dtype, device, modes, limits, adapter.
v1::ModelInfoResponse describe_model(const Model& m, const ServerConfig& c);

// The loader's summary table (components, parameters, bytes, load time).
std::string model_summary_text(const Model& m);

}  // namespace shirg::rpc
