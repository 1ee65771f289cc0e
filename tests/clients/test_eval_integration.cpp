// shirg-eval against the real shirg-server on the tiny model (random weights: the answers are
// noise, so only the structure is checked: every mode row, numbers in range, files written,
// exit statuses).
#include "tests/common/catch.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/clients/process_util.h"
#include "tests/server/server_process.h"

namespace fs = std::filesystem;
using Catch::Matchers::ContainsSubstring;
using shirg::test::run;
using shirg::test::slurp;

namespace {

const std::string kEval = SHIRG_EVAL_BIN;
const std::string kSamples = std::string(SHIRG_SOURCE_DIR) + "/clients/samples";
const std::vector<std::string> kModes = {  // shirg-eval's default --modes, in order
    "baseline-384", "lavida-hd", "full-672",        "shirg",    "shirg-adaptive", "shirg-query",
    "no-scaffold",  "no-coords", "similarity-only", "no-merge", "random-k"};
const std::vector<std::string> kSelecting = {"shirg",           "shirg-adaptive", "shirg-query",
                                             "no-scaffold",     "no-coords",      "no-merge",
                                             "similarity-only", "random-k"};

shirg::testing::ServerProcess& server() {
  static shirg::testing::ServerProcess s;
  return s;
}

// A 3-example set in a private folder: a relative image path with a box, an absolute JPEG path
// with a box and an answer list, and one line with neither family nor box.
std::string write_set() {
  const fs::path dir = fs::path(server().dir()) / "evalset";
  fs::create_directories(dir / "images");
  fs::copy_file(kSamples + "/bar_chart.png", dir / "images/chart.png",
                fs::copy_options::overwrite_existing);
  std::ofstream(dir / "eval.jsonl")
      << R"({"question": "What is the value of the tallest bar?", "answer": "42", )"
      << R"("family": "charts", "evidence_box": [100, 50, 200, 300], "image": "images/chart.png"})"
      << "\n"
      << R"({"question": "What is the total?", "answer": ["12.50", "12.5"], "family": "receipts", )"
      << R"("evidence_box": [300, 600, 540, 660], "image": ")" << kSamples << "/receipt.jpg\"}\n"
      << R"({"question": "What does the sign say?", "answer": "stop", "image": ")" << kSamples
      << "/street_sign.jpg\"}\n";
  return (dir / "eval.jsonl").string();
}

