#include "engine/llada/llada.h"

#include "engine/attention/attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace shirg::llada {
namespace {

// Weight rows upcast at a time when the storage dtype differs from the compute dtype (bounds the
// temporary: 4096 rows x 4096 columns x 4 bytes = 64 MiB).
constexpr int64_t kUpcastRows = 4096;

at::ScalarType compute_dtype(const LladaW& w) {
  if (w.compute_dtype != at::ScalarType::Undefined) return w.compute_dtype;
  return w.wte.defined() ? w.wte.scalar_type() : at::kFloat;
}

// x [T, in] (compute dtype) @ weight [out, in]^T. A packed weight (same dtype as x: packing
// happens only when storage == compute) runs its own GEMM. A bf16-stored weight under fp32
// compute is upcast in row chunks: fp32 arithmetic on bf16-rounded weights, never a full fp32
// copy.
at::Tensor project(const at::Tensor& x, const gemm::LinearWeight& w) {
  if (w.is_packed() || w.dtype() == x.scalar_type()) return w.forward(x);
  const at::Tensor& weight = w.plain();
  const int64_t out = weight.size(0);
  if (out <= kUpcastRows) return at::linear(x, weight.to(x.scalar_type()));
  std::vector<at::Tensor> parts;
  for (int64_t r = 0; r < out; r += kUpcastRows)
    parts.push_back(
        at::linear(x, weight.narrow(0, r, std::min(kUpcastRows, out - r)).to(x.scalar_type())));
  return at::cat(parts, -1);
}

// RMSNorm in fp32 (weight multiply included), result in `dt`. x: [T, D] fp32.
at::Tensor rms_norm_to(const at::Tensor& x, const at::Tensor& weight, double eps,
                       at::ScalarType dt) {
  auto var = x.pow(2).mean(-1, /*keepdim=*/true);
  return (x * at::rsqrt(var + eps) * weight).to(dt);
}

// softmax(q k^T / sqrt(head_dim) + mask) v over the parts (attention::attend with the model's
// kernel set). q: [H, T, head_dim].
at::Tensor attend(const LladaW& w, const at::Tensor& q, const std::vector<attention::KvPart>& parts,
                  const at::Tensor& mask = {}) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(2)));
  return attention::attend(q, parts, mask, scale, w.kernels);
}

struct Rope {
  at::Tensor cos, sin;  // [T, head_dim] fp32
};

// Tables for positions pos0 .. pos0+T-1: angle = pos * theta^(-2i/head_dim), duplicated halves.
Rope rope_tables(int64_t pos0, int64_t t, int64_t head_dim, double theta, at::Device device) {
  auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
  auto inv_freq =
      1.0 / at::pow(theta, at::arange(0, head_dim, 2, f32) / static_cast<double>(head_dim));
  auto pos = at::arange(pos0, pos0 + t, f32);
  auto freqs = at::outer(pos, inv_freq);  // [T, head_dim/2]
  auto emb = at::cat({freqs, freqs}, -1);
  return {emb.cos(), emb.sin()};
}

// x: [H, T, head_dim] any dtype -> rotated, in dt (computed in fp32).
at::Tensor apply_rope(const at::Tensor& x, const Rope& r, at::ScalarType dt) {
  auto xf = x.to(at::kFloat);
  const int64_t half = xf.size(-1) / 2;
  auto rotated = at::cat({-xf.narrow(-1, half, half), xf.narrow(-1, 0, half)}, -1);
  return (xf * r.cos + rotated * r.sin).to(dt);
}

struct Qkv {
  at::Tensor q, k, v;  // [H, T, head_dim] compute dtype; q, k with RoPE
};

Qkv project_qkv(const at::Tensor& x, const LladaBlockW& b, const LladaConfig& cfg, const Rope& r,
                at::ScalarType dt) {
  const int64_t t = x.size(0), h = cfg.n_heads, hd = cfg.head_dim();
  auto hn = rms_norm_to(x, b.attn_norm, cfg.rms_norm_eps, dt);
  auto qkv = project(hn, b.wqkv).view({t, 3, h, hd}).permute({1, 2, 0, 3});  // [3,H,T,hd]
  return {apply_rope(qkv[0], r, dt), apply_rope(qkv[1], r, dt), qkv[2]};
}

