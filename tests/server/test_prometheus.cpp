// The Prometheus text-format module: values, escaping, histograms, registry rules.
#include "tests/common/catch.h"

#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <thread>
#include <vector>

#include "server/process_metrics.h"
#include "server/prometheus.h"
#include "tests/server/prom_text.h"

using namespace shirg;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("format_value gives the shortest round-trip text and the special values") {
  CHECK(prom::format_value(0) == "0");
  CHECK(prom::format_value(1) == "1");
  CHECK(prom::format_value(0.1) == "0.1");
  CHECK(prom::format_value(2.5) == "2.5");
  CHECK(prom::format_value(-3) == "-3");
  CHECK(prom::format_value(1e-9) == "1e-09");
  CHECK(prom::format_value(123456789) == "123456789");
  CHECK(prom::format_value(INFINITY) == "+Inf");
  CHECK(prom::format_value(-INFINITY) == "-Inf");
  CHECK(prom::format_value(NAN) == "NaN");
  for (double v : {0.3, 1.0 / 3.0, 6.02e23, 5e-324})
    CHECK(std::strtod(prom::format_value(v).c_str(), nullptr) == v);
}

TEST_CASE("label values and help text are escaped") {
  CHECK(prom::escape_label_value("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
  CHECK(prom::escape_label_value("plain /path:1") == "plain /path:1");
  CHECK(prom::escape_help("line1\nback\\slash \"q\"") == "line1\\nback\\\\slash \"q\"");
}

TEST_CASE("metric and label names are validated") {
  CHECK(prom::valid_metric_name("shirg_requests_total"));
  CHECK(prom::valid_metric_name("a:b_c1"));
  CHECK_FALSE(prom::valid_metric_name("1abc"));
  CHECK_FALSE(prom::valid_metric_name("a-b"));
  CHECK_FALSE(prom::valid_metric_name(""));
  CHECK(prom::valid_label_name("rpc"));
  CHECK_FALSE(prom::valid_label_name("__reserved"));
  CHECK_FALSE(prom::valid_label_name("a:b"));
  prom::Registry r;
  CHECK_THROWS_AS(r.counter("bad-name", "h"), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("ok_total", "h", {"bad-label"}), std::invalid_argument);
  CHECK_THROWS_AS(r.histogram("h_seconds", "h", {"le"}, {1}), std::invalid_argument);
  r.counter("dup_total", "h");
  CHECK_THROWS_AS(r.gauge("dup_total", "h"), std::invalid_argument);
  CHECK_THROWS_AS(r.histogram("bad_buckets", "h", {}, {1, 1}), std::invalid_argument);
  CHECK_THROWS_AS(r.histogram("bad_buckets2", "h", {}, {2, 1}), std::invalid_argument);
  CHECK_THROWS_AS(r.histogram("bad_buckets3", "h", {}, {1, INFINITY}), std::invalid_argument);
}

TEST_CASE("counters, gauges and histograms render in the exposition format") {
  prom::Registry r;
  auto& req = r.counter("t_requests_total", "Requests by code.", {"rpc", "code"});
  auto& g = r.gauge("t_queue_depth", "Queue depth.");
  auto& h = r.histogram("t_latency_seconds", "Latency.", {"stage"}, {0.1, 0.5, 1});
  req.with({"Generate", "OK"}).inc();
  req.with({"Generate", "OK"}).inc(2);
  req.with({"Gen\"er\\ate\n", "INVALID_ARGUMENT"}).inc();
  g.with().set(7);
  g.with().dec(2);
  auto& vis = h.with({"vision"});
  for (double v : {0.05, 0.1, 0.3, 0.7, 2.0}) vis.observe(v);

  const std::string text = r.render();
  CHECK_THAT(text,
             ContainsSubstring(
                 "# HELP t_requests_total Requests by code.\n# TYPE t_requests_total counter\n"));
  CHECK_THAT(text, ContainsSubstring("t_requests_total{rpc=\"Generate\",code=\"OK\"} 3\n"));
  CHECK_THAT(text,
             ContainsSubstring(
                 "t_requests_total{rpc=\"Gen\\\"er\\\\ate\\n\",code=\"INVALID_ARGUMENT\"} 1\n"));
  CHECK_THAT(text, ContainsSubstring("# TYPE t_queue_depth gauge\nt_queue_depth 5\n"));
  CHECK_THAT(text,
             ContainsSubstring(
                 "t_latency_seconds_bucket{stage=\"vision\",le=\"0.1\"} 2\n"));  // <= is inclusive
  CHECK_THAT(text, ContainsSubstring("t_latency_seconds_bucket{stage=\"vision\",le=\"0.5\"} 3\n"));
  CHECK_THAT(text, ContainsSubstring("t_latency_seconds_bucket{stage=\"vision\",le=\"1\"} 4\n"));
  CHECK_THAT(text, ContainsSubstring("t_latency_seconds_bucket{stage=\"vision\",le=\"+Inf\"} 5\n"));
  CHECK_THAT(text, ContainsSubstring("t_latency_seconds_sum{stage=\"vision\"} 3.15\n"));
  CHECK_THAT(text, ContainsSubstring("t_latency_seconds_count{stage=\"vision\"} 5\n"));

  // Our own strict reader accepts it and finds the values again (escapes undone).
  const auto parsed = testing::parse_prom_text(text);
  CHECK(parsed.types.at("t_latency_seconds") == "histogram");
  CHECK(parsed.sum("t_requests_total", {{"rpc", "Gen\"er\\ate\n"}}) == 1);
  CHECK(parsed.sum("t_requests_total") == 4);
  CHECK(parsed.sum("t_latency_seconds_count") == 5);
}

TEST_CASE("the exposition passes promtool check metrics") {
  prom::Registry r;
  r.counter("t_events_total", "Events with \"quotes\" and \\ in help.", {"kind"})
      .with({"a\nb"})
      .inc(3);
  r.gauge("t_temperature_celsius", "A gauge.").with().set(-1.5);
  r.histogram("t_size_bytes", "Sizes.", {}, {10, 100}).with().observe(50);
  const std::string text = r.render();
  // promtool comes with Debian's prometheus package (scripts/install-deps.sh).
  REQUIRE(std::system("command -v promtool >/dev/null 2>&1") == 0);
  char path[] = "/tmp/shirg_prom_XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path) << text;
  const std::string cmd = std::string("promtool check metrics < ") + path + " >/dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  std::remove(path);
  CHECK(rc == 0);
}

TEST_CASE("counters refuse to decrease and label arity is checked") {
  prom::Registry r;
  auto& c = r.counter("t_total", "h", {"a"});
  CHECK_THROWS_AS(c.with({"x"}).inc(-1), std::invalid_argument);
  CHECK_THROWS_AS(c.with({}), std::invalid_argument);
  CHECK_THROWS_AS(c.with({"x", "y"}), std::invalid_argument);
}

TEST_CASE("a counter mirroring a total only moves up") {
  prom::Registry r;
  auto& c = r.counter("t_expired_total", "h").with();
  c.advance_to(3);
  CHECK(c.value() == 3);
  c.advance_to(2);  // an older total (a slower scrape) never lowers it
  CHECK(c.value() == 3);
  c.advance_to(5);
  CHECK_THAT(r.render(), ContainsSubstring("t_expired_total 5\n"));
}

TEST_CASE("collectors run before rendering") {
  prom::Registry r;
  auto& g = r.gauge("t_depth", "h").with();
  int calls = 0;
  r.add_collector([&] { g.set(++calls * 10); });
  CHECK_THAT(r.render(), ContainsSubstring("t_depth 10\n"));
  CHECK_THAT(r.render(), ContainsSubstring("t_depth 20\n"));
}

TEST_CASE("concurrent updates are not lost") {
  prom::Registry r;
  auto& c = r.counter("t_total", "h", {"k"});
  auto& h = r.histogram("t_seconds", "h", {}, {0.5}).with();
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.with({"x"}).inc();
        h.observe(i % 2 ? 0.25 : 0.75);
      }
    });
  for (auto& t : ts) t.join();
  CHECK(c.with({"x"}).value() == 40000);
  const auto s = h.snapshot();
  CHECK(s.count == 40000);
  CHECK(s.cumulative[0] == 20000);
  CHECK(s.sum == Approx(40000 * 0.5));
}

