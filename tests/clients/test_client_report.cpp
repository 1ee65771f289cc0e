// Unit tests of clients/report.h and clients/svg_plot.h: folding samples into levels, and the
// table / JSON / CSV / SVG outputs.
#include "tests/common/catch.h"

#include <nlohmann/json.hpp>

#include <sstream>

#include "clients/report.h"
#include "clients/svg_plot.h"

using namespace shirg::clients;

namespace {

Sample ok(double latency, int64_t tokens, double total_ms) {
  Sample s;
  s.latency_ms = latency;
  s.answer_tokens = tokens;
  s.stage_ms = {1, 2, 3, 4, 5, 6, 7, total_ms};
  return s;
}

Sample err(const std::string& code) {
  Sample s;
  s.code = code;
  s.latency_ms = 1;
  return s;
}

std::vector<LevelResult> two_levels() {
  return {make_level_result("closed", 1, {ok(100, 10, 90), ok(200, 20, 190)}, 0.3),
          make_level_result("closed", 4,
                            {ok(300, 10, 280), ok(500, 30, 480), err("UNAVAILABLE"),
                             err("RESOURCE_EXHAUSTED"), err("UNAVAILABLE")},
                            0.5)};
}

std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("a level result counts successes and errors by code") {
  const auto levels = two_levels();
  const LevelResult& r = levels[1];
  CHECK(r.requests == 5);
  CHECK(r.successes == 2);
  CHECK(r.errors.at("UNAVAILABLE") == 2);
  CHECK(r.errors.at("RESOURCE_EXHAUSTED") == 1);
  std::size_t err_total = 0;
  for (const auto& e : r.errors) err_total += e.second;
  CHECK(err_total + r.successes == r.requests);
  CHECK(r.throughput_rps == Approx(4.0));  // 2 successes / 0.5 s
  CHECK(r.answer_tokens == 40);
  CHECK(r.tokens_per_s == Approx(80.0));
  CHECK(r.latency_ms.count == 2);  // failures are not in the latency statistics
  CHECK(r.latency_ms.mean == Approx(400));
  CHECK(r.latency_ms.max == Approx(500));
  CHECK(r.stage_mean_ms[7] == Approx(380));  // mean of total_ms over successes
  CHECK(r.stage_mean_ms[0] == Approx(1));
  CHECK(r.latency_hist_ms.total() == 2);
}

TEST_CASE("a level without successes has zero statistics and no NaN") {
  const LevelResult r = make_level_result("open", 2.5, {err("DEADLINE_EXCEEDED")}, 1.0);
  CHECK(r.successes == 0);
  CHECK(r.throughput_rps == 0);
  CHECK(r.latency_ms.mean == 0);
  CHECK(r.stage_mean_ms[7] == 0);
  CHECK_THROWS(make_level_result("open", 1, {}, -1));
}

TEST_CASE("JSON output parses and carries every level") {
  const auto j = nlohmann::json::parse(to_json(two_levels(), {{"addr", "x:1"}}).dump());
  CHECK(j["config"]["addr"] == "x:1");
  REQUIRE(j["levels"].size() == 2);
  const auto& l = j["levels"][1];
  CHECK(l["level"] == 4);
  CHECK(l["requests"] == 5);
  CHECK(l["successes"] == 2);
  CHECK(l["errors"]["UNAVAILABLE"] == 2);
  CHECK(l["latency_ms"]["p50"].get<double>() == Approx(400));
  CHECK(l["server_stage_mean_ms"]["prefill"].get<double>() == Approx(6));
  CHECK(l["latency_histogram_ms"]["counts"].size() ==
        l["latency_histogram_ms"]["upper_bounds"].size() + 1);
}

TEST_CASE("CSV has a header and one row per level with equal column counts") {
  const std::string csv = to_csv(two_levels());
  std::istringstream in(csv);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  REQUIRE(lines.size() == 3);
  const auto cols = count(lines[0], ",");
  CHECK(count(lines[1], ",") == cols);
  CHECK(count(lines[2], ",") == cols);
  CHECK(lines[2].rfind("closed,4,5,2,RESOURCE_EXHAUSTED=1;UNAVAILABLE=2,", 0) == 0);
}

TEST_CASE("the table names every level and the stage breakdown") {
  const std::string t = format_table(two_levels());
  CHECK(t.find("concurrency 1") != std::string::npos);
  CHECK(t.find("concurrency 4") != std::string::npos);
  CHECK(t.find("prefill") != std::string::npos);
  CHECK(t.find("UNAVAILABLE=2") != std::string::npos);
}

TEST_CASE("the SVG plot is well formed with one point per level and series") {
  const std::string svg = latency_svg(two_levels(), "title <&>");
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(count(svg, "<polyline") == 4);    // p99, p90, p50, mean
  CHECK(count(svg, "<circle") == 4 * 2);  // 4 series x 2 levels
  CHECK(svg.find("title &lt;&amp;&gt;") != std::string::npos);
  CHECK(svg.find("concurrency (closed loop)") != std::string::npos);
  CHECK(count(svg, "<text") == count(svg, "</text>"));
  CHECK_THROWS(latency_svg({}, "t"));
}
