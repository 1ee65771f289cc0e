#pragma once
// The tiny model, loaded once per test binary (fp32 for exact comparisons).
#include <memory>
#include <string>

#include "engine/model/model.h"

namespace shirg::testing {

inline std::shared_ptr<const Model> tiny_model() {
  static std::shared_ptr<const Model> m = [] {
    LoadOptions o;
    o.model_dir = std::string(SHIRG_BINARY_DIR) + "/models/tiny";
    o.dtype = at::kFloat;
    return load_model(o);
  }();
  return m;
}

// The tiny model with its PEFT adapter (tiny-adapter) merged, fp32.
inline std::shared_ptr<const Model> tiny_model_with_adapter() {
  static std::shared_ptr<const Model> m = [] {
    LoadOptions o;
    o.model_dir = std::string(SHIRG_BINARY_DIR) + "/models/tiny";
    o.adapter_dirs = {std::string(SHIRG_BINARY_DIR) + "/models/tiny-adapter"};
    o.dtype = at::kFloat;
    return load_model(o);
  }();
  return m;
}

}  // namespace shirg::testing