TEST_CASE("the test reader rejects malformed exposition text") {
  CHECK_THROWS(testing::parse_prom_text("x 1\n"));  // no TYPE
  CHECK_THROWS(testing::parse_prom_text("# TYPE x counter\nx{a=\"1} 1\n"));
  CHECK_THROWS(testing::parse_prom_text("# TYPE x counter\nx one\n"));
  CHECK_THROWS(testing::parse_prom_text("# TYPE x counter\nx 1\nx 2\n"));
  CHECK_THROWS(testing::parse_prom_text("# TYPE x counter\nx 1"));
  CHECK_NOTHROW(testing::parse_prom_text("# TYPE x counter\nx{a=\"q\\\"\"} 1\n"));
}

TEST_CASE("the standard process metrics follow this process's memory and CPU") {
  const auto before = rpc::read_process_stats();
  REQUIRE(before.has_value());
  CHECK(before->resident_bytes > 0);
  CHECK(before->virtual_bytes >= before->resident_bytes);
  CHECK(before->peak_resident_bytes >= before->resident_bytes);
  CHECK(before->open_fds >= 3);  // stdin, stdout, stderr at least
  const double now = static_cast<double>(std::time(nullptr));
  CHECK(before->start_time_seconds > now - 86400);  // a test binary started less than a day ago
  CHECK(before->start_time_seconds <= now + 1);

  // 96 MiB touched page by page: the resident set grows by about that much.
  std::vector<char> block(96u << 20);
  for (std::size_t i = 0; i < block.size(); i += 4096) block[i] = static_cast<char>(i);
  volatile double burn = 0;
  for (int i = 0; i < 20000000; ++i) burn = burn + std::sqrt(static_cast<double>(i));
  const auto after = rpc::read_process_stats();
  REQUIRE(after.has_value());
  CHECK(after->resident_bytes - before->resident_bytes > 80.0 * (1 << 20));
  CHECK(after->peak_resident_bytes >= after->resident_bytes);
  CHECK(after->cpu_seconds >= before->cpu_seconds);

  prom::Registry r;
  rpc::add_process_metrics(r);
  const auto text = testing::parse_prom_text(r.render());
  CHECK(text.types.at("process_resident_memory_bytes") == "gauge");
  CHECK(text.types.at("process_cpu_seconds_total") == "counter");
  CHECK(text.sum("process_resident_memory_bytes") > 80.0 * (1 << 20));
  CHECK(text.sum("shirg_process_peak_resident_memory_bytes") >=
        text.sum("process_resident_memory_bytes") - 4096);
  CHECK(text.sum("process_open_fds") >= 3);
  CHECK(text.sum("process_start_time_seconds") == Approx(after->start_time_seconds).margin(1));
  CHECK(text.sum("process_cpu_seconds_total") > 0);
  CHECK(text.count("process_virtual_memory_bytes") == 1);
  block[0] = static_cast<char>(burn);  // keep both alive until here
}
