#include "bench/attention/fused_cpu_attention.h"

#include "engine/attention/widen.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

namespace shirg::attention {
namespace {

// Defaults: a [q_rows, k_rows] fp32 score block is 128 x 512 x 4 B = 256 KiB (stays in L2 with
// the 64 KiB accumulator at hd 128); the decoding step's 32 answer rows are one query block.
constexpr int64_t kQRows = 128, kKRows = 512;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Compiled once per ISA level and chosen at load time (GCC ifunc), so the fused passes run with
// AVX-512 or AVX2 where the CPU has them and the binary still runs on any x86-64.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define SHIRG_ISA_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SHIRG_ISA_CLONES
#endif

// 8 fp32 lanes (GCC vector extension): one AVX register in the v3/v4 clones, two SSE registers in
// the default one. Used for the row max and row sum, which GCC does not vectorise as plain loops
// (float max/sum reductions need -ffast-math).
typedef float Lanes __attribute__((vector_size(32)));
constexpr int kLanes = 8;

// e^x for x <= 0 (scores minus their row max), branch-free so that loops over it vectorise:
// x = n ln2 + r with |r| <= ln2/2 (n rounded with the 1.5 * 2^23 trick: std::floor does not
// vectorise under -ftrapping-math), e^r by Cephes' degree-6 polynomial (relative error ~2e-7),
// 2^n built in the exponent bits. Below -87 (incl. -inf, masked keys) the result is exactly 0.
inline float exp_nonpositive(float x) {
  const float xc = x < -87.0f ? -87.0f : x;
  const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  float two_n;
  std::memcpy(&two_n, &bits, sizeof two_n);
  return x < -87.0f ? 0.0f : er * two_n;
}

// Folds one [rows, cols] score block (row-major, already scaled) into the online-softmax state
// and overwrites it with the unnormalised probabilities exp(s - m). mask: null or the block's
// top-left in an additive fp32 matrix of row stride mask_ld. m, l: [rows] running row max and
// row sum; acc: [rows, hd] fp32 accumulator, rescaled here when a row's max grows.
SHIRG_ISA_CLONES
void softmax_block(float* s, int64_t rows, int64_t cols, const float* mask, int64_t mask_ld,
                   float* m, float* l, float* acc, int64_t hd) {
  for (int64_t r = 0; r < rows; ++r) {
    float* sr = s + r * cols;
    if (mask) {
      const float* mr = mask + r * mask_ld;
      for (int64_t j = 0; j < cols; ++j) sr[j] += mr[j];
    }
    Lanes vmax = {};
    vmax += kNegInf;
    int64_t j = 0;
    for (; j + kLanes <= cols; j += kLanes) {
      Lanes x;
      std::memcpy(&x, sr + j, sizeof x);
      vmax = vmax < x ? x : vmax;
    }
    float mx = kNegInf;
    for (int t = 0; t < kLanes; ++t) mx = mx < vmax[t] ? vmax[t] : mx;
    for (; j < cols; ++j) mx = mx < sr[j] ? sr[j] : mx;

    const float m_new = m[r] < mx ? mx : m[r];
    // A row whose keys so far are all masked keeps m = -inf; subtract 0 there (exp gives 0).
    const float m_use = m_new == kNegInf ? 0.0f : m_new;
    for (j = 0; j < cols; ++j) sr[j] = exp_nonpositive(sr[j] - m_use);
    Lanes vsum = {};
    for (j = 0; j + kLanes <= cols; j += kLanes) {
      Lanes x;
      std::memcpy(&x, sr + j, sizeof x);
      vsum += x;
    }
    float sum = 0.0f;
    for (int t = 0; t < kLanes; ++t) sum += vsum[t];
    for (; j < cols; ++j) sum += sr[j];

    const float alpha = std::exp(m[r] - m_use);  // 0 on the row's first keys (m = -inf)
    l[r] = l[r] * alpha + sum;
    if (alpha != 1.0f) {
      float* ar = acc + r * hd;
      for (int64_t d = 0; d < hd; ++d) ar[d] *= alpha;
    }
    m[r] = m_new;
  }
}

// A [rows, hd] fp32 matrix with row stride ld, either inside the caller's tensor or widened into a
// buffer owned by the thread.
struct Rows {
  const float* data = nullptr;
  int64_t ld = 0;
};

// Rows of head `h` of a [N, T, hd] tensor as fp32: a view when it is fp32 with unit stride along
// hd, else widened into buf (bf16) or converted (fp32 with other strides).
Rows head_rows(const at::Tensor& t, int64_t h, std::vector<float>& buf) {
  const int64_t rows = t.size(1), hd = t.size(2);
  if (t.scalar_type() == at::kFloat && t.stride(2) == 1)
    return {t.data_ptr<float>() + h * t.stride(0), t.stride(1)};
  buf.resize(static_cast<size_t>(rows * hd));
  if (t.scalar_type() == at::kBFloat16 && t.stride(2) == 1) {
    widen_bf16_rows(reinterpret_cast<const uint16_t*>(t.data_ptr<at::BFloat16>()) + h * t.stride(0),
                    t.stride(1), rows, hd, buf.data());
  } else {
    at::Tensor dst = at::from_blob(buf.data(), {rows, hd}, at::kFloat);
    dst.copy_(t.select(0, h));
  }
  return {buf.data(), hd};
}

// Per-thread scratch, grown on demand and kept between calls (no allocation per block or call).
struct Scratch {
  std::vector<float> q, scores, acc, m, l;
  std::vector<std::vector<float>> k, v;  // one buffer per key part that needs widening
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

bool fused_cpu_supported(const at::Tensor& q, const std::vector<KvPart>& parts) {
  auto ok = [](const at::Tensor& t) {
    return t.defined() && t.device().is_cpu() &&
           (t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16);
  };
  if (!ok(q)) return false;
  for (const auto& p : parts)
    if (!ok(p.k) || !ok(p.v)) return false;
  return true;
}

at::Tensor fused_cpu_attention(const at::Tensor& q, const std::vector<KvPart>& parts,
                               const at::Tensor& mask, double scale, BlockSizes sizes) {
  const int64_t tk_total = check_attention_inputs(q, parts, mask);
  if (!fused_cpu_supported(q, parts))
    throw std::invalid_argument(
        "attention: the fused CPU kernel takes fp32/bf16 CPU tensors (use blocked_attention)");
  const int64_t n = q.size(0), tq = q.size(1), hd = q.size(2);
  const int64_t bq_max = sizes.q_rows > 0 ? sizes.q_rows : kQRows;
  const int64_t bk_max = sizes.k_rows > 0 ? sizes.k_rows : kKRows;
  at::Tensor out = at::empty({n, tq, hd}, q.options().memory_format(at::MemoryFormat::Contiguous));
  if (tq == 0 || n == 0) return out;
  const at::Tensor mask_c = mask.defined() ? mask.contiguous() : mask;
  const float* mask_data = mask_c.defined() ? mask_c.data_ptr<float>() : nullptr;
  const bool out_bf16 = q.scalar_type() == at::kBFloat16;
  const auto fscale = static_cast<float>(scale);

  at::parallel_for(0, n, 1, [&](int64_t h_begin, int64_t h_end) {
    Scratch& sc = scratch();
    sc.k.resize(parts.size());
    sc.v.resize(parts.size());
    sc.scores.resize(static_cast<size_t>(std::min(bq_max, tq) * std::min(bk_max, tk_total)));
    sc.acc.resize(static_cast<size_t>(std::min(bq_max, tq) * hd));
    sc.m.resize(static_cast<size_t>(std::min(bq_max, tq)));
    sc.l.resize(sc.m.size());
    for (int64_t h = h_begin; h < h_end; ++h) {
      const Rows qh = head_rows(q, h, sc.q);
      std::vector<Rows> ks(parts.size()), vs(parts.size());
      for (size_t i = 0; i < parts.size(); ++i) {
        ks[i] = head_rows(parts[i].k, h, sc.k[i]);
        vs[i] = head_rows(parts[i].v, h, sc.v[i]);
      }
      for (int64_t q0 = 0; q0 < tq; q0 += bq_max) {
        const int64_t bq = std::min(bq_max, tq - q0);
        float *acc = sc.acc.data(), *m = sc.m.data(), *l = sc.l.data();
        std::fill(acc, acc + bq * hd, 0.0f);
        std::fill(m, m + bq, kNegInf);
        std::fill(l, l + bq, 0.0f);
        int64_t col = 0;
        for (size_t i = 0; i < parts.size(); ++i) {
          const int64_t tk = parts[i].k.size(1);
          for (int64_t k0 = 0; k0 < tk; k0 += bk_max) {
            const int64_t bk = std::min(bk_max, tk - k0);
            float* s = sc.scores.data();
            // s = scale * q_block k_block^T   [bq, bk]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(bq),
                        static_cast<int>(bk), static_cast<int>(hd), fscale, qh.data + q0 * qh.ld,
                        static_cast<int>(qh.ld), ks[i].data + k0 * ks[i].ld,
                        static_cast<int>(ks[i].ld), 0.0f, s, static_cast<int>(bk));
            const float* mb = mask_data ? mask_data + q0 * tk_total + col + k0 : nullptr;
            softmax_block(s, bq, bk, mb, tk_total, m, l, acc, hd);
            // acc += p v_block   [bq, hd]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(bq),
                        static_cast<int>(hd), static_cast<int>(bk), 1.0f, s, static_cast<int>(bk),
                        vs[i].data + k0 * vs[i].ld, static_cast<int>(vs[i].ld), 1.0f, acc,
                        static_cast<int>(hd));
          }
          col += tk;
        }
        // out = acc / l (0 / 0 = NaN for a row whose keys are all masked, as the softmax gives).
        for (int64_t r = 0; r < bq; ++r) {
          const float inv = 1.0f / l[r];
          const float* ar = acc + r * hd;
          const int64_t row = (h * tq + q0 + r) * hd;
          if (out_bf16) {
            at::BFloat16* dst = out.data_ptr<at::BFloat16>() + row;
            for (int64_t d = 0; d < hd; ++d) dst[d] = at::BFloat16(ar[d] * inv);
          } else {
            float* dst = out.data_ptr<float>() + row;
            for (int64_t d = 0; d < hd; ++d) dst[d] = ar[d] * inv;
          }
        }
      }
    }
  });
  return out;
}

}  // namespace shirg::attention
