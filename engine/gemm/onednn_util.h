#pragma once
// Internal to engine/gemm (built only with SHIRG_WITH_ONEDNN): the one oneDNN CPU engine of the
// process, the dtype mapping, and the two calls whose form differs between oneDNN 2.x (Debian 12)
// and 3.x (Debian 13): no other file tests a oneDNN version.
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

// The matmul primitive descriptor dst = src @ weights on `eng` (throws dnnl::error where oneDNN
// has no implementation). oneDNN 2.x builds it from an operation descriptor, 3.x directly.
inline dnnl::matmul::primitive_desc matmul_pd(const dnnl::engine& eng,
                                              const dnnl::memory::desc& src,
                                              const dnnl::memory::desc& weights,
                                              const dnnl::memory::desc& dst,
                                              const dnnl::primitive_attr& attr) {
#if DNNL_VERSION_MAJOR >= 3
  return dnnl::matmul::primitive_desc(eng, src, weights, dst, attr);
#else
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dst), attr, eng);
#endif
}

// True when `md` is a blocked layout with inner (tiled) blocks, i.e. a layout oneDNN packed.
inline bool has_inner_blocks(const dnnl::memory::desc& md) {
#if DNNL_VERSION_MAJOR >= 3
  return md.get_format_kind() == dnnl::memory::format_kind::blocked && md.get_inner_nblks() > 0;
#else
  return md.data.format_kind == dnnl_blocked && md.data.format_desc.blocking.inner_nblks > 0;
#endif
}

}  // namespace shirg::gemm::onednn
