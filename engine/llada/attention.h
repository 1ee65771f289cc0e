#pragma once
// Softmax attention over several key/value parts without concatenating them (the prefix cache
// is one part, the answer rows another), exposed for tests and the benchmark.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace shirg::llada {

struct KvPart {
  at::Tensor k, v;  // [H, Tk, head_dim]; any floating dtype (converted per head chunk if needed)
};

// q: [H, Tq, head_dim] in the compute dtype. Scores per part in the compute dtype, softmax in
// fp32 over the joined key axis, scale 1/sqrt(head_dim). mask: undefined or [Tq, sum Tk] fp32
// additive (0 / -inf). max_heads_per_chunk <= 0 picks a chunk from memory budgets.
// Returns [H, Tq, head_dim] in q's dtype.
at::Tensor attend(const at::Tensor& q, const std::vector<KvPart>& parts, const at::Tensor& mask,
                  int64_t max_heads_per_chunk = 0);

}  // namespace shirg::llada
