#include "engine/gemm/linear_weight.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <stdexcept>
#include <utility>
#include <vector>

#if SHIRG_WITH_ONEDNN
#include "engine/gemm/onednn_util.h"
#endif

namespace shirg::gemm {

WeightLayout parse_weight_layout(const std::string& s) {
  if (s == "auto") return WeightLayout::kAuto;
  if (s == "aten") return WeightLayout::kPlain;
  if (s == "packed") return WeightLayout::kPacked;
  throw std::invalid_argument("gemm weight layout must be auto, aten or packed, not '" + s + "'");
}

const char* to_string(WeightLayout l) {
  switch (l) {
    case WeightLayout::kAuto:
      return "auto";
    case WeightLayout::kPlain:
      return "aten";
    case WeightLayout::kPacked:
      return "packed";
  }
  return "?";
}

LinearWeight::LinearWeight(at::Tensor weight) : plain_(std::move(weight)) {}

int64_t LinearWeight::numel() const {
  int64_t n = defined() ? 1 : 0;
  for (int64_t s : sizes()) n *= s;
  return n;
}

// The packed form (made only where oneDNN is built in).
struct LinearWeight::Packed {
  int64_t out = 0, in = 0;
  at::ScalarType dtype = at::kFloat;
  at::Tensor storage;  // kByte: the weight in `md`'s layout
  std::string impl;    // the oneDNN implementation chosen when packing
#if SHIRG_WITH_ONEDNN
  dnnl::memory::desc md;  // the blocked layout of the logical [in, out] weight
#endif
};

const at::Tensor& LinearWeight::plain() const {
  if (packed_) throw std::logic_error("LinearWeight::plain(): the weight is packed");
  return plain_;
}

std::vector<int64_t> LinearWeight::sizes() const {
  if (packed_) return {packed_->out, packed_->in};
  return plain_.defined() ? plain_.sizes().vec() : std::vector<int64_t>{};
}
at::ScalarType LinearWeight::dtype() const {
  return packed_ ? packed_->dtype : plain_.scalar_type();
}
at::Device LinearWeight::device() const {
  return packed_ ? at::Device(at::kCPU) : plain_.device();
}
int64_t LinearWeight::nbytes() const {
  if (packed_) return static_cast<int64_t>(packed_->storage.nbytes());
  return plain_.defined() ? static_cast<int64_t>(plain_.nbytes()) : 0;
}
std::string LinearWeight::implementation() const {
  return packed_ ? packed_->impl : std::string("at::linear");
}

#if SHIRG_WITH_ONEDNN

namespace {

using dnnl::memory;
using onednn::cpu_engine;
using onednn::dnnl_type;

// The rows the packed layout is chosen for. oneDNN's brgemm matmul picks the same weight layout
// for every row count (checked for 32 .. 2,380 rows at LLaDA's widths, bf16 and fp32); forward()
// creates its primitive against that fixed layout, so any row count runs on the one copy.
constexpr int64_t kLayoutRows = 32;

dnnl::matmul::primitive_desc matmul_pd(int64_t m, int64_t k, int64_t n, memory::data_type dt,
                                       const memory::desc& weights) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // per call: safe from many threads
  memory::desc src({m, k}, dt, memory::format_tag::ab);
  memory::desc dst({m, n}, dt, memory::format_tag::ab);
  return onednn::matmul_pd(cpu_engine(), src, weights, dst, attr);
}

}  // namespace

bool packing_available() {
  return true;
}

std::string onednn_isa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other";
  }
}

at::Tensor LinearWeight::to_plain() const {
  if (!packed_) return plain_;
  const auto& p = *packed_;
  auto out = at::empty({p.out, p.in}, at::TensorOptions().dtype(p.dtype));
  memory::desc plain_md({p.in, p.out}, dnnl_type(p.dtype), memory::format_tag::ba);
  memory src(p.md, cpu_engine(), p.storage.data_ptr());
  memory dst(plain_md, cpu_engine(), out.data_ptr());
  dnnl::stream s(cpu_engine());
  dnnl::reorder(src, dst).execute(s, src, dst);
  s.wait();
  return out;
}

