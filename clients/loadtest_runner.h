// The request loops of shirg-loadtest. Every loop is bounded in count (max_requests) and in
// time (duration_s to stop issuing, plus each call's deadline to finish) and stops by itself.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "clients/report.h"
#include "clients/rpc_common.h"
#include "clients/workload.h"

namespace shirg::clients {

struct RunConfig {
  ConnectionOptions conn;  // conn.timeout_s > 0 is required (bounds every call)
  shirg::v1::GenerationOptions generation;
  shirg::v1::SelectionOptions selection;
  int64_t max_requests = 20;   // measured requests per level (>= 1)
  double duration_s = 300;     // per level: no request is issued after this (> 0)
  int64_t warmup = 1;          // per level, not measured
  int64_t max_inflight = 256;  // open loop: arrivals beyond this are counted as DROPPED
  uint64_t seed = 1;           // Poisson arrivals
  bool live_progress = false;  // redraw one stderr line (a terminal) or print a line every 5 s
  bool quiet = false;          // no progress at all
  // Closed loop: call GenerateStream instead of Generate and record the time to the first step
  // event (what a streaming client waits before it sees anything of the answer).
  bool stream = false;
};

// Closed loop: `concurrency` workers, each sends its next request when the previous completes.
LevelResult run_closed_loop(const RunConfig& cfg, const Workload& w, int concurrency);
// Open loop: Poisson arrivals at `rate` requests/s, independent of completions; latency is
// measured from the scheduled arrival time (no coordinated omission).
LevelResult run_open_loop(const RunConfig& cfg, const Workload& w, double rate);

}  // namespace shirg::clients
