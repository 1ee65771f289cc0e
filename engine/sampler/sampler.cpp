#include "engine/sampler/sampler.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>

namespace shirg::sampler {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<int64_t> uniform_schedule(int64_t masked, int64_t steps) {
  std::vector<int64_t> n(static_cast<size_t>(steps), masked / steps);
  for (int64_t i = 0; i < masked % steps; ++i) ++n[static_cast<size_t>(i)];
  return n;
}

std::vector<int64_t> shift_schedule(int64_t masked, int64_t steps, double s) {
  // float32 tensor arithmetic, exactly as LaViDa's reference computes it.
  auto t = at::linspace(0, 1, steps + 1, at::TensorOptions().dtype(at::kFloat));
  auto sigma = (t * s) / (t * (s - 1.0) + 1);
  auto c = (sigma * static_cast<double>(masked)).to(at::kLong).contiguous();
  const int64_t* cp = c.data_ptr<int64_t>();
  std::vector<int64_t> n(static_cast<size_t>(steps));
  for (int64_t i = 0; i < steps; ++i)
    n[static_cast<size_t>(i)] = std::max<int64_t>(1, cp[i + 1] - cp[i]);
  int64_t excess = std::accumulate(n.begin(), n.end(), int64_t{0}) - masked;
  for (size_t j = 0; excess > 0; j = (j + 1) % n.size()) {
    if (n[j] > 1) {
      --n[j];
      --excess;
    }
  }
  if (excess < 0) n.back() -= excess;
  std::reverse(n.begin(), n.end());
  return n;
}

bool is_stop(int64_t id, const SamplerIds& sids) {
  return std::find(sids.stop.begin(), sids.stop.end(), id) != sids.stop.end();
}

// True when a stop token is committed with every position before it committed.
bool answer_final(const at::Tensor& x, const SamplerIds& sids) {
  const int64_t* p = x.data_ptr<int64_t>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (p[i] == sids.mask) return false;
    if (is_stop(p[i], sids)) return true;
  }
  return false;
}

// logits [n, V] -> fp32 CPU copy with excluded ids at -inf.
at::Tensor restrict_logits(const at::Tensor& logits, const SamplerIds& sids) {
  auto r = logits.to(at::kCPU, at::kFloat, /*non_blocking=*/false, /*copy=*/true);
  const int64_t v = r.size(1);
  const int64_t limit = sids.vocab_limit > 0 ? std::min(sids.vocab_limit, v) : v;
  const float neg = -std::numeric_limits<float>::infinity();
  if (limit < v) r.narrow(1, limit, v - limit).fill_(neg);
  auto exclude = [&](int64_t id) {
    if (id >= 0 && id < v) r.select(1, id).fill_(neg);
  };
  exclude(sids.mask);
  for (int64_t id : sids.never_choose) exclude(id);
  if (!(r.amax(1).min().item<float>() > neg)) {
    throw std::invalid_argument("sampler: every token id is excluded (vocab_limit/never_choose)");
  }
  return r;
}

}  // namespace

std::vector<int64_t> transfer_schedule(int64_t masked, int64_t steps, TransferSchedule s,
                                       double shift) {
  if (masked < 1) throw std::invalid_argument("transfer_schedule: masked must be >= 1");
  steps = std::clamp<int64_t>(steps, 1, masked);
  if (s == TransferSchedule::kShift) {
    if (!std::isfinite(shift) || shift <= 0) {
      throw std::invalid_argument("transfer_schedule: shift must be finite and > 0");
    }
    return shift_schedule(masked, steps, shift);
  }
  return uniform_schedule(masked, steps);
}

at::Tensor confidence(const at::Tensor& logits, const at::Tensor& x0, Remasking rule,
                      at::Generator& gen) {
  const int64_t l = logits.size(0);
  if (rule == Remasking::kRandom) {
    return at::rand({l}, gen, at::TensorOptions().dtype(at::kDouble));
  }
  auto lp = at::log_softmax(logits.to(at::kDouble), 1);
  switch (rule) {
    case Remasking::kLowConfidence:
      return lp.gather(1, x0.view({l, 1})).view({l}).exp();
    case Remasking::kEntropy: {
      auto p = lp.exp();
      return (p * (p + 1e-10).log()).sum(1);
    }
    case Remasking::kMargin: {
      auto p = lp.exp();
      if (p.size(1) < 2) return std::get<0>(p.max(1));
      auto top = std::get<0>(p.topk(2, 1));
      return top.select(1, 0) - top.select(1, 1);
    }
    default:
      throw std::invalid_argument("confidence: unknown remasking rule");
  }
}

at::Generator request_generator(uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  if ((seed >> 32) == 0) return gen;  // PyTorch's own stream (torch.manual_seed(seed))
  // PyTorch's mt19937 keeps only the low 32 bits of a seed; the whole 624-word state is made
  // from both halves instead (std::seed_seq), so every uint64 seed gives its own stream.
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  at::mt19937 engine(seed);
  at::mt19937_data_pod d = engine.data();
  seq.generate(d.state_.begin(), d.state_.end());
  d.state_[0] |= 0x80000000u;  // never the all-zero state
  d.seed_ = seed;
  d.seeded_ = true;
  d.left_ = 1;
  d.next_ = 0;
  engine.set_data(d);
  gen.get<at::CPUGeneratorImpl>()->set_engine(engine);
  return gen;
}

