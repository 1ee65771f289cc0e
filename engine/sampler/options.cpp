// resolve_options / block_steps / transfer_schedule's uniform part: no LibTorch calls.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/sampler/sampler.h"

namespace shirg::sampler {

std::string resolve_options(GenerationOptions& o) {
  if (o.gen_length < 1 || o.gen_length > kMaxGenLength) {
    return "gen_length must be in [1, " + std::to_string(kMaxGenLength) + "], got " +
           std::to_string(o.gen_length);
  }
  if (o.block_length < 1) {
    return "block_length must be >= 1, got " + std::to_string(o.block_length);
  }
  if (o.block_length > o.gen_length) o.block_length = o.gen_length;
  if (o.gen_length % o.block_length != 0) {
    return "block_length (" + std::to_string(o.block_length) + ") must divide gen_length (" +
           std::to_string(o.gen_length) + ")";
  }
  if (!std::isfinite(o.step_ratio) || o.step_ratio < 0) {
    return "step_ratio must be a finite number >= 0";
  }
  if (o.steps_per_block < 0) {
    return "steps_per_block must be >= 0, got " + std::to_string(o.steps_per_block);
  }
  if (o.step_ratio > 0 && o.steps_per_block > 0) {
    return "set at most one of step_ratio and steps_per_block";
  }
  const int64_t blocks = o.gen_length / o.block_length;
  if (o.step_ratio > 0 || o.steps_per_block > 0) {
    // LaViDa: int((gen_length / blocks) * step_ratio) steps in every block (a double product,
    // truncated), clamped to [1, block_length] (more steps than masks is LaViDa's crash).
    int64_t per_block = o.steps_per_block;
    if (o.step_ratio > 0) {
      const double s =
          (static_cast<double>(o.gen_length) / static_cast<double>(blocks)) * o.step_ratio;
      per_block =
          s >= static_cast<double>(o.block_length) ? o.block_length : static_cast<int64_t>(s);
    }
    per_block = std::min(std::max<int64_t>(per_block, 1), o.block_length);
    o.steps = per_block * blocks;
    o.step_ratio = 0;
    o.steps_per_block = 0;
  }
  if (o.steps < 1) return "steps must be >= 1, got " + std::to_string(o.steps);
  if (o.steps > o.gen_length) o.steps = o.gen_length;  // at most one step per masked token
  if (o.steps < blocks) o.steps = blocks;              // every block needs a step
  if (!std::isfinite(o.temperature) || o.temperature < 0 || o.temperature > kMaxTemperature) {
    return "temperature must be in [0, " + std::to_string(static_cast<int>(kMaxTemperature)) + "]";
  }
  switch (o.remasking) {
    case Remasking::kLowConfidence:
    case Remasking::kRandom:
    case Remasking::kEntropy:
    case Remasking::kMargin:
      break;
    default:
      return "unknown remasking rule";
  }
  switch (o.schedule) {
    case TransferSchedule::kUniform:
      break;
    case TransferSchedule::kShift:
      if (!std::isfinite(o.shift) || o.shift <= 0) return "shift must be a finite number > 0";
      break;
    default:
      return "unknown transfer schedule";
  }
  return "";
}

std::vector<int64_t> block_steps(const GenerationOptions& o) {
  const int64_t blocks = o.gen_length / o.block_length;
  std::vector<int64_t> out(static_cast<size_t>(blocks), o.steps / blocks);
  for (int64_t b = 0; b < o.steps % blocks; ++b) ++out[static_cast<size_t>(b)];
  return out;
}

}  // namespace shirg::sampler
