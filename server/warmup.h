#pragma once
// Start-up warm-up: requests the server builds itself (a generated test-pattern PNG and a fixed
// question) run through the executor before health reports SERVING, so the first client
// request does not pay for lazy initialisation (oneDNN kernels, allocator growth).
#include <functional>

#include "engine/runtime/executor.h"

namespace shirg::rpc {

// Runs `n` warm-up requests one after another. `stop()` is polled while waiting; when it turns
// true the running request is cancelled and CANCELLED is returned. Returns the first error.
Status run_warmup(Executor& ex, int n, const std::function<bool()>& stop);

}  // namespace shirg::rpc
