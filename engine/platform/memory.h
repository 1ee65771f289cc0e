#pragma once
// How much memory this process may still use: the smaller of the kernel's MemAvailable
// (/proc/meminfo) and the room left under a cgroup v2 memory limit (containers, Kubernetes
// limits). The model loader checks its weights against it so an oversized load fails with a
// clear message instead of the OOM killer.
#include <cstdint>
#include <optional>
#include <string>

namespace shirg {

// Bytes, or nullopt when neither source can be read (not Linux, no /proc).
std::optional<int64_t> available_memory_bytes();

// Parsers, exposed for tests. Text as in the files named; nullopt when absent / "max".
std::optional<int64_t> parse_meminfo_available(const std::string& proc_meminfo);
std::optional<int64_t> parse_cgroup_bytes(const std::string& memory_max_or_current);

std::string format_gib(int64_t bytes);  // "12.3 GiB"

}  // namespace shirg
