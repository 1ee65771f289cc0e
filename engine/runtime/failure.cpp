#include "engine/runtime/failure.h"

#include <string>

#include "engine/platform/device.h"
#include "engine/platform/device_memory.h"

namespace shirg {
namespace {

// LibTorch's messages carry a C++ backtrace after the first line: only the first line is for
// people.
std::string first_line(const char* what) {
  std::string s(what);
  const auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

}  // namespace

Status failure_status(const std::exception& e, const at::Device& device, const char* where) {
  if (is_out_of_memory(e)) {
    release_cached_device_memory(device);
    return Status::Error(StatusCode::kResourceExhausted,
                         "out of memory on " + device.str() + " " + where + ": " +
                             first_line(e.what()) +
                             "; retry later, or use fewer visual tokens or a shorter answer");
  }
  return Status::Error(StatusCode::kInternal, std::string("internal error: ") + e.what());
}

}  // namespace shirg
