#pragma once
// The standard Prometheus process metrics (the names every official client library exports),
// read from /proc/self at scrape time:
//   process_resident_memory_bytes   resident set now (bytes)
//   process_virtual_memory_bytes    virtual memory size (bytes)
//   process_cpu_seconds_total       user + system CPU time (seconds, counter)
//   process_open_fds                open file descriptors
//   process_start_time_seconds      start time since the Unix epoch (seconds)
// and shirg_process_peak_resident_memory_bytes: the peak resident set (VmHWM) since start.
#include <cstdint>
#include <optional>

#include "server/prometheus.h"

namespace shirg::rpc {

struct ProcessStats {
  double resident_bytes = 0;
  double peak_resident_bytes = 0;
  double virtual_bytes = 0;
  double cpu_seconds = 0;
  double start_time_seconds = 0;  // Unix time
  int64_t open_fds = 0;
};

// This process's figures; nullopt where /proc is not available (non-Linux).
std::optional<ProcessStats> read_process_stats();

// Registers the families above in `registry` and a collector that refreshes them at every
// render(). The registry must outlive nothing else: the collector only touches its families.
void add_process_metrics(prom::Registry& registry);

}  // namespace shirg::rpc