// Attention output projection, residual, MLP, residual. x: [T, D] fp32; attn: [H, T, hd].
at::Tensor finish_block(const at::Tensor& x, const at::Tensor& attn, const LladaBlockW& b,
                        const LladaConfig& cfg, at::ScalarType dt) {
  const int64_t t = x.size(0);
  auto a = attn.permute({1, 0, 2}).reshape({t, cfg.d_model});
  auto h = x + project(a, b.wo).to(at::kFloat);
  auto n = rms_norm_to(h, b.ff_norm, cfg.rms_norm_eps, dt);
  auto gu = project(n, b.w_gate_up);
  const int64_t m = gu.size(1) / 2;
  auto act = at::silu(gu.narrow(1, 0, m)) * gu.narrow(1, m, m);
  return h + project(act, b.w_down).to(at::kFloat);
}

at::Tensor lm_head(const LladaW& w, const LladaConfig& cfg, const at::Tensor& x) {
  const auto dt = compute_dtype(w);
  return project(rms_norm_to(x, w.ln_f, cfg.rms_norm_eps, dt), w.lm_head).to(at::kFloat);
}

void check_ids(const at::Tensor& ids, int64_t rows, const char* what) {
  if (!ids.defined() || ids.dim() != 1 || ids.scalar_type() != at::kLong) {
    throw std::invalid_argument(std::string(what) + ": ids must be a 1-D int64 tensor");
  }
  if (ids.numel() == 0) throw std::invalid_argument(std::string(what) + ": no ids");
  const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
  if (lo < 0 || hi >= rows) {
    throw std::invalid_argument(std::string(what) + ": token id outside [0, " +
                                std::to_string(rows) + ")");
  }
}

void check_prefix(const LladaW& w, const LladaConfig& cfg, const at::Tensor& prefix) {
  if (!prefix.defined() || prefix.dim() != 2 || prefix.size(1) != cfg.d_model ||
      prefix.size(0) < 1) {
    throw std::invalid_argument("llada: prefix must be [P >= 1, d_model]");
  }
  if (!at::isFloatingType(prefix.scalar_type())) {
    throw std::invalid_argument("llada: prefix must be floating point");
  }
}

std::string shape_str(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::ostringstream s;
  s << t.sizes() << " " << c10::toString(t.scalar_type());
  return s.str();
}

}  // namespace

