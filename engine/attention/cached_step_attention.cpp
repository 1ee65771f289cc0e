#include "engine/attention/cached_step_attention.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <stdexcept>

#include "engine/attention/widen.h"
#include "engine/gemm/batched_matmul.h"

namespace shirg::attention {
namespace {

// One widened [heads, Tk, hd] fp32 buffer stays within this (P 1,290 + 32 keys x 128: 12 heads).
// Measured at P 1,290 / 2,380 (bench_attention's step section): groups of 6-16 heads are the
// fastest; 1-3 heads are 10-40% slower (too little work per batched GEMM, idle threads).
constexpr int64_t kBufferBudgetBytes = int64_t{8} << 20;

// Heads per group: from the budget for one buffer of `bytes_per_head` per head (fp32: the widened
// keys or values, [Tk, hd]; bf16: the fp32 scores, [Tq, Tk]), then rounded down to a multiple of
// the thread count (the work of a group is split by heads among the threads; an odd group idles
// one).
int64_t default_group(int64_t bytes_per_head, int64_t heads) {
  int64_t g = kBufferBudgetBytes / std::max<int64_t>(1, bytes_per_head);
  const int64_t threads = std::max(1, at::get_num_threads());
  if (g > threads) g -= g % threads;
  return std::clamp<int64_t>(g, 1, heads);
}

bool cpu_fp32_or_bf16(const at::Tensor& t) {
  return t.defined() && t.device().is_cpu() &&
         (t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16);
}

// Why the kernel cannot take these tensors, or nullptr when it can.
const char* unsupported(const at::Tensor& q, const std::vector<KvPart>& parts) {
  if (!q.defined() || !q.device().is_cpu() ||
      (q.scalar_type() != at::kFloat && q.scalar_type() != at::kBFloat16))
    return "cached_step_attention: q must be an fp32 or bf16 CPU tensor";
  const bool bf16_q = q.scalar_type() == at::kBFloat16;
  for (const KvPart& p : parts) {
    if (!cpu_fp32_or_bf16(p.k) || !cpu_fp32_or_bf16(p.v))
      return "cached_step_attention: keys and values must be fp32 or bf16 CPU tensors";
    if (bf16_q && (p.k.scalar_type() != at::kBFloat16 || p.v.scalar_type() != at::kBFloat16))
      return "cached_step_attention: bf16 queries need bf16 keys and values";
  }
  return nullptr;
}

// dst [g, Tk, hd] fp32 contiguous <- heads h0 .. h0+g-1 of the parts' keys (or values), the
// parts one after another along the key axis. bf16 rows with unit stride along hd are widened
// directly; anything else goes through ATen's copy.
void gather(const std::vector<KvPart>& parts, bool keys, int64_t h0, const at::Tensor& dst) {
  const int64_t g = dst.size(0), tk = dst.size(1), hd = dst.size(2);
  at::parallel_for(0, g, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float* head = dst.data_ptr<float>() + i * tk * hd;
      int64_t row = 0;
      for (const KvPart& p : parts) {
        const at::Tensor& t = keys ? p.k : p.v;
        const int64_t n = t.size(1);
        if (t.scalar_type() == at::kBFloat16 && t.stride(2) == 1) {
          const auto* src = reinterpret_cast<const uint16_t*>(t.data_ptr<at::BFloat16>()) +
                            (h0 + i) * t.stride(0);
          widen_bf16_rows(src, t.stride(1), n, hd, head + row * hd);
        } else {
          at::from_blob(head + row * hd, {n, hd}, at::kFloat).copy_(t.select(0, h0 + i));
        }
        row += n;
      }
    }
  });
}

}  // namespace

bool cached_step_attention_applies(const at::Tensor& q, const std::vector<KvPart>& parts,
                                   const at::Tensor& mask) {
  return !mask.defined() && gemm::batched_matmul_native() && unsupported(q, parts) == nullptr;
}

