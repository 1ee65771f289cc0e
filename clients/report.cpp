#include "clients/report.h"

#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace shirg::clients {

LevelResult make_level_result(const std::string& mode, double level,
                              const std::vector<Sample>& samples, double wall_s) {
  if (!(wall_s >= 0)) throw std::invalid_argument("wall time must be >= 0");
  LevelResult r;
  r.mode = mode;
  r.level = level;
  r.wall_s = wall_s;
  r.requests = samples.size();
  std::vector<double> lat, first_step;
  for (const Sample& s : samples) {
    if (s.code != "OK") {
      r.errors[s.code]++;
      continue;
    }
    r.successes++;
    lat.push_back(s.latency_ms);
    if (s.first_step_ms >= 0) first_step.push_back(s.first_step_ms);
    r.answer_tokens += s.answer_tokens;
    for (std::size_t i = 0; i < kStageNames.size(); ++i) r.stage_mean_ms[i] += s.stage_ms[i];
  }
  if (r.successes > 0) {
    for (double& m : r.stage_mean_ms) m /= static_cast<double>(r.successes);
  }
  if (wall_s > 0) {
    r.throughput_rps = static_cast<double>(r.successes) / wall_s;
    r.tokens_per_s = static_cast<double>(r.answer_tokens) / wall_s;
  }
  r.latency_ms = summarize(lat);
  r.first_step_ms = summarize(first_step);
  r.latency_hist_ms = make_histogram(lat, latency_bounds(lat, 10));
  return r;
}

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string level_name(const LevelResult& r) {
  return r.mode == "closed" ? "concurrency " + fmt("%g", r.level)
                            : "rate " + fmt("%g", r.level) + " req/s (Poisson)";
}

std::string errors_string(const LevelResult& r, const char* sep) {
  std::string s;
  for (const auto& [code, n] : r.errors) {
    s += (s.empty() ? "" : sep) + code + "=" + std::to_string(n);
  }
  return s;
}

}  // namespace

std::string format_table(const std::vector<LevelResult>& levels) {
  std::ostringstream o;
  o << "level                         requests  ok    errors  req/s    tok/s    mean ms   "
       "p50 ms    p90 ms    p95 ms    p99 ms    max ms\n";
  for (const LevelResult& r : levels) {
    char line[512];
    std::snprintf(line, sizeof line,
                  "%-29s %-9zu %-5zu %-7zu %-8.3f %-8.2f %-9.1f %-9.1f %-9.1f %-9.1f %-9.1f "
                  "%.1f\n",
                  level_name(r).c_str(), r.requests, r.successes, r.requests - r.successes,
                  r.throughput_rps, r.tokens_per_s, r.latency_ms.mean, r.latency_ms.p50,
                  r.latency_ms.p90, r.latency_ms.p95, r.latency_ms.p99, r.latency_ms.max);
    o << line;
  }
  o << "\nserver-side stage means (ms, successful requests)\n";
  o << "level                        ";
  for (const char* s : kStageNames) {
    std::string name = s;
    name.resize(10, ' ');
    o << name;
  }
  o << "\n";
  for (const LevelResult& r : levels) {
    std::string name = level_name(r);
    name.resize(29, ' ');
    o << name;
    for (double m : r.stage_mean_ms) o << fmt("%-10.1f", m);
    o << "\n";
  }
  bool any_stream = false;
  for (const LevelResult& r : levels) any_stream |= r.first_step_ms.count > 0;
  if (any_stream) {
    o << "\ntime to the first step event (ms, streamed successes)\n";
    o << "level                         mean      p50       p95       p99       max\n";
    for (const LevelResult& r : levels) {
      std::string name = level_name(r);
      name.resize(29, ' ');
      const Summary& f = r.first_step_ms;
      o << name << " " << fmt("%-9.1f ", f.mean) << fmt("%-9.1f ", f.p50) << fmt("%-9.1f ", f.p95)
        << fmt("%-9.1f ", f.p99) << fmt("%.1f", f.max) << "\n";
    }
  }
  bool any_errors = false;
  for (const LevelResult& r : levels) any_errors |= !r.errors.empty();
  if (any_errors) {
    o << "\nerrors by status code\n";
    for (const LevelResult& r : levels) {
      if (!r.errors.empty()) o << "  " << level_name(r) << ": " << errors_string(r, ", ") << "\n";
    }
  }
  return o.str();
}

nlohmann::json to_json(const std::vector<LevelResult>& levels, const nlohmann::json& config) {
  nlohmann::json out;
  out["config"] = config;
  out["levels"] = nlohmann::json::array();
  for (const LevelResult& r : levels) {
    nlohmann::json j;
    j["mode"] = r.mode;
    j["level"] = r.level;
    j["requests"] = r.requests;
    j["successes"] = r.successes;
    j["errors"] = r.errors;
    j["wall_s"] = r.wall_s;
    j["throughput_rps"] = r.throughput_rps;
    j["answer_tokens"] = r.answer_tokens;
    j["tokens_per_s"] = r.tokens_per_s;
    const Summary& l = r.latency_ms;
    j["latency_ms"] = {{"count", l.count}, {"mean", l.mean}, {"min", l.min}, {"p50", l.p50},
                       {"p90", l.p90},     {"p95", l.p95},   {"p99", l.p99}, {"max", l.max}};
    j["latency_histogram_ms"] = {{"upper_bounds", r.latency_hist_ms.upper_bounds},
                                 {"counts", r.latency_hist_ms.counts}};
    nlohmann::json stages;
    for (std::size_t i = 0; i < kStageNames.size(); ++i)
      stages[kStageNames[i]] = r.stage_mean_ms[i];
    j["server_stage_mean_ms"] = stages;
    if (r.first_step_ms.count > 0) {
      const Summary& f = r.first_step_ms;
      j["first_step_ms"] = {{"count", f.count}, {"mean", f.mean}, {"p50", f.p50},
                            {"p95", f.p95},     {"p99", f.p99},   {"max", f.max}};
    }
    out["levels"].push_back(j);
  }
  return out;
}

std::string to_csv(const std::vector<LevelResult>& levels) {
  std::ostringstream o;
  o << "mode,level,requests,successes,errors,wall_s,throughput_rps,answer_tokens,tokens_per_s,"
       "latency_mean_ms,latency_p50_ms,latency_p90_ms,latency_p95_ms,latency_p99_ms,"
       "latency_max_ms";
  for (const char* s : kStageNames) o << ",server_" << s << "_ms";
  o << "\n";
  for (const LevelResult& r : levels) {
    o << r.mode << "," << r.level << "," << r.requests << "," << r.successes << ","
      << errors_string(r, ";") << "," << r.wall_s << "," << r.throughput_rps << ","
      << r.answer_tokens << "," << r.tokens_per_s << "," << r.latency_ms.mean << ","
      << r.latency_ms.p50 << "," << r.latency_ms.p90 << "," << r.latency_ms.p95 << ","
      << r.latency_ms.p99 << "," << r.latency_ms.max;
    for (double m : r.stage_mean_ms) o << "," << m;
    o << "\n";
  }
  return o.str();
}

}  // namespace shirg::clients
