#pragma once
// Engine status codes. They follow the canonical RPC code set (as absl::StatusCode does) so the
// RPC layer maps them one to one; the engine itself knows nothing of gRPC.
#include <string>
#include <utility>

namespace shirg {

enum class StatusCode {
  kOk = 0,
  kCancelled = 1,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kInternal = 13,
  kUnavailable = 14,
};

struct Status {
  StatusCode code = StatusCode::kOk;
  std::string message;
  bool ok() const { return code == StatusCode::kOk; }
  static Status Ok() { return {}; }
  static Status Error(StatusCode c, std::string m) { return {c, std::move(m)}; }
};

const char* status_code_name(StatusCode c);  // "INVALID_ARGUMENT", ...

}  // namespace shirg
