#pragma once
// Shared by the server integration tests.
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "tests/server/prom_text.h"
#include "tests/server/rpc_client.h"
#include "tests/server/server_process.h"

namespace shirg::testing {

// Long enough on the tiny model to be interrupted mid-generation: 256 denoising steps
// (about 10 s on one core of the test machine).
inline v1::GenerateRequest slow_request(uint64_t seed = 1) {
  return make_request(9, seed, 256, 256);
}
// A quick request.
inline v1::GenerateRequest quick_request(uint64_t seed = 1, uint32_t image_seed = 1) {
  return make_request(image_seed, seed, 16, 8);
}

// Polls `pred` every 20 ms until it holds or `timeout` passes; returns its last value.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

inline PromText scrape(const ServerProcess& s) {
  return parse_prom_text(fetch_metrics(s.metrics_port()));
}

inline double requests_total(const PromText& m, const std::string& rpc, const std::string& code) {
  return m.sum("shirg_requests_total", {{"rpc", rpc}, {"code", code}});
}

// Compares the fields of two answers that must be identical for the same inputs and seed.
inline bool same_answer(const v1::GenerateResponse& a, const v1::GenerateResponse& b) {
  return a.answer() == b.answer() && a.answer_tokens() == b.answer_tokens() &&
         a.stop_reason() == b.stop_reason() && a.prefix_tokens() == b.prefix_tokens() &&
         a.cache_bytes() == b.cache_bytes() && a.steps() == b.steps() &&
         a.selection().SerializeAsString() == b.selection().SerializeAsString();
}

}  // namespace shirg::testing
