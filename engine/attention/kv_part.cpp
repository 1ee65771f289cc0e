#include "engine/attention/kv_part.h"

#include <ATen/ATen.h>

#include <sstream>
#include <stdexcept>
#include <string>

namespace shirg::attention {
namespace {

std::string shape_of(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::ostringstream s;
  s << t.sizes() << " " << c10::toString(t.scalar_type());
  return s.str();
}

[[noreturn]] void bad(const std::string& what) {
  throw std::invalid_argument("attention: " + what);
}

}  // namespace

int64_t check_attention_inputs(const at::Tensor& q, const std::vector<KvPart>& parts,
                               const at::Tensor& mask) {
  if (!q.defined() || q.dim() != 3 || !at::isFloatingType(q.scalar_type()))
    bad("q must be a floating [N, Tq, hd] tensor, got " + shape_of(q));
  if (parts.empty()) bad("no key/value parts");
  int64_t tk = 0;
  for (const auto& p : parts) {
    if (!p.k.defined() || !p.v.defined() || p.k.dim() != 3 || p.v.dim() != 3 ||
        p.k.size(0) != q.size(0) || p.k.size(2) != q.size(2) || p.v.sizes() != p.k.sizes() ||
        !at::isFloatingType(p.k.scalar_type()) || !at::isFloatingType(p.v.scalar_type()))
      bad("k and v must be floating [N, Tk, hd] matching q " + shape_of(q) + ", got k " +
          shape_of(p.k) + ", v " + shape_of(p.v));
    if (p.k.device() != q.device() || p.v.device() != q.device())
      bad("k and v must be on q's device (" + q.device().str() + "), got " + p.k.device().str() +
          " and " + p.v.device().str());
    tk += p.k.size(1);
  }
  if (tk < 1) bad("no keys");
  if (mask.defined() && (mask.dim() != 2 || mask.size(0) != q.size(1) || mask.size(1) != tk ||
                         mask.scalar_type() != at::kFloat))
    bad("mask must be fp32 [Tq, Tk] = [" + std::to_string(q.size(1)) + ", " + std::to_string(tk) +
        "], got " + shape_of(mask));
  if (mask.defined() && mask.device() != q.device())
    bad("mask must be on q's device (" + q.device().str() + "), got " + mask.device().str());
  return tk;
}

}  // namespace shirg::attention