namespace {

// fp32 queries: per group, widen the keys (then the values) into one fp32 buffer, one GEMM each.
at::Tensor attend_fp32(const at::Tensor& q, const std::vector<KvPart>& parts, double scale,
                       int64_t tk, int64_t group) {
  const int64_t h = q.size(0), tq = q.size(1), hd = q.size(2);
  const auto f32 = q.options().dtype(at::kFloat);
  at::Tensor out = at::empty({h, tq, hd}, f32);
  const at::Tensor kbuf = at::empty({group, tk, hd}, f32), vbuf = at::empty({group, tk, hd}, f32);
  const at::Tensor scores_t = at::empty({group, tk, tq}, f32);  // K q^T: keys along the rows
  for (int64_t h0 = 0; h0 < h; h0 += group) {
    const int64_t g = std::min(group, h - h0);
    const at::Tensor k = kbuf.narrow(0, 0, g), v = vbuf.narrow(0, 0, g);
    const at::Tensor s = scores_t.narrow(0, 0, g);
    gather(parts, /*keys=*/true, h0, k);
    gemm::batched_matmul(k, (q.narrow(0, h0, g) * scale).transpose(1, 2), s);
    const at::Tensor p = at::softmax(s, 1).transpose(1, 2);  // [g, Tq, Tk], over the keys
    gather(parts, /*keys=*/false, h0, v);
    gemm::batched_matmul(p, v, out.narrow(0, h0, g));
  }
  return out;
}

// bf16 queries and parts: no widening. Per group, the scores q K^T of every part straight from the
// bf16 cache into one fp32 [g, Tq, Tk] buffer (exact products, fp32 sums), the scale and the
// softmax over the keys in fp32, the probabilities rounded once to bf16, and P V summed over the
// parts in fp32; the output rounded once to bf16. (q K^T measured ~10% faster here than K q^T in
// a probe with bench_attention's step section.)
at::Tensor attend_bf16(const at::Tensor& q, const std::vector<KvPart>& parts, double scale,
                       int64_t tk, int64_t group) {
  const int64_t h = q.size(0), tq = q.size(1), hd = q.size(2);
  const auto f32 = q.options().dtype(at::kFloat);
  const at::Tensor out = at::empty({h, tq, hd}, f32);
  const at::Tensor scores = at::empty({group, tq, tk}, f32);
  for (int64_t h0 = 0; h0 < h; h0 += group) {
    const int64_t g = std::min(group, h - h0);
    const at::Tensor s = scores.narrow(0, 0, g), qg = q.narrow(0, h0, g);
    int64_t col = 0;
    for (const KvPart& p : parts) {
      const int64_t n = p.k.size(1);
      gemm::batched_matmul(qg, p.k.narrow(0, h0, g).transpose(1, 2), s.narrow(2, col, n));
      col += n;
    }
    s.mul_(scale);
    const at::Tensor prob = at::softmax(s, 2).to(at::kBFloat16);  // [g, Tq, Tk]
    const at::Tensor o = out.narrow(0, h0, g);
    col = 0;
    for (const KvPart& p : parts) {
      const int64_t n = p.v.size(1);
      gemm::batched_matmul(prob.narrow(2, col, n), p.v.narrow(0, h0, g), o,
                           col == 0 ? gemm::Accumulate::kOverwrite : gemm::Accumulate::kAdd);
      col += n;
    }
  }
  return out.to(at::kBFloat16);
}

}  // namespace

at::Tensor cached_step_attention(const at::Tensor& q, const std::vector<KvPart>& parts,
                                 double scale, int64_t max_heads_per_group) {
  const int64_t tk = check_attention_inputs(q, parts, {});
  if (const char* why = unsupported(q, parts)) throw std::invalid_argument(why);
  const int64_t h = q.size(0), tq = q.size(1), hd = q.size(2);
  if (h == 0 || tq == 0) return at::empty({h, tq, hd}, q.options());
  const bool bf16 = q.scalar_type() == at::kBFloat16;
  const int64_t per_head = (bf16 ? tk * tq : tk * hd) * 4;
  const int64_t group =
      max_heads_per_group > 0 ? std::min(max_heads_per_group, h) : default_group(per_head, h);
  return bf16 ? attend_bf16(q, parts, scale, tk, group) : attend_fp32(q, parts, scale, tk, group);
}

}  // namespace shirg::attention