at::Tensor LinearWeight::forward(const at::Tensor& x) const {
  if (!packed_) return at::linear(x, plain_);
  const auto& p = *packed_;
  if (!x.device().is_cpu() || x.scalar_type() != p.dtype || x.dim() < 1 || x.size(-1) != p.in)
    throw std::invalid_argument(std::string("packed linear: expected a CPU ") +
                                c10::toString(p.dtype) + " input [..., " + std::to_string(p.in) +
                                "], got " + c10::toString(x.scalar_type()) + " " +
                                c10::str(x.sizes()) + " on " + x.device().str());
  auto x2 = x.reshape({-1, p.in}).contiguous();
  const int64_t m = x2.size(0);
  std::vector<int64_t> out_shape(x.sizes().begin(), x.sizes().end());
  out_shape.back() = p.out;
  auto y = at::empty({m, p.out}, x2.options());
  if (m == 0) return y.view(out_shape);
  at::internal::lazy_init_num_threads();  // oneDNN's OpenMP team follows LibTorch's thread count
  const auto dt = dnnl_type(p.dtype);
  auto pd = matmul_pd(m, p.in, p.out, dt, p.md);  // oneDNN's primitive cache makes repeats cheap
  auto scratch = at::empty({static_cast<int64_t>(pd.scratchpad_desc().get_size())},
                           at::TensorOptions().dtype(at::kByte));
  auto& eng = cpu_engine();
  memory src(pd.src_desc(), eng, x2.data_ptr());
  memory wts(p.md, eng, p.storage.data_ptr());
  memory dst(pd.dst_desc(), eng, y.data_ptr());
  memory scr(pd.scratchpad_desc(), eng, scratch.data_ptr());
  dnnl::stream s(eng);
  dnnl::matmul(pd).execute(s, {{DNNL_ARG_SRC, src},
                               {DNNL_ARG_WEIGHTS, wts},
                               {DNNL_ARG_DST, dst},
                               {DNNL_ARG_SCRATCHPAD, scr}});
  s.wait();
  return y.view(out_shape);
}

LinearWeight LinearWeight::packed(WeightLayout layout) const {
  if (layout == WeightLayout::kPlain || packed_ || !plain_.defined()) return *this;
  const auto refuse = [&](const std::string& why) -> LinearWeight {
    if (layout == WeightLayout::kPacked)
      throw std::runtime_error("cannot pack a linear weight: " + why);
    return *this;
  };
  if (!plain_.device().is_cpu()) return refuse("it is not on the CPU");
  const auto st = plain_.scalar_type();
  if (st != at::kFloat && st != at::kBFloat16) return refuse("its dtype is not fp32 or bf16");
  if (plain_.dim() != 2) return refuse("it is not a matrix");
  const int64_t out = plain_.size(0), in = plain_.size(1);
  const auto dt = dnnl_type(st);
  memory::desc plain_md({in, out}, dt, memory::format_tag::ba);
  memory::desc any_md({in, out}, dt, memory::format_tag::any);
  dnnl::matmul::primitive_desc pd;
  try {
    pd = matmul_pd(kLayoutRows, in, out, dt, any_md);
  } catch (const dnnl::error& e) {
    return refuse(std::string("oneDNN has no matmul for it on this CPU (") + e.what() + ")");
  }
  // No blocked (tiled) layout on offer, e.g. on an AVX2-only CPU, where oneDNN runs a plain
  // layout through its own GEMM (measured slower than LibTorch's there): auto keeps at::linear.
  const bool blocked = onednn::has_inner_blocks(pd.weights_desc());
  if (layout == WeightLayout::kAuto && !blocked) return *this;
  auto p = std::make_shared<Packed>();
  p->out = out;
  p->in = in;
  p->dtype = st;
  p->md = pd.weights_desc();
  p->impl = pd.impl_info_str();
  p->storage =
      at::empty({static_cast<int64_t>(p->md.get_size())}, at::TensorOptions().dtype(at::kByte));
  auto src_t = plain_.contiguous();
  memory src(plain_md, cpu_engine(), src_t.data_ptr());
  memory dst(p->md, cpu_engine(), p->storage.data_ptr());
  dnnl::stream s(cpu_engine());
  dnnl::reorder(src, dst).execute(s, src, dst);
  s.wait();
  LinearWeight w;
  w.packed_ = std::move(p);
  return w;
}

#else  // !SHIRG_WITH_ONEDNN: every weight stays plain

bool packing_available() {
  return false;
}
std::string onednn_isa() {
  return "none";
}

at::Tensor LinearWeight::to_plain() const {
  return plain_;
}
at::Tensor LinearWeight::forward(const at::Tensor& x) const {
  return at::linear(x, plain_);
}
LinearWeight LinearWeight::packed(WeightLayout layout) const {
  if (layout == WeightLayout::kPacked && plain_.defined())
    throw std::runtime_error(
        "cannot pack a linear weight: built without oneDNN (SHIRG_WITH_ONEDNN)");
  return *this;
}

#endif

}  // namespace shirg::gemm
