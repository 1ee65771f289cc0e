#pragma once
// Command-line spellings of the request options, shared by the offline tool and the benchmarks.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <functional>
#include <optional>
#include <string>

#include "engine/api/request.h"

namespace shirg {

// "auto" | "bf16" | "fp32" for a model on `device` (auto: see engine/model/compute_dtype.h);
// throws std::invalid_argument.
at::ScalarType parse_dtype_flag(const std::string& s, const at::Device& device);
// "auto" | "bf16" | "fp32" storage of the LLaDA matrices (LoadOptions::llm_weight_dtype; auto is
// ScalarType::Undefined); throws std::invalid_argument.
at::ScalarType parse_llm_weights_flag(const std::string& s);
std::optional<Remasking> parse_remasking(
    const std::string& s);  // low_confidence|random|entropy|margin
std::optional<TransferSchedule> parse_schedule(const std::string& s);  // uniform|shift
const char* remasking_name(Remasking r);
const char* schedule_name(TransferSchedule s);

// Applies one request flag (--mode, --k, --gen-length, ...) to `req`; `next` yields the flag's
// value. Returns false for a flag it does not know; throws std::invalid_argument on a bad value.
bool parse_request_flag(const std::string& flag, const std::function<std::string()>& next,
                        GenerateRequest* req);

}  // namespace shirg
