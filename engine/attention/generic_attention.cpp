#include "engine/attention/generic_attention.h"

#include <ATen/ATen.h>

#include "engine/platform/torch_compat.h"

namespace shirg::attention {
namespace {

// The parts' keys (or values) in q's dtype, one tensor along the key axis.
at::Tensor concat(const std::vector<KvPart>& parts, bool keys, at::ScalarType dt) {
  std::vector<at::Tensor> all;
  for (const auto& p : parts) {
    const at::Tensor& t = keys ? p.k : p.v;
    all.push_back(t.scalar_type() == dt ? t : t.to(dt));
  }
  return all.size() == 1 ? all[0] : at::cat(all, 1);
}

}  // namespace

bool generic_attention_uses_sdpa() {
  return compat::has_scaled_dot_product_attention();
}

at::Tensor generic_attention(const at::Tensor& q, const std::vector<KvPart>& parts,
                             const at::Tensor& mask, double scale) {
  check_attention_inputs(q, parts, mask);
  const auto dt = q.scalar_type();
  const at::Tensor k = concat(parts, true, dt), v = concat(parts, false, dt);
  if (compat::has_scaled_dot_product_attention()) {
    // Boolean mask: true where a query may attend (the additive mask's 0 entries).
    const at::Tensor allowed = mask.defined() ? mask.eq(0) : at::Tensor();
    return compat::scaled_dot_product_attention(q, k, v, allowed, scale).contiguous();
  }
  at::Tensor s = at::matmul(q * scale, k.transpose(1, 2));
  const at::Tensor prob = mask.defined() ? at::softmax(s.to(at::kFloat) + mask, -1).to(dt)
                                         : at::softmax(s, -1, at::kFloat).to(dt);
  return at::matmul(prob, v).contiguous();
}

}  // namespace shirg::attention
