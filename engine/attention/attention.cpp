#include "engine/attention/attention.h"

#include "engine/attention/cached_step_attention.h"
#include "engine/attention/chunked_attention.h"
#include "engine/attention/generic_attention.h"

namespace shirg::attention {

Implementation choose_implementation(const at::Tensor& q, const std::vector<KvPart>& parts,
                                     const at::Tensor& mask, Kernels kernels) {
  if (kernels == Kernels::kGeneric || !q.defined() || !q.is_cpu()) return Implementation::kGeneric;
  int64_t keys = 0;
  for (const auto& p : parts) keys += p.k.defined() ? p.k.size(1) : 0;
  if (q.dim() == 3 && q.size(1) < keys && cached_step_attention_applies(q, parts, mask))
    return Implementation::kCachedStep;
  return Implementation::kChunked;
}

const char* implementation_name(Implementation i) {
  static constexpr const char* kNames[] = {"cached-step", "chunked", "generic"};  // enum order
  return kNames[static_cast<int>(i)];
}

at::Tensor attend(const at::Tensor& q, const std::vector<KvPart>& parts, const at::Tensor& mask,
                  double scale, Kernels kernels) {
  switch (choose_implementation(q, parts, mask, kernels)) {
    case Implementation::kCachedStep:
      return cached_step_attention(q, parts, scale);
    case Implementation::kChunked:
      return chunked_attention(q, parts, mask, scale);
    case Implementation::kGeneric:
      break;
  }
  return generic_attention(q, parts, mask, scale);
}

}  // namespace shirg::attention
