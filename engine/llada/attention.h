#pragma once
// Softmax attention over several key/value parts without concatenating them (the prefix cache
// is one part, the answer rows another), exposed for tests and the benchmark. Implemented by the
// blocked online-softmax kernel of engine/attention/blocked_attention.h.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "engine/attention/blocked_attention.h"

namespace shirg::llada {

// k, v: [H, Tk, head_dim]; any floating dtype (converted once per head group if it differs).
using KvPart = attention::KvPart;

// q: [H, Tq, head_dim] in the compute dtype; scale 1/sqrt(head_dim). mask: undefined or
// [Tq, sum Tk] fp32 additive (0 / -inf). max_heads_per_chunk <= 0 picks the default head group.
// Returns [H, Tq, head_dim] in q's dtype.
at::Tensor attend(const at::Tensor& q, const std::vector<KvPart>& parts, const at::Tensor& mask,
                  int64_t max_heads_per_chunk = 0);

}  // namespace shirg::llada
