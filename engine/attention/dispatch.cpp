#include "engine/attention/dispatch.h"

#include "engine/attention/fused_cpu_attention.h"
#include "engine/attention/legacy_attention.h"

namespace shirg::attention {

at::Tensor online_softmax_attention(const at::Tensor& q, const std::vector<KvPart>& parts,
                                    const at::Tensor& mask, double scale, BlockSizes sizes) {
  if (kernel() == Kernel::kFused && fused_cpu_supported(q, parts))
    return fused_cpu_attention(q, parts, mask, scale);
  return blocked_attention(q, parts, mask, scale, sizes);
}

}  // namespace shirg::attention