SamplerState::SamplerState(const GenerationOptions& opts_in, const SamplerIds& sids)
    : opts_(opts_in), sids_(sids) {
  const std::string err = resolve_options(opts_);
  if (!err.empty()) throw std::invalid_argument("sampler: " + err);
  if (sids_.mask < 0) throw std::invalid_argument("sampler: the mask id is not set");
  ids_ = at::full({opts_.gen_length}, sids_.mask, at::TensorOptions().dtype(at::kLong));
  gen_ = request_generator(opts_.seed);
  per_block_ = block_steps(opts_);
  load_block();
}

void SamplerState::load_block() {
  schedule_ =
      transfer_schedule(opts_.block_length, per_block_[block_], opts_.schedule, opts_.shift);
  in_block_ = 0;
}

std::vector<int64_t> SamplerState::logit_rows() const {
  std::vector<int64_t> rows;
  if (done()) return rows;
  const int64_t start = block_ * opts_.block_length;
  const int64_t* x = ids_.data_ptr<int64_t>();
  for (int64_t i = start; i < start + opts_.block_length; ++i)
    if (x[i] == sids_.mask) rows.push_back(i);
  return rows;
}

void SamplerState::step(const at::Tensor& logits) {
  if (done()) throw std::logic_error("sampler: step() after the answer is final");
  const int64_t len = opts_.gen_length;
  int64_t* x = ids_.data_ptr<int64_t>();
  // The candidates: the still-masked positions of the current block, ascending.
  const std::vector<int64_t> cand_rows = logit_rows();
  const int64_t n_rows = static_cast<int64_t>(cand_rows.size());
  if (!logits.defined() || logits.dim() != 2 || logits.size(1) < 1 ||
      (logits.size(0) != len && logits.size(0) != n_rows)) {
    throw std::invalid_argument(
        "sampler: the logits must be [gen_length, V] or [logit_rows().size(), V]");
  }
  const auto index = at::tensor(cand_rows, at::TensorOptions().dtype(at::kLong));
  // Row k of everything below belongs to position cand_rows[k]. The random draws cover all L
  // positions (the request's stream does not depend on which rows were computed).
  const bool select = logits.size(0) != n_rows;  // [L, V] given, some rows not needed
  auto r =
      restrict_logits(select ? logits.index_select(0, index.to(logits.device())) : logits, sids_);
  auto rows_of = [&](const at::Tensor& all) { return all.index_select(0, index); };
  at::Tensor x0;
  if (opts_.temperature > 0) {
    auto ld = r.to(at::kDouble);
    auto u = rows_of(at::rand({len, r.size(1)}, gen_, ld.options()));
    auto noisy = (ld - std::get<0>(ld.max(1, true))).exp() / (-u.log()).pow(opts_.temperature);
    x0 = noisy.argmax(1);
  } else {
    x0 = r.argmax(1);
  }
  auto conf = opts_.remasking == Remasking::kRandom
                  ? rows_of(at::rand({len}, gen_, at::TensorOptions().dtype(at::kDouble)))
                  : confidence(r, x0, opts_.remasking, gen_);
  conf = conf.contiguous();
  const double* cp = conf.data_ptr<double>();
  const int64_t* xp = x0.data_ptr<int64_t>();
  std::vector<int64_t> order(static_cast<size_t>(n_rows));
  std::iota(order.begin(), order.end(), int64_t{0});
  // Highest confidence first; ties to the lower position. NaN confidence sorts last.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t c) {
    const double ca = std::isnan(cp[a]) ? -kInf : cp[a];
    const double cc = std::isnan(cp[c]) ? -kInf : cp[c];
    return ca > cc;
  });
  const int64_t n_commit = schedule_[static_cast<size_t>(in_block_)];
  const int64_t n = std::min<int64_t>(n_commit, n_rows);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t row = order[static_cast<size_t>(k)];
    x[cand_rows[static_cast<size_t>(row)]] = xp[row];
  }
  ++steps_run_;
  if (sids_.stop_early && answer_final(ids_, sids_)) {
    stop_token_ = true;
    return;
  }
  if (++in_block_ == static_cast<int64_t>(schedule_.size()) &&
      ++block_ < static_cast<int64_t>(per_block_.size()))
    load_block();
}

bool SamplerState::done() const {
  return stop_token_ || block_ >= static_cast<int64_t>(per_block_.size());
}

SamplerResult generate(const GenerationOptions& opts, const SamplerIds& sids,
                       const LogitsFn& logits_fn, const StepFn& on_step) {
  if (!logits_fn) throw std::invalid_argument("sampler: no logits function");
  SamplerState state(opts, sids);
  SamplerResult res;
  while (!state.done()) {
    state.step(logits_fn(state.ids()));
    if (on_step && !on_step(state.steps_run(), state.total_steps(), state.ids())) {
      res.stopped = true;
      break;
    }
  }
  res.ids = state.ids();
  res.steps_run = state.steps_run();
  res.stop_token = !res.stopped && state.stop_token();
  return res;
}

std::vector<int64_t> answer_tokens(const at::Tensor& ids, const SamplerIds& sids) {
  auto c = ids.to(at::kCPU, at::kLong).contiguous();
  const int64_t* p = c.data_ptr<int64_t>();
  std::vector<int64_t> out;
  for (int64_t i = 0; i < c.numel(); ++i) {
    if (p[i] == sids.mask || is_stop(p[i], sids)) break;
    out.push_back(p[i]);
  }
  return out;
}

}  // namespace shirg::sampler
