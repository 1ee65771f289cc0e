#include "engine/gemm/batched_matmul.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <stdexcept>
#include <string>

#if SHIRG_WITH_ONEDNN
#include "engine/gemm/onednn_util.h"
#endif

namespace shirg::gemm {
namespace {

void check_shapes(const at::Tensor& a, const at::Tensor& b, const at::Tensor& y) {
  const bool ranks =
      a.defined() && b.defined() && y.defined() && a.dim() == 3 && b.dim() == 3 && y.dim() == 3;
  if (!ranks || a.size(0) != b.size(0) || a.size(0) != y.size(0) || a.size(2) != b.size(1) ||
      y.size(1) != a.size(1) || y.size(2) != b.size(2)) {
    auto shape = [](const at::Tensor& t) {
      return t.defined() ? c10::str(t.sizes()) : std::string("undefined");
    };
    throw std::invalid_argument(
        "batched_matmul: expected a [B, M, K], b [B, K, N], y [B, M, N]; "
        "got a " +
        shape(a) + ", b " + shape(b) + ", y " + shape(y));
  }
  const bool widened_out = a.scalar_type() == at::kBFloat16 && y.scalar_type() == at::kFloat;
  if (!at::isFloatingType(a.scalar_type()) || a.scalar_type() != b.scalar_type() ||
      (a.scalar_type() != y.scalar_type() && !widened_out)) {
    throw std::invalid_argument(std::string("batched_matmul: a and b must share one floating "
                                            "dtype and y have it (or be fp32 under bf16 a and "
                                            "b); got ") +
                                c10::toString(a.scalar_type()) + ", " +
                                c10::toString(b.scalar_type()) + ", " +
                                c10::toString(y.scalar_type()));
  }
}

void fallback(const at::Tensor& a, const at::Tensor& b, const at::Tensor& y, Accumulate mode) {
  // In y's dtype (bf16 products are exact in fp32). at::bmm_out would resize a non-contiguous y;
  // a copy keeps y's storage.
  const auto dt = y.scalar_type();
  const at::Tensor r = at::bmm(a.to(dt), b.to(dt));
  if (mode == Accumulate::kAdd)
    y.add_(r);
  else
    y.copy_(r);
}

#if SHIRG_WITH_ONEDNN
bool native_operands(const at::Tensor& a, const at::Tensor& b, const at::Tensor& y) {
  const auto st = a.scalar_type();
  if (st != at::kFloat && st != at::kBFloat16) return false;  // y: checked by check_shapes
  for (const at::Tensor* t : {&a, &b, &y}) {
    if (!t->device().is_cpu()) return false;
    for (int64_t s : t->strides())
      if (s <= 0) return false;  // broadcast (0) strides: let ATen handle them
  }
  return true;
}

dnnl::memory::desc desc_of(const at::Tensor& t) {
  return dnnl::memory::desc(dnnl::memory::dims(t.sizes().begin(), t.sizes().end()),
                            onednn::dnnl_type(t.scalar_type()),
                            dnnl::memory::dims(t.strides().begin(), t.strides().end()));
}

// False when oneDNN has no primitive for these layouts (the caller falls back).
bool onednn_matmul(const at::Tensor& a, const at::Tensor& b, const at::Tensor& y, Accumulate mode) {
  using dnnl::memory;
  auto& eng = onednn::cpu_engine();
  const memory::desc ad = desc_of(a), bd = desc_of(b), yd = desc_of(y);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // per call: safe from many threads
  if (mode == Accumulate::kAdd) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);  // y = a @ b + y, the sum in fp32 before y's rounding
    attr.set_post_ops(ops);
  }
  dnnl::matmul::primitive_desc pd;
  try {
    pd = onednn::matmul_pd(eng, ad, bd, yd, attr);
  } catch (const dnnl::error&) {
    return false;
  }
  at::internal::lazy_init_num_threads();  // oneDNN's OpenMP team follows LibTorch's thread count
  auto scratch = at::empty({static_cast<int64_t>(pd.scratchpad_desc().get_size())},
                           at::TensorOptions().dtype(at::kByte));
  memory am(ad, eng, a.data_ptr()), bm(bd, eng, b.data_ptr()), ym(yd, eng, y.data_ptr());
  memory sm(pd.scratchpad_desc(), eng, scratch.data_ptr());
  dnnl::stream s(eng);
  dnnl::matmul(pd).execute(
      s,
      {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, ym}, {DNNL_ARG_SCRATCHPAD, sm}});
  s.wait();
  return true;
}
#endif

}  // namespace

bool batched_matmul_native() {
#if SHIRG_WITH_ONEDNN
  return true;
#else
  return false;
#endif
}

void batched_matmul(const at::Tensor& a, const at::Tensor& b, const at::Tensor& y,
                    Accumulate mode) {
  check_shapes(a, b, y);
  if (y.numel() == 0) return;
  if (a.size(2) == 0) {
    if (mode == Accumulate::kOverwrite) y.zero_();
    return;
  }
#if SHIRG_WITH_ONEDNN
  if (native_operands(a, b, y) && onednn_matmul(a, b, y, mode)) return;
#endif
  fallback(a, b, y, mode);
}

}  // namespace shirg::gemm
