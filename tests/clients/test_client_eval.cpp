// Unit tests of shirg-eval's pure modules: the answer metrics (clients/eval_metrics.h), the JSONL
// input and evidence cells (clients/eval_data.h) and the reports (clients/eval_report.h).
#include "tests/common/catch.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>

#include "clients/eval_data.h"
#include "clients/eval_metrics.h"
#include "clients/eval_report.h"
#include "clients/svg_plot.h"

using namespace shirg::clients;
using Catch::Matchers::ContainsSubstring;

namespace {

std::string file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

Outcome answered(const std::string& family, double em, double relaxed, int64_t tokens,
                 double total_ms) {
  Outcome o;
  o.family = family;
  o.answered = true;
  o.prediction = "p";
  o.em = em;
  o.anls = em;
  o.relaxed = relaxed;
  o.visual_tokens = tokens;
  o.stage_ms = {10, 2, 30, 40, total_ms};
  o.cache_bytes = 2 << 20;
  return o;
}

std::vector<ModeReport> two_modes() {
  Outcome fail;
  fail.family = "charts";
  fail.error = "Generate: UNAVAILABLE: gone";
  Outcome r1 = answered("boxes", 1, 1, 1216, 100);
  r1.recall = 0.5;
  r1.score_recall = 0;
  Outcome r2 = answered("charts", 0, 1, 1216, 300);
  r2.recall = 1.0;
  r2.score_recall = 1.0;
  return {make_mode_report("baseline-384", {answered("boxes", 0, 0, 729, 50),
                                            answered("charts", 1, 1, 729, 70), fail}),
          make_mode_report("shirg", {r1, r2})};
}

}  // namespace

TEST_CASE("answers are normalised by trimming, collapsing spaces and lower-casing") {
  CHECK(normalize_answer("  Hello \t World\n") == "hello world");
  CHECK(normalize_answer("") == "");
  CHECK(normalize_answer("ÄB") == "Äb");  // ASCII letters only
}

TEST_CASE("exact match after normalisation, best over the answer list") {
  CHECK(exact_match(" 765 ", {"765"}) == 1);
  CHECK(exact_match("TOTAL", {"total"}) == 1);
  CHECK(exact_match("76", {"765"}) == 0);
  CHECK(exact_match("b", {"a", "B"}) == 1);
  CHECK(exact_match("", {"a"}) == 0);
}

TEST_CASE("Levenshtein distance counts code points") {
  CHECK(levenshtein("kitten", "sitting") == 3);
  CHECK(levenshtein("", "abc") == 3);
  CHECK(levenshtein("abc", "abc") == 0);
  CHECK(levenshtein("flaw", "lawn") == 2);
  CHECK(levenshtein("café", "cafe") == 1);  // é is one code point (two bytes)
}

TEST_CASE("ANLS follows the DocVQA definition (threshold 0.5)") {
  CHECK(anls("hello", {"hello"}) == Approx(1.0));
  CHECK(anls("helo", {"hello"}) == Approx(0.8));          // NL = 1/5
  CHECK(anls("Hello ", {"hello"}) == Approx(1.0));        // normalised first
  CHECK(anls("abc", {"abcd"}) == Approx(0.75));           // NL = 1/4
  CHECK(anls("abc", {"xyz"}) == 0);                       // NL = 1
  CHECK(anls("abc", {"xyz", "abd"}) == Approx(2.0 / 3));  // max over the answers
  CHECK(anls("", {""}) == Approx(1.0));
  CHECK(anls("", {"a"}) == 0);
  CHECK(anls("ab", {"abcd"}) == 0);  // NL = 2/4 = 0.5 is not < 0.5
}

