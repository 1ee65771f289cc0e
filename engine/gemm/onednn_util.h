#pragma once
// Internal to engine/gemm (built only with SHIRG_WITH_ONEDNN): the one oneDNN CPU engine of the
// process and the dtype mapping.
#include <ATen/core/Tensor.h>

#include <oneapi/dnnl/dnnl.hpp>

namespace shirg::gemm::onednn {

// Created on first use; oneDNN engines and streams may be used from many threads.
inline dnnl::engine& cpu_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// fp32 or bf16 (callers check the dtype first).
inline dnnl::memory::data_type dnnl_type(at::ScalarType t) {
  return t == at::kBFloat16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
}

}  // namespace shirg::gemm::onednn