void validate(const LladaW& w, const LladaConfig& cfg) {
  std::vector<std::string> problems;
  if (cfg.d_model <= 0 || cfg.n_heads <= 0 || cfg.d_model % std::max<int64_t>(1, cfg.n_heads)) {
    problems.push_back("d_model must be a positive multiple of n_heads");
  } else if (cfg.head_dim() % 2) {
    problems.push_back("head_dim must be even for RoPE");
  }
  if (cfg.n_kv_heads != 0 && cfg.n_kv_heads != cfg.n_heads) {
    problems.push_back("n_kv_heads != n_heads (grouped-query attention) is not supported");
  }
  if (cfg.mlp_hidden_size <= 0) problems.push_back("mlp_hidden_size must be > 0");
  if (!(cfg.rms_norm_eps > 0) || !(cfg.rope_theta > 0)) {
    problems.push_back("rms_norm_eps and rope_theta must be > 0");
  }
  if (cfg.n_layers != static_cast<int64_t>(w.blocks.size()) || w.blocks.empty()) {
    problems.push_back("n_layers = " + std::to_string(cfg.n_layers) + " but " +
                       std::to_string(w.blocks.size()) + " blocks are loaded");
  }
  if (problems.empty()) {
    const int64_t d = cfg.d_model, m = cfg.mlp_hidden_size;
    const auto dt = w.wte.defined() ? w.wte.scalar_type() : at::kFloat;  // storage
    const auto ct = compute_dtype(w);
    if (dt != at::kFloat && dt != at::kBFloat16)
      problems.push_back("weight storage dtype must be bf16 or fp32");
    if (ct != dt && !(ct == at::kFloat && dt == at::kBFloat16))
      problems.push_back(std::string("compute dtype ") + c10::toString(ct) + " with " +
                         c10::toString(dt) +
                         " weights is not supported (fp32 compute over bf16 "
                         "weights is)");
    auto expect = [&](const std::string& name, const at::Tensor& t, std::vector<int64_t> shape,
                      at::ScalarType st) {
      if (!t.defined() || t.sizes() != at::IntArrayRef(shape) || t.scalar_type() != st) {
        std::ostringstream s;
        s << name << ": expected " << at::IntArrayRef(shape) << " " << c10::toString(st)
          << ", found " << shape_str(t);
        problems.push_back(s.str());
      }
    };
    auto expect_linear = [&](const std::string& name, const gemm::LinearWeight& l,
                             std::vector<int64_t> shape, at::ScalarType st) {
      if (!l.is_packed()) return expect(name, l.plain(), shape, st);
      if (l.sizes() != shape || l.dtype() != st) {
        std::ostringstream s;
        s << name << ": expected " << at::IntArrayRef(shape) << " " << c10::toString(st)
          << ", found packed " << at::IntArrayRef(l.sizes()) << " " << c10::toString(l.dtype());
        problems.push_back(s.str());
      }
    };
    const int64_t v = w.wte.defined() ? w.wte.size(0) : 0;
    expect("wte", w.wte, {v, d}, dt);
    expect_linear("lm_head", w.lm_head, {w.lm_head.defined() ? w.lm_head.sizes()[0] : 0, d}, dt);
    expect("ln_f", w.ln_f, {d}, at::kFloat);
    for (size_t i = 0; i < w.blocks.size(); ++i) {
      const auto& b = w.blocks[i];
      const std::string p = "blocks." + std::to_string(i) + ".";
      expect(p + "attn_norm", b.attn_norm, {d}, at::kFloat);
      expect_linear(p + "wqkv", b.wqkv, {3 * d, d}, dt);
      expect_linear(p + "wo", b.wo, {d, d}, dt);
      expect(p + "ff_norm", b.ff_norm, {d}, at::kFloat);
      expect_linear(p + "w_gate_up", b.w_gate_up, {2 * m, d}, dt);
      expect_linear(p + "w_down", b.w_down, {d, m}, dt);
    }
  }
  if (!problems.empty()) {
    std::string msg = "llada: invalid weights/config:";
    for (const auto& p : problems) msg += "\n  " + p;
    throw std::invalid_argument(msg);
  }
}

int pack_weights(LladaW& w, gemm::WeightLayout layout) {
  if (layout == gemm::WeightLayout::kPlain) return 0;
  const auto ct = compute_dtype(w);
  int packed = 0;
  for (gemm::LinearWeight* l : w.matrices()) {
    if (!l->defined() || l->is_packed()) continue;
    if (l->dtype() != ct) {
      if (layout == gemm::WeightLayout::kPacked)
        throw std::runtime_error(std::string("cannot pack ") + c10::toString(l->dtype()) +
                                 " LLaDA weights for " + c10::toString(ct) + " compute");
      continue;
    }
    *l = l->packed(layout);
    packed += l->is_packed() ? 1 : 0;
  }
  return packed;
}

at::Tensor embed_tokens(const LladaW& w, const std::vector<int64_t>& ids) {
  const int64_t rows = w.wte.size(0);
  for (int64_t id : ids) {
    if (id < 0 || id >= rows) {
      throw std::invalid_argument("embed_tokens: token id " + std::to_string(id) + " outside [0, " +
                                  std::to_string(rows) + ")");
    }
  }
  auto idx = at::tensor(ids, at::TensorOptions().dtype(at::kLong)).to(w.wte.device());
  return w.wte.index_select(0, idx).to(compute_dtype(w));
}

