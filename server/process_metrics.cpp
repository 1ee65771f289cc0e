#include "server/process_metrics.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace shirg::rpc {
namespace {

// "Key:   123 kB" lines of /proc/self/status -> bytes; 0 when absent.
double status_kib_field(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) * 1024.0;
  return 0;
}

// The system boot time (Unix seconds) from /proc/stat's btime line; 0 when absent.
double boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  return 0;
}

}  // namespace

std::optional<ProcessStats> read_process_stats() {
  std::ifstream in("/proc/self/stat");
  std::string stat;
  if (!in || !std::getline(in, stat)) return std::nullopt;
  // Field 2 (comm) is in parentheses and may hold spaces: the fields after the last ')' are
  // 3 (state) onwards; utime 14, stime 15, starttime 22, vsize 23, rss 24 (pages).
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(stat.substr(close + 1));
  std::vector<std::string> f(3);  // f[3] = field 3
  for (std::string w; rest >> w;) f.push_back(w);
  if (f.size() < 25) return std::nullopt;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  ProcessStats s;
  s.cpu_seconds = (std::stod(f[14]) + std::stod(f[15])) / ticks;
  s.start_time_seconds = boot_time_seconds() + std::stod(f[22]) / ticks;
  s.virtual_bytes = std::stod(f[23]);
  s.resident_bytes = std::stod(f[24]) * page;
  s.peak_resident_bytes = status_kib_field("VmHWM");
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++s.open_fds;
  return s;
}

void add_process_metrics(prom::Registry& r) {
  auto& rss = r.gauge("process_resident_memory_bytes", "Resident memory size in bytes.").with();
  auto& peak = r.gauge("shirg_process_peak_resident_memory_bytes",
                       "Peak resident memory size since the process started (VmHWM), in bytes.")
                   .with();
  auto& vsz = r.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.").with();
  auto& cpu =
      r.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.")
          .with();
  auto& fds = r.gauge("process_open_fds", "Number of open file descriptors.").with();
  auto& start = r.gauge("process_start_time_seconds",
                        "Start time of the process since unix epoch in seconds.")
                    .with();
  // Scrapes may run concurrently: the counter's catch-up (value -> total) is one critical section.
  auto mu = std::make_shared<std::mutex>();
  r.add_collector([&rss, &peak, &vsz, &cpu, &fds, &start, mu] {
    const auto s = read_process_stats();
    if (!s) return;
    std::lock_guard<std::mutex> lock(*mu);
    rss.set(s->resident_bytes);
    peak.set(s->peak_resident_bytes);
    vsz.set(s->virtual_bytes);
    if (s->cpu_seconds > cpu.value()) cpu.inc(s->cpu_seconds - cpu.value());
    fds.set(static_cast<double>(s->open_fds));
    start.set(s->start_time_seconds);
  });
}

}  // namespace shirg::rpc