std::vector<std::string> eval_args(const std::string& set, std::vector<std::string> extra) {
  std::vector<std::string> a = {
      kEval,     "--addr", server().address(), "--data", set, "--gen-length", "8",
      "--steps", "4",      "--seed",           "3"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

const nlohmann::json& mode(const nlohmann::json& j, const std::string& name) {
  for (const auto& m : j["modes"]) {
    if (m["mode"] == name) return m;
  }
  FAIL("mode " << name << " missing");
  throw std::logic_error("unreachable");
}

bool in_unit(const nlohmann::json& v) {
  return v.is_number() && v.get<double>() >= 0 && v.get<double>() <= 1;
}

}  // namespace

TEST_CASE("shirg-eval runs every mode and writes the table, JSON, CSV and plot") {
  const std::string set = write_set();
  const std::string out = server().dir() + "/eval";
  auto r = run(eval_args(set, {"--concurrency", "2", "--json", out + ".json", "--csv", out + ".csv",
                               "--plot", out + ".svg"}),
               600);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);

  std::istringstream table(r.out);
  std::vector<std::string> lines;
  for (std::string l; std::getline(table, l);) lines.push_back(l);
  REQUIRE(lines.size() == 2 + kModes.size());
  CHECK_THAT(lines[0], ContainsSubstring("| mode | all EM % |") &&
                           ContainsSubstring("charts relaxed %") &&
                           ContainsSubstring("receipts EM %") && ContainsSubstring("total ms"));
  for (std::size_t i = 0; i < kModes.size(); ++i) {
    CHECK(lines[2 + i].rfind("| " + kModes[i] + " |", 0) == 0);
  }

  const auto j = nlohmann::json::parse(slurp(out + ".json"));
  CHECK(j["config"]["examples"] == 3);
  CHECK(j["config"]["generation"]["temperature"] == 0.0);
  CHECK(j["config"]["server"]["model_type"] == "llava_llada");
  REQUIRE(j["modes"].size() == kModes.size());
  for (const std::string& name : kModes) {
    INFO(name);
    const auto& m = mode(j, name);
    CHECK(m["examples"] == 3);
    CHECK(m["answered"] == 3);
    CHECK(m["errors"] == 0);
    CHECK(m["families"].size() == 3);
    for (const char* metric : {"em", "anls", "relaxed"}) CHECK(in_unit(m["overall"][metric]));
    CHECK(m["visual_tokens"].get<double>() > 0);
    for (const char* stage : {"vision", "selection", "prefill", "steps", "total"}) {
      CHECK(m["stage_mean_ms"][stage].get<double>() >= 0);
    }
    CHECK(m["stage_mean_ms"]["total"].get<double>() > 0);
    CHECK(m["cache_mib"].get<double>() > 0);
    REQUIRE(m["outcomes"].size() == 3);
    for (const auto& o : m["outcomes"]) CHECK(o["prediction"].is_string());
  }
  for (const std::string& name : kSelecting) {
    INFO(name);
    CHECK(in_unit(mode(j, name)["recall"]));
    CHECK(in_unit(mode(j, name)["score_recall"]));
    CHECK(mode(j, name)["recall_n"] == 2);
  }
  CHECK(mode(j, "full-672")["recall"] == 1.0);
  CHECK(mode(j, "full-672")["score_recall"].is_null());
  CHECK(mode(j, "baseline-384")["recall"].is_null());
  CHECK(mode(j, "lavida-hd")["recall"].is_null());
  CHECK(mode(j, "baseline-384")["visual_tokens"].get<double>() <
        mode(j, "full-672")["visual_tokens"].get<double>());

  const std::string csv = slurp(out + ".csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + static_cast<long>(kModes.size()));
  const std::string svg = slurp(out + ".svg");
  CHECK(svg.rfind("<svg", 0) == 0);
  std::size_t circles = 0;
  for (auto p = svg.find("<circle"); p != std::string::npos; p = svg.find("<circle", p + 1)) {
    ++circles;
  }
  CHECK(circles == 2 * kModes.size());
}

TEST_CASE("shirg-eval --recall-only measures the selection without answers") {
  const std::string set = write_set();
  const std::string out = server().dir() + "/recall.json";
  auto r = run(eval_args(set, {"--recall-only", "--modes",
                               "baseline-384,full-672,shirg,"
                               "shirg-query,similarity-only",
                               "--json", out}),
               300);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.rfind("| mode | visual tokens | evidence recall % | score recall % |", 0) == 0);
  CHECK_THAT(r.out, ContainsSubstring("| full-672 | - | 100.0 | - | 2 | 0 |") &&
                        ContainsSubstring("| baseline-384 | - | - | - | 0 | 0 |"));
  const auto j = nlohmann::json::parse(slurp(out));
  REQUIRE(j["modes"].size() == 5);
  for (const auto& m : j["modes"]) CHECK(m["answered"] == 0);
  CHECK(mode(j, "baseline-384")["recall"].is_null());
  CHECK(mode(j, "full-672")["recall"] == 1.0);
  for (const char* name : {"shirg", "shirg-query", "similarity-only"}) {
    INFO(name);
    CHECK(in_unit(mode(j, name)["recall"]));
    CHECK(mode(j, name)["visual_tokens"].get<double>() > 0);
  }
}

TEST_CASE("shirg-eval exit statuses: failed requests, unreachable server, bad input") {
  const std::string set = write_set();
  auto failed = run(eval_args(set, {"--modes", "shirg", "--block-length", "3"}), 300);
  CHECK(failed.exit_code == 1);
  CHECK_THAT(failed.err, ContainsSubstring("3 of 3 examples failed") &&
                             ContainsSubstring("Generate: INVALID_ARGUMENT"));
  CHECK(failed.out.find("| shirg |") != std::string::npos);  // the table is still printed

  auto down = run({kEval, "--addr", "127.0.0.1:" + std::to_string(shirg::test::free_port()),
                   "--data", set, "--timeout", "5"});
  CHECK(down.exit_code == 1);
  CHECK_THAT(down.err, ContainsSubstring("cannot reach shirg-server"));

  const std::string bad = server().dir() + "/bad.jsonl";
  std::ofstream(bad) << slurp(set) << "{\"question\": \"q\"}\n";
  auto b = run({kEval, "--addr", server().address(), "--data", bad});
  CHECK(b.exit_code == 2);
  CHECK_THAT(b.err, ContainsSubstring("bad.jsonl:4: \"answer\" is missing"));
  CHECK(run({kEval, "--data", set, "--modes", "shirg,bogus"}).exit_code == 2);
}