at::Tensor splice_visual(const LladaW& w, const std::vector<int64_t>& ids,
                         const std::vector<VisualInsert>& inserts) {
  const auto t = static_cast<int64_t>(ids.size());
  const auto dt = compute_dtype(w);
  const auto dev = w.wte.device();
  std::vector<at::Tensor> pieces;
  int64_t at_id = 0;
  for (const VisualInsert& v : inserts) {
    if (v.pos < at_id || v.pos > t)
      throw std::invalid_argument("splice_visual: insert positions must ascend within [0, " +
                                  std::to_string(t) + "], got " + std::to_string(v.pos));
    if (!v.tokens.defined() || v.tokens.dim() != 2 || v.tokens.size(1) != w.wte.size(1))
      throw std::invalid_argument("splice_visual: visual tokens must be [N, d_model], got " +
                                  shape_str(v.tokens));
    if (v.pos > at_id)
      pieces.push_back(embed_tokens(w, {ids.begin() + at_id, ids.begin() + v.pos}));
    pieces.push_back(v.tokens.to(dev, dt));
    at_id = v.pos;
  }
  if (at_id < t) pieces.push_back(embed_tokens(w, {ids.begin() + at_id, ids.end()}));
  if (pieces.empty()) return at::empty({0, w.wte.size(1)}, w.wte.options().dtype(dt));
  return pieces.size() == 1 ? pieces[0] : at::cat(pieces, 0);
}

kv::PrefixCache prefill(const LladaW& w, const LladaConfig& cfg, const at::Tensor& prefix,
                        kv::CacheDType dtype, const std::function<void()>& after_layer) {
  validate(w, cfg);
  check_prefix(w, cfg, prefix);
  const auto dt = compute_dtype(w);
  const int64_t p = prefix.size(0), n_layers = static_cast<int64_t>(w.blocks.size());
  const auto dev = w.wte.device();
  auto rope = rope_tables(0, p, cfg.head_dim(), cfg.rope_theta, dev);
  auto x = prefix.to(dev, at::kFloat);
  kv::PrefixCacheBuilder builder(n_layers, dtype);
  for (int64_t l = 0; l < n_layers; ++l) {
    const auto& b = w.blocks[static_cast<size_t>(l)];
    auto qkv = project_qkv(x, b, cfg, rope, dt);
    builder.add_layer(qkv.k, qkv.v);
    // The last layer's output feeds only the LM head, which prefix rows never use.
    if (l + 1 == n_layers) break;
    x = finish_block(x, attend(w, qkv.q, {{qkv.k, qkv.v}}), b, cfg, dt);
    if (after_layer) after_layer();
  }
  return builder.finish();
}

