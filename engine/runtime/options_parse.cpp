#include "engine/runtime/options_parse.h"

#include <stdexcept>

#include "engine/model/compute_dtype.h"
#include "engine/runtime/pipeline.h"

namespace shirg {

at::ScalarType parse_dtype_flag(const std::string& s, const at::Device& device) {
  return parse_compute_dtype(s, device);
}

at::ScalarType parse_llm_weights_flag(const std::string& s) {
  if (s == "auto") return at::ScalarType::Undefined;
  if (s == "bf16") return at::kBFloat16;
  if (s == "fp32") return at::kFloat;
  throw std::invalid_argument("LLaDA weight storage must be auto, bf16 or fp32, got '" + s + "'");
}

std::optional<Remasking> parse_remasking(const std::string& s) {
  if (s == "low_confidence") return Remasking::kLowConfidence;
  if (s == "random") return Remasking::kRandom;
  if (s == "entropy") return Remasking::kEntropy;
  if (s == "margin") return Remasking::kMargin;
  return std::nullopt;
}

std::optional<TransferSchedule> parse_schedule(const std::string& s) {
  if (s == "uniform") return TransferSchedule::kUniform;
  if (s == "shift") return TransferSchedule::kShift;
  return std::nullopt;
}

const char* remasking_name(Remasking r) {
  switch (r) {
    case Remasking::kLowConfidence:
      return "low_confidence";
    case Remasking::kRandom:
      return "random";
    case Remasking::kEntropy:
      return "entropy";
    case Remasking::kMargin:
      return "margin";
  }
  return "?";
}

const char* schedule_name(TransferSchedule s) {
  return s == TransferSchedule::kShift ? "shift" : "uniform";
}

bool parse_request_flag(const std::string& a, const std::function<std::string()>& next,
                        GenerateRequest* req) {
  auto& g = req->generation;
  auto& s = req->selection;
  auto integer = [&] {
    const std::string v = next();
    std::size_t used = 0;
    const long long x = std::stoll(v, &used);
    if (used != v.size()) throw std::invalid_argument(a + ": not an integer: " + v);
    return static_cast<int64_t>(x);
  };
  if (a == "--mode") {
    const std::string v = next();
    auto m = parse_selection_mode(v);
    if (!m) throw std::invalid_argument("unknown --mode '" + v + "'");
    s.mode = *m;
  } else if (a == "--k") {
    s.k = integer();
  } else if (a == "--adaptive-k") {
    s.adaptive_k = true;
  } else if (a == "--k-min") {
    s.k_min = integer();
  } else if (a == "--k-max") {
    s.k_max = integer();
  } else if (a == "--query-aware") {
    s.query_aware = true;
  } else if (a == "--gen-length") {
    g.gen_length = integer();
  } else if (a == "--block-length") {
    g.block_length = integer();
  } else if (a == "--steps") {
    g.steps = integer();
  } else if (a == "--step-ratio") {
    g.step_ratio = std::stod(next());
  } else if (a == "--steps-per-block") {
    g.steps_per_block = integer();
  } else if (a == "--temperature") {
    g.temperature = std::stod(next());
  } else if (a == "--remasking") {
    const std::string v = next();
    auto r = parse_remasking(v);
    if (!r) throw std::invalid_argument("unknown --remasking '" + v + "'");
    g.remasking = *r;
  } else if (a == "--schedule") {
    const std::string v = next();
    auto r = parse_schedule(v);
    if (!r) throw std::invalid_argument("unknown --schedule '" + v + "'");
    g.schedule = *r;
  } else if (a == "--shift") {
    g.shift = std::stod(next());
  } else if (a == "--seed") {
    const std::string v = next();
    std::size_t used = 0;
    const bool digits = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
    const unsigned long long x = digits ? std::stoull(v, &used) : 0;  // throws out_of_range
    if (!digits || used != v.size())
      throw std::invalid_argument(a + ": not an integer in [0, 2^64 - 1]: " + v);
    g.seed = static_cast<uint64_t>(x);
  } else {
    return false;
  }
  return true;
}

}  // namespace shirg
