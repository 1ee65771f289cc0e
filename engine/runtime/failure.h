#pragma once
// The status a request ends with when model code throws.
#include <c10/core/Device.h>

#include <exception>

#include "engine/api/status.h"

namespace shirg {

// RESOURCE_EXHAUSTED "out of memory on <device> <where>: ..." for an exhaustion of memory
// (is_out_of_memory: LibTorch's out-of-memory error, std::bad_alloc), after giving the caching
// allocator's unused device blocks back so that the next request can run; INTERNAL "internal
// error: ..." for anything else. `where`: "in the prefill", ...
Status failure_status(const std::exception& e, const at::Device& device, const char* where);

}  // namespace shirg