std::vector<at::Tensor> answer_logits_batch(const LladaW& w, const LladaConfig& cfg,
                                            const std::vector<AnswerRows>& batch) {
  if (batch.empty()) return {};
  const int64_t n_layers = static_cast<int64_t>(w.blocks.size());
  const auto dev = w.wte.device();
  std::vector<int64_t> offset, len;
  std::vector<at::Tensor> ids, cos, sin;
  // Some logits not wanted: the last layer runs on the wanted rows only, given per request
  // (local positions, `wanted`) and stacked (global rows, `wanted_rows`).
  const bool prune_last = std::any_of(batch.begin(), batch.end(),
                                      [](const AnswerRows& r) { return !r.logit_rows.empty(); });
  std::vector<at::Tensor> wanted;
  std::vector<int64_t> wanted_rows, wanted_len;
  int64_t rows = 0;
  for (const AnswerRows& r : batch) {
    if (r.cache == nullptr) throw std::invalid_argument("answer_logits: no prefix cache");
    const kv::PrefixCache& cache = *r.cache;
    if (cache.n_layers() != n_layers || cache.n_heads() != cfg.n_heads ||
        cache.head_dim() != cfg.head_dim()) {
      throw std::invalid_argument("answer_logits: the cache (" + cache.describe() +
                                  ") does not match the model");
    }
    check_ids(r.answer_ids, w.wte.size(0), "answer_logits");
    const int64_t l = r.answer_ids.size(0);
    auto rope = rope_tables(cache.prefix_len(), l, cfg.head_dim(), cfg.rope_theta, dev);
    cos.push_back(rope.cos);
    sin.push_back(rope.sin);
    ids.push_back(r.answer_ids.to(dev));
    for (int64_t i : r.logit_rows) {
      if (i < 0 || i >= l)
        throw std::invalid_argument("answer_logits: logit row " + std::to_string(i) +
                                    " outside the answer [0, " + std::to_string(l) + ")");
    }
    wanted_len.push_back(r.logit_rows.empty() ? l : static_cast<int64_t>(r.logit_rows.size()));
    if (prune_last) {
      std::vector<int64_t> local = r.logit_rows;
      if (local.empty()) {
        local.resize(static_cast<size_t>(l));
        std::iota(local.begin(), local.end(), int64_t{0});
      }
      for (int64_t i : local) wanted_rows.push_back(rows + i);
      wanted.push_back(at::tensor(local, at::TensorOptions().dtype(at::kLong)).to(dev));
    }
    offset.push_back(rows);
    len.push_back(l);
    rows += l;
  }
  const auto dt = compute_dtype(w);
  const bool single = batch.size() == 1;
  const Rope rope = single ? Rope{cos[0], sin[0]} : Rope{at::cat(cos, 0), at::cat(sin, 0)};
  auto x = w.wte.index_select(0, single ? ids[0] : at::cat(ids, 0)).to(at::kFloat);
  for (int64_t i = 0; i < n_layers; ++i) {
    const auto& b = w.blocks[static_cast<size_t>(i)];
    auto qkv = project_qkv(x, b, cfg, rope, dt);  // [H, rows, hd]: every request's answer rows
    // The last layer only needs the wanted rows' outputs: their queries attend to every key.
    const bool prune = prune_last && i == n_layers - 1;
    // Attention per request: its rows see its own frozen prefix and its own answer rows.
    std::vector<at::Tensor> attn;
    for (size_t r = 0; r < batch.size(); ++r) {
      auto rows_of = [&](const at::Tensor& t) { return t.narrow(1, offset[r], len[r]); };
      const kv::PrefixCache& cache = *batch[r].cache;
      const at::Tensor q = prune ? rows_of(qkv.q).index_select(1, wanted[r]) : rows_of(qkv.q);
      attn.push_back(
          attend(w, q, {{cache.keys(i), cache.values(i)}, {rows_of(qkv.k), rows_of(qkv.v)}}));
    }
    if (prune)
      x = x.index_select(0, at::tensor(wanted_rows, at::TensorOptions().dtype(at::kLong)).to(dev));
    x = finish_block(x, single ? attn[0] : at::cat(attn, 1), b, cfg, dt);
  }
  auto logits = lm_head(w, cfg, x);
  std::vector<at::Tensor> out;
  int64_t at_row = 0;
  for (size_t r = 0; r < batch.size(); ++r) {
    out.push_back(logits.narrow(0, at_row, wanted_len[r]));
    at_row += wanted_len[r];
  }
  return out;
}

at::Tensor answer_logits(const LladaW& w, const LladaConfig& cfg, const kv::PrefixCache& cache,
                         const at::Tensor& answer_ids) {
  return answer_logits_batch(w, cfg, {AnswerRows{&cache, answer_ids, {}}})[0];
}

at::Tensor prefix_dlm_logits(const LladaW& w, const LladaConfig& cfg, const at::Tensor& prefix,
                             const at::Tensor& answer_ids) {
  validate(w, cfg);
  check_prefix(w, cfg, prefix);
  check_ids(answer_ids, w.wte.size(0), "prefix_dlm_logits");
  const auto dt = compute_dtype(w);
  const int64_t p = prefix.size(0), l = answer_ids.size(0), s = p + l;
  auto answer = w.wte.index_select(0, answer_ids.to(w.wte.device())).to(dt);
  auto x = at::cat({prefix.to(answer.device(), dt), answer}, 0).to(at::kFloat);
  auto rope = rope_tables(0, s, cfg.head_dim(), cfg.rope_theta, answer.device());
  // Prefix rows must not see answer columns; answer rows see everything.
  auto mask = at::zeros({s, s}, x.options());
  mask.narrow(0, 0, p).narrow(1, p, l).fill_(-std::numeric_limits<float>::infinity());
  for (const auto& b : w.blocks) {
    auto qkv = project_qkv(x, b, cfg, rope, dt);
    x = finish_block(x, attend(w, qkv.q, {{qkv.k, qkv.v}}, mask), b, cfg, dt);
  }
  return lm_head(w, cfg, x.narrow(0, p, l));
}

}  // namespace shirg::llada