TEST_CASE("relaxed accuracy reads numbers, percents and falls back to exact match") {
  CHECK(parse_relaxed_number("12.5") == Approx(12.5));
  CHECK(parse_relaxed_number(" -3 ") == Approx(-3));
  CHECK(parse_relaxed_number("50%") == Approx(0.5));
  CHECK(parse_relaxed_number("50 %") == Approx(0.5));
  CHECK_FALSE(parse_relaxed_number("abc"));
  CHECK_FALSE(parse_relaxed_number("inf"));
  CHECK_FALSE(parse_relaxed_number("0x10"));
  CHECK_FALSE(parse_relaxed_number("%"));
  CHECK_FALSE(parse_relaxed_number("1,000"));

  CHECK(relaxed_accuracy("104", {"100"}) == 1);  // 4% off
  CHECK(relaxed_accuracy("105", {"100"}) == 1);  // exactly 5%
  CHECK(relaxed_accuracy("106", {"100"}) == 0);
  CHECK(relaxed_accuracy("-5", {"-5.2"}) == 1);  // negative: relative to |answer|
  CHECK(relaxed_accuracy("5.2", {"-5.2"}) == 0);
  CHECK(relaxed_accuracy("0", {"0"}) == 1);  // an answer of 0 needs exactly 0
  CHECK(relaxed_accuracy("0.0", {"0"}) == 1);
  CHECK(relaxed_accuracy("0.01", {"0"}) == 0);
  CHECK(relaxed_accuracy("50%", {"0.5"}) == 1);  // percent against a fraction
  CHECK(relaxed_accuracy("51%", {"50%"}) == 1);
  CHECK(relaxed_accuracy("fifty", {"50"}) == 0);   // numeric answer, non-numeric prediction
  CHECK(relaxed_accuracy("Blue", {"blue"}) == 1);  // non-numeric: exact match
  CHECK(relaxed_accuracy("blu", {"blue"}) == 0);
  CHECK(relaxed_accuracy("7", {"x", "7.2"}) == 1);
}

TEST_CASE("JSONL examples parse with defaults and resolved image paths") {
  const std::string text =
      "{\"question\": \"What number is in the pink box?\", \"answer\": \"765\", \"family\": "
      "\"boxes\", \"evidence_box\": [518, 224, 588, 266], \"glyphs\": [], \"image\": "
      "\"images/2_000000.png\"}\n"
      "\n"
      "{\"question\": \"q2\", \"answer\": [\"a\", 7], \"image\": \"/abs/x.jpg\"}\n";
  const auto ex = parse_examples(text, "/data/set", "set.jsonl");
  REQUIRE(ex.size() == 2);
  CHECK(ex[0].line == 1);
  CHECK(ex[0].answers == std::vector<std::string>{"765"});
  CHECK(ex[0].family == "boxes");
  CHECK(ex[0].image == "/data/set/images/2_000000.png");
  REQUIRE(ex[0].evidence_box);
  CHECK((*ex[0].evidence_box)[2] == 588);
  CHECK(ex[1].line == 3);
  CHECK(ex[1].family == "all");
  CHECK(ex[1].answers == std::vector<std::string>{"a", "7"});
  CHECK(ex[1].image == "/abs/x.jpg");
  CHECK_FALSE(ex[1].evidence_box);
}

TEST_CASE("bad JSONL lines are rejected naming the line") {
  const std::string good = "{\"question\": \"q\", \"answer\": \"a\", \"image\": \"i.png\"}\n";
  auto fails = [&](const std::string& bad, const std::string& what) {
    INFO(bad);
    CHECK_THROWS_WITH(parse_examples(good + "\n" + bad + "\n", ".", "f.jsonl"),
                      ContainsSubstring("f.jsonl:3: ") && ContainsSubstring(what));
  };
  fails("{not json", "not JSON");
  fails("[1, 2]", "not a JSON object");
  fails("{\"answer\": \"a\", \"image\": \"i.png\"}", "\"question\"");
  fails("{\"question\": \"\", \"answer\": \"a\", \"image\": \"i.png\"}", "\"question\"");
  fails("{\"question\": \"q\", \"image\": \"i.png\"}", "\"answer\" is missing");
  fails("{\"question\": \"q\", \"answer\": [], \"image\": \"i.png\"}", "list is empty");
  fails("{\"question\": \"q\", \"answer\": {}, \"image\": \"i.png\"}", "\"answer\" must be");
  fails("{\"question\": \"q\", \"answer\": \"a\"}", "\"image\"");
  fails("{\"question\": \"q\", \"answer\": \"a\", \"image\": \"i.png\", \"family\": 3}",
        "\"family\"");
  fails("{\"question\": \"q\", \"answer\": \"a\", \"image\": \"i.png\", \"evidence_box\": [1, 2]}",
        "\"evidence_box\"");
  fails(
      "{\"question\": \"q\", \"answer\": \"a\", \"image\": \"i.png\", \"evidence_box\": [5, 2, "
      "5, 9]}",
      "x0 < x1");
  CHECK_THROWS_WITH(parse_examples("\n  \n", ".", "e.jsonl"),
                    ContainsSubstring("e.jsonl: no examples"));
  CHECK_THROWS_AS(load_examples("/nonexistent/eval.jsonl"), DataError);
}

TEST_CASE("image sizes come from PNG and JPEG headers") {
  const std::string samples = std::string(SHIRG_SOURCE_DIR) + "/clients/samples/";
  CHECK(image_size(file_bytes(samples + "bar_chart.png")) == std::array<int64_t, 2>{640, 480});
  CHECK(image_size(file_bytes(samples + "receipt.jpg")) == std::array<int64_t, 2>{560, 720});
  CHECK_THROWS_AS(image_size("GIF89a..."), DataError);
  CHECK_THROWS_AS(image_size("\xFF\xD8\xFF\xD9"), DataError);  // JPEG without a frame
}

