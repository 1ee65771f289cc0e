#pragma once
// LaViDa's masked-diffusion sampler (semi-autoregressive blocks, confidence-based remasking).
//
// Semantics (lavida.md "Generation"), with these documented decisions:
//  - Steps: opts.steps is the TOTAL number of denoising steps (LaViDa's step_ratio > 0 replaces
//    it by blocks x int((gen_length / blocks) * step_ratio), steps_per_block > 0 by blocks x
//    steps_per_block: the same in every block, as LaViDa's generate()). They are split over the
//    gen_length / block_length blocks: block b gets steps / blocks steps, plus one for the first
//    steps % blocks blocks.
//    resolve_options() clamps steps to [blocks, gen_length] so every block gets between 1 and
//    block_length steps (LaViDa crashes when steps exceed the mask count).
//  - Each step: logits [L, V] fp32 for all answer positions (or only the rows of logit_rows(),
//    the only ones a step reads). Ids >= vocab_limit and the ids in
//    never_choose (the mask token) get -inf first, so they are never chosen and carry no
//    probability. T > 0: x0 = argmax exp(logits - rowmax) / (-log u)^T with u ~ U[0,1) float64
//    drawn from the request's generator (request_generator(opts.seed)) for the whole [L, V] logits;
//    T = 0: x0 = argmax logits. The rowmax shift only guards exp() against overflow: the
//    argmax is the same as LaViDa's exp(logits) / (-log u)^T.
//  - Confidence of x0 (float64, from the un-noised restricted logits): low_confidence = p(x0);
//    random = u ~ U[0,1) float64 from the same generator (drawn after the Gumbel noise);
//    entropy = sum p log(p + 1e-10) (higher = more certain); margin = p(top1) - p(top2).
//  - Positions outside the current block or already committed get -inf; the top-n (n from the
//    transfer schedule of the step) are committed. Ties go to the lower position.
//  - Early stop (SamplerIds::stop_early): once a stop token is committed and every position before
//    it is committed, the decoded answer cannot change any more, so generation ends there.
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/api/request.h"