TEST_CASE("evidence boxes map onto the cells they overlap") {
  // A 14x14 glyph aligned on the 48x48 grid of a 672 image is exactly one cell.
  CHECK(evidence_cells({518, 182, 532, 196}, 672, 672, 48) == std::vector<int64_t>{13 * 48 + 37});
  // One pixel more to the right and down touches the next column and row.
  CHECK(evidence_cells({518, 182, 533, 197}, 672, 672, 48) ==
        std::vector<int64_t>{13 * 48 + 37, 13 * 48 + 38, 14 * 48 + 37, 14 * 48 + 38});
  // The example box: columns 37..41, rows 16..18.
  const auto cells = evidence_cells({518, 224, 588, 266}, 672, 672, 48);
  CHECK(cells.size() == 15);
  CHECK(cells.front() == 16 * 48 + 37);
  CHECK(cells.back() == 18 * 48 + 41);
  // Another image size scales the box: the right half of a 1344x336 image.
  const auto half = evidence_cells({672, 0, 1344, 336}, 1344, 336, 48);
  CHECK(half.size() == 24 * 48);
  CHECK(half.front() == 24);
  // A box reaching past the image is clipped; one wholly outside is an error.
  CHECK(evidence_cells({660, 660, 700, 700}, 672, 672, 48) == std::vector<int64_t>{48 * 48 - 1});
  CHECK_THROWS_WITH(evidence_cells({700, 0, 710, 10}, 672, 672, 48), ContainsSubstring("outside"));
  CHECK_THROWS_AS(evidence_cells({0, 0, 1, 1}, 0, 672, 48), DataError);
}

TEST_CASE("evidence recall is the kept share of the evidence cells") {
  CHECK(evidence_recall({1, 2, 3, 4}, {4, 9, 2}) == Approx(0.5));
  CHECK(evidence_recall({1}, {}) == 0);
  CHECK(evidence_recall({5, 6}, {6, 5}) == 1);
  CHECK_THROWS_AS(evidence_recall({}, {1}), std::invalid_argument);
}

TEST_CASE("score recall counts the evidence cells among the k best scores") {
  const std::vector<float> scores = {0.9f, 0.1f, 0.5f, 0.5f, 0.8f, 0.2f};  // best: 0, 4, 2, 3
  CHECK(score_recall({0, 4}, scores, 2) == 1);
  CHECK(score_recall({0, 2}, scores, 2) == Approx(0.5));
  CHECK(score_recall({2, 3}, scores, 3) == Approx(0.5));  // tie 0.5: the lower index first
  CHECK(score_recall({1}, scores, 0) == 0);
  CHECK(score_recall({1, 5}, scores, 100) == 1);  // k beyond the grid: every cell
  CHECK_THROWS_AS(score_recall({}, scores, 2), std::invalid_argument);
  CHECK_THROWS_AS(score_recall({6}, scores, 2), std::invalid_argument);
}

TEST_CASE("a mode report folds outcomes per family") {
  const auto modes = two_modes();
  const ModeReport& b = modes[0];
  CHECK(b.examples == 3);
  CHECK(b.answered == 2);
  CHECK(b.errors == 1);
  CHECK(b.first_error == "Generate: UNAVAILABLE: gone");
  CHECK(b.overall.n == 2);
  CHECK(b.overall.em == Approx(0.5));
  CHECK(b.families.at("boxes").em == 0);
  CHECK(b.families.at("charts").relaxed == 1);
  CHECK(b.visual_tokens == Approx(729));
  CHECK_FALSE(b.recall);
  REQUIRE(b.stage_mean_ms);
  CHECK((*b.stage_mean_ms)[4] == Approx(60));
  CHECK(b.cache_mib == Approx(2));
  const ModeReport& s = modes[1];
  CHECK(s.recall == Approx(0.75));
  CHECK(s.recall_n == 2);
  CHECK(s.score_recall == Approx(0.5));
  CHECK_FALSE(b.score_recall);
  CHECK(s.overall.relaxed == 1);
  const ModeReport none = make_mode_report("shirg", {});
  CHECK(none.overall.n == 0);
  CHECK_FALSE(none.stage_mean_ms);
  CHECK_FALSE(none.visual_tokens);
}

TEST_CASE("the Markdown table has one row per mode with every column") {
  const std::string md = format_markdown(two_modes());
  std::istringstream in(md);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  REQUIRE(lines.size() == 4);
  const std::size_t cols = count(lines[0], "|");
  CHECK(cols == 1 + 1 + 2 * 2 + 13);  // one more bar than cells: mode, 2 x 2 family, 13 more
  for (const std::string& l : lines) CHECK(count(l, "|") == cols);
  CHECK_THAT(lines[0], ContainsSubstring("boxes EM %") && ContainsSubstring("charts relaxed %") &&
                           ContainsSubstring("evidence recall %") &&
                           ContainsSubstring("score recall %") && ContainsSubstring("cache MiB"));
  CHECK(lines[2].rfind(
            "| baseline-384 | 0.0 | 0.0 | 100.0 | 100.0 | 50.0 | 50.0 | 50.0 | 729 | - | - |", 0) ==
        0);
  CHECK_THAT(lines[2], ContainsSubstring("| 60.0 | 2.0 | 1 |"));
  CHECK(lines[3].rfind("| shirg | 100.0 | 100.0 | 0.0 | 100.0 | 50.0 | 100.0 |", 0) == 0);
  CHECK_THAT(lines[3], ContainsSubstring("| 1216 | 75.0 | 50.0 |"));
}

TEST_CASE("the recall-only table shows the selection columns") {
  const std::string md = format_recall_markdown(two_modes());
  CHECK(md ==
        "| mode | visual tokens | evidence recall % | score recall % | examples with a box | "
        "errors |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        "| baseline-384 | 729 | - | - | 0 | 1 |\n"
        "| shirg | 1216 | 75.0 | 50.0 | 2 | 0 |\n");
}

TEST_CASE("JSON and CSV carry every mode, unknown values null / empty") {
  const auto modes = two_modes();
  const auto j = eval_json(modes, {{"data", "x.jsonl"}});
  CHECK(j["config"]["data"] == "x.jsonl");
  REQUIRE(j["modes"].size() == 2);
  CHECK(j["modes"][0]["mode"] == "baseline-384");
  CHECK(j["modes"][0]["recall"].is_null());
  CHECK(j["modes"][0]["families"]["charts"]["em"] == 1.0);
  CHECK(j["modes"][0]["stage_mean_ms"]["total"] == 60.0);
  CHECK(j["modes"][0]["outcomes"].size() == 3);
  CHECK(j["modes"][0]["outcomes"][2]["error"] == "Generate: UNAVAILABLE: gone");
  CHECK(j["modes"][1]["recall"] == 0.75);
  CHECK(j["modes"][1]["score_recall"] == 0.5);
  CHECK(j["modes"][1]["outcomes"][0]["score_recall"] == 0.0);
  CHECK(j["modes"][1]["overall"]["relaxed"] == 1.0);

  const std::string csv = eval_csv(modes);
  std::istringstream in(csv);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].rfind("mode,examples,answered,errors,boxes_em,boxes_relaxed,boxes_anls,", 0) == 0);
  for (const std::string& l : lines) CHECK(count(l, ",") == count(lines[0], ","));
  CHECK(lines[1].rfind("baseline-384,3,2,1,0.000000,", 0) == 0);
  CHECK_THAT(lines[1], ContainsSubstring(",729.000000,,,"));  // recall and score recall empty
}

TEST_CASE("the SVG plots one point per answered mode in two panels") {
  const std::string svg = eval_svg(two_modes(), "eval <set>");
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK_THAT(svg, ContainsSubstring("eval &lt;set&gt;") &&
                      ContainsSubstring("accuracy vs visual tokens") &&
                      ContainsSubstring("accuracy vs latency"));
  CHECK(count(svg, "<circle") == 4);  // 2 modes x 2 panels
  CHECK(count(svg, ">shirg</text>") == 2);
  CHECK_THROWS_AS(eval_svg({make_mode_report("shirg", {})}, "t"), std::invalid_argument);
}

TEST_CASE("scatter labels at the same place do not overlap") {
  const std::string svg =
      scatter_svg("t", {ScatterPanel{"p", "x", "y", 100, {{"a", 10, 0}, {"b", 10, 0}}}});
  auto label_y = [&](const std::string& name) {
    const auto end = svg.find(">" + name + "</text>");
    REQUIRE(end != std::string::npos);
    const auto y = svg.rfind(" y=\"", end);
    return std::stod(svg.substr(y + 4));
  };
  CHECK(label_y("b") == Approx(label_y("a") - 11));
  CHECK_THROWS_AS(scatter_svg("t", {}), std::invalid_argument);
  CHECK_THROWS_AS(scatter_svg("t", {ScatterPanel{"p", "x", "y", 0, {}}}), std::invalid_argument);
}