namespace shirg::sampler {

struct SamplerIds {
  int64_t mask = -1;                  // the mask token <|mdm_mask|>
  int64_t vocab_limit = 0;            // ids >= this are never chosen (0 = no limit)
  std::vector<int64_t> stop;          // <|eot_id|>, <|endoftext|>
  std::vector<int64_t> never_choose;  // e.g. the mask token (mask is always excluded anyway)
  bool stop_early = true;             // see the header comment
};

using LogitsFn =
    std::function<at::Tensor(const at::Tensor& answer_ids)>;  // [L] int64 -> [L, V] fp32
// Called after each step with the 1-based step number; return false to stop (cancel/deadline).
using StepFn = std::function<bool(int64_t step, int64_t total, const at::Tensor& answer_ids)>;

struct SamplerResult {
  at::Tensor ids;  // [L] int64; positions never committed hold the mask id
  int64_t steps_run = 0;
  bool stopped = false;     // on_step returned false
  bool stop_token = false;  // ended early on a stop token (answer final)
};

// Upper bounds accepted by resolve_options.
inline constexpr int64_t kMaxGenLength = 4096;
inline constexpr double kMaxTemperature = 100.0;

// Validates and normalises opts in place. Returns "" when usable, else a user-facing error and
// leaves opts unspecified. Rules:
//  gen_length in [1, kMaxGenLength]; block_length >= 1, block_length > gen_length is clamped to
//  gen_length, and it must then divide gen_length (else rejected); step_ratio finite and >= 0,
//  steps_per_block >= 0, not both > 0; when one is > 0, per-block steps = int(block_length *
//  step_ratio) or steps_per_block, clamped to [1, block_length], steps = blocks x that, and both
//  are reset to 0; steps >= 1 and
//  then clamped to [number of blocks, gen_length]; temperature finite in [0, kMaxTemperature];
//  shift finite and > 0 when the shift schedule is used; enum values must be known.
std::string resolve_options(GenerationOptions& opts);

// Steps of each block for resolved options (sums to opts.steps).
std::vector<int64_t> block_steps(const GenerationOptions& opts);

// Tokens committed per step for `masked` masked positions over `steps` steps (steps is first
// clamped to [1, masked]); always sums to `masked` with every entry >= 1 (masked >= 1).
//  uniform: masked / steps each, the remainder front-loaded (+1 on the first steps).
//  shift: LaViDa's float32 arithmetic: t = linspace(0, 1, steps + 1) (float32),
//    sigma = s * t / (1 + (s - 1) * t), c = int64(sigma * masked) (truncation), n = diff(c)
//    clamped to >= 1; while sum > masked, decrement entries > 1 round-robin from the first;
//    if sum < masked (float32 rounding at t = 1) the last entry takes the rest; then reversed.
// Throws std::invalid_argument for masked < 1 or (shift) s not finite and > 0.
std::vector<int64_t> transfer_schedule(int64_t masked, int64_t steps, TransferSchedule s,
                                       double shift);

// Per-position confidence [L] float64 of the chosen ids x0 [L] under `rule`, from restricted
// logits [L, V] (excluded ids already -inf). `gen` draws for kRandom.
at::Tensor confidence(const at::Tensor& logits, const at::Tensor& x0, Remasking rule,
                      at::Generator& gen);

// The request's random stream for `seed` (any uint64). Seeds below 2^32 give exactly PyTorch's
// CPU generator after torch.manual_seed(seed) (LaViDa's stream); larger ones fill the whole
// mt19937 state from both 32-bit halves (PyTorch itself would drop the high half).
at::Generator request_generator(uint64_t seed);

// One request's sampler, advanced one denoising step at a time by whoever computes the logits
// (the scheduler batches the LLaDA call across requests; generate() below is the one-request
// loop). Owns the answer ids, the block/step position and the request's random stream.
// Not thread-safe; one owner at a time.
class SamplerState {
 public:
  // opts must pass resolve_options (checked again: throws std::invalid_argument otherwise);
  // sids.mask must be set.
  SamplerState(const GenerationOptions& opts, const SamplerIds& sids);

  // The current answer ids [L] int64 (CPU): feed them to the model for the next step's logits.
  const at::Tensor& ids() const { return ids_; }
  // The answer positions whose logits the next step() reads, ascending: the still-masked
  // positions of the current block (never empty before done()). No other position can change in
  // that step, so a caller may compute the logits of these rows only.
  std::vector<int64_t> logit_rows() const;
  // Commits this step's tokens from `logits`: [L, V] (every position) or [logit_rows().size(), V]
  // (those rows, in that order); any float dtype/device, copied to fp32 CPU. Both give the same
  // tokens and consume the same random draws. Throws std::logic_error when done(),
  // std::invalid_argument for a wrong logits shape.
  void step(const at::Tensor& logits);
  // No more steps: every block ran its schedule, or a stop token made the answer final.
  bool done() const;
  int64_t steps_run() const { return steps_run_; }
  int64_t total_steps() const { return opts_.steps; }
  bool stop_token() const { return stop_token_; }             // ended early on a stop token
  const GenerationOptions& options() const { return opts_; }  // resolved

 private:
  void load_block();

  GenerationOptions opts_;
  SamplerIds sids_;
  at::Tensor ids_;
  at::Generator gen_;
  std::vector<int64_t> per_block_, schedule_;
  int64_t block_ = 0, in_block_ = 0, steps_run_ = 0;
  bool stop_token_ = false;
};

// Runs the sampler to the end: a loop of SamplerState::step. opts must have passed
// resolve_options (checked again: throws std::invalid_argument otherwise). `logits` is called
// once per step.
SamplerResult generate(const GenerationOptions& opts, const SamplerIds& ids, const LogitsFn& logits,
                       const StepFn& on_step);

// The committed ids before the first stop token (or the first still-masked position).
std::vector<int64_t> answer_tokens(const at::Tensor& ids, const SamplerIds& sids);

}  // namespace shirg::sampler
