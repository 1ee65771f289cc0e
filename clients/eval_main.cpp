// shirg-eval: runs a JSONL VQA set through a shirg-server for a list of selection modes and
// reports accuracy (exact match, ANLS, relaxed) per task family, visual tokens, stage latency,
// cache size and the evidence recall of the selection (docs/clients.md).
// Exit statuses: 0 ok, 2 usage / bad input, 1 server unreachable, a failed request or an
// unwritable output.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "clients/args.h"
#include "clients/eval_data.h"
#include "clients/eval_metrics.h"
#include "clients/eval_report.h"
#include "clients/progress_display.h"
#include "clients/rpc_common.h"

namespace {

using namespace shirg::clients;
namespace v1 = shirg::v1;

const char* const kDefaultModes =
    "baseline-384,lavida-hd,full-672,shirg,shirg-adaptive,shirg-query,no-scaffold,no-coords,"
    "similarity-only,no-merge,random-k";

// A --modes entry: a server selection mode, optionally with "-adaptive" (adaptive K) and / or
// "-query" (query-aware scoring) appended for the SHIRG-family modes ("shirg-adaptive-query").
struct ModeSpec {
  std::string name;
  v1::SelectionMode mode = v1::SELECTION_MODE_SHIRG;
  bool adaptive = false, query = false;
  bool selects = false;  // a SHIRG-family mode (SelectionMap works, recall is measured)
};

bool strip_suffix(std::string& s, const std::string& suffix) {
  if (s.size() <= suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix))
    return false;
  s.resize(s.size() - suffix.size());
  return true;
}

ModeSpec parse_mode_spec(const std::string& name) {
  ModeSpec m;
  m.name = name;
  std::string base = name;
  m.query = strip_suffix(base, "-query");
  m.adaptive = strip_suffix(base, "-adaptive");
  try {
    m.mode = parse_selection_mode(base);
  } catch (const UsageError&) {
    throw UsageError("unknown mode '" + name + "' in --modes");
  }
  m.selects = m.mode != v1::SELECTION_MODE_BASELINE_384 && m.mode != v1::SELECTION_MODE_LAVIDA_HD &&
              m.mode != v1::SELECTION_MODE_FULL_672;
  if ((m.adaptive || m.query) && !m.selects) {
    throw UsageError("mode '" + name + "': -adaptive / -query apply to SHIRG modes only");
  }
  return m;
}

std::vector<ModeSpec> parse_modes(const std::string& list) {
  std::vector<ModeSpec> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string item = list.substr(start, comma - start);
    if (item.empty()) throw UsageError("--modes has an empty entry");
    for (const ModeSpec& m : out) {
      if (m.name == item) throw UsageError("--modes names '" + item + "' twice");
    }
    out.push_back(parse_mode_spec(item));
    start = comma + 1;
  }
  return out;
}

struct Input {
  Example ex;
  std::string image;              // encoded bytes
  std::array<int64_t, 2> size{};  // width, height
};

struct Settings {
  ConnectionOptions conn;
  v1::GenerationOptions gen;
  v1::SelectionOptions sel_base;  // k / k_min / k_max from the command line
  bool recall_only = false;
  int concurrency = 1;
};

v1::SelectionOptions selection_for(const Settings& s, const ModeSpec& m) {
  v1::SelectionOptions o;
  if (m.selects) o = s.sel_base;
  o.set_mode(m.mode);
  if (m.adaptive) o.set_adaptive_k(true);
  if (m.query) o.set_query_aware(true);
  return o;
}

// Runs one example under one mode (never throws on RPC errors: they go to Outcome::error).
Outcome run_one(v1::Inference::Stub& stub, const Settings& s, const ModeSpec& m, const Input& in) {
  Outcome o;
  o.line = in.ex.line;
  o.family = in.ex.family;
  const v1::SelectionOptions sel = selection_for(s, m);
  if (in.ex.evidence_box && m.mode == v1::SELECTION_MODE_FULL_672) o.recall = 1.0;
  if (in.ex.evidence_box && m.selects) {
    v1::SelectionMapRequest req;
    req.set_image(in.image);
    req.set_question(in.ex.question);
    *req.mutable_selection() = sel;
    grpc::ClientContext ctx;
    prepare_context(ctx, s.conn);
    v1::SelectionMapResponse resp;
    const grpc::Status st = stub.SelectionMap(&ctx, req, &resp);
    if (!st.ok()) {
      o.error = "SelectionMap: " + format_status(st);
      return o;
    }
    const std::vector<int64_t> cells =
        evidence_cells(*in.ex.evidence_box, in.size[0], in.size[1], resp.grid());
    o.recall = evidence_recall(cells, {resp.kept_indices().begin(), resp.kept_indices().end()});
    o.score_recall = score_recall(cells, {resp.scores().begin(), resp.scores().end()},
                                  resp.selection().hi_detail_tokens());
    o.visual_tokens = resp.selection().visual_tokens();
  }
  if (s.recall_only) return o;
  v1::GenerateRequest req;
  req.set_image(in.image);
  req.set_question(in.ex.question);
  *req.mutable_generation() = s.gen;
  *req.mutable_selection() = sel;
  grpc::ClientContext ctx;
  prepare_context(ctx, s.conn);
  v1::GenerateResponse r;
  const grpc::Status st = stub.Generate(&ctx, req, &r);
  if (!st.ok()) {
    o.error = "Generate: " + format_status(st);
    return o;
  }
  o.answered = true;
  o.prediction = r.answer();
  o.em = exact_match(r.answer(), in.ex.answers);
  o.anls = anls(r.answer(), in.ex.answers);
  o.relaxed = relaxed_accuracy(r.answer(), in.ex.answers);
  o.visual_tokens = r.selection().visual_tokens();
  const auto& t = r.timings();
  o.stage_ms = {t.vision_ms(), t.selection_ms(), t.prefill_ms(), t.steps_ms(), t.total_ms()};
  o.cache_bytes = r.cache_bytes();
  return o;
}

// Progress over all (mode, example) pairs on stderr: a redrawn bar on a terminal, else one line
// per finished mode.
class Progress {
 public:
  Progress(std::size_t total, bool live) : total_(total), live_(live) {}
  void done(const std::string& mode, bool failed) {
    std::lock_guard<std::mutex> lock(mu_);
    ++done_;
    failed_ += failed;
    if (!live_) return;
    std::fprintf(stderr, "\r%s %zu/%zu  %-16s %zu failed", progress_bar(done_, total_, 30).c_str(),
                 done_, total_, mode.c_str(), failed_);
    std::fflush(stderr);
  }
  void mode_finished(const ModeReport& r, double seconds) {
    std::lock_guard<std::mutex> lock(mu_);
    if (live_) std::fprintf(stderr, "\r\033[K");
    std::fprintf(stderr, "shirg-eval: %-16s %zu examples, %zu answered, %zu failed, %.1f s\n",
                 r.mode.c_str(), r.examples, r.answered, r.errors, seconds);
  }

 private:
  std::mutex mu_;
  std::size_t total_, done_ = 0, failed_ = 0;
  bool live_;
};

ModeReport run_mode(v1::Inference::Stub& stub, const Settings& s, const ModeSpec& m,
                    const std::vector<Input>& inputs, Progress& progress) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<Outcome> outcomes(inputs.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i; (i = next++) < inputs.size();) {
      try {
        outcomes[i] = run_one(stub, s, m, inputs[i]);
      } catch (const std::exception& e) {  // e.g. a SelectionMap answer with a bad grid
        outcomes[i].line = inputs[i].ex.line;
        outcomes[i].family = inputs[i].ex.family;
        outcomes[i].error = e.what();
      }
      progress.done(m.name, !outcomes[i].error.empty());
    }
  };
  std::vector<std::thread> threads;
  const std::size_t n = std::min<std::size_t>(s.concurrency, inputs.size());
  for (std::size_t t = 0; t < n; ++t) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  ModeReport r = make_mode_report(m.name, std::move(outcomes));
  progress.mode_finished(
      r, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return r;
}

std::vector<Input> load_inputs(const std::string& path, int64_t limit) {
  std::vector<Example> examples = load_examples(path);
  if (limit > 0 && static_cast<std::size_t>(limit) < examples.size()) examples.resize(limit);
  std::map<std::string, std::pair<std::string, std::array<int64_t, 2>>> cache;
  std::vector<Input> out;
  for (Example& ex : examples) {
    const std::string where = path + ":" + std::to_string(ex.line) + ": ";
    auto it = cache.find(ex.image);
    if (it == cache.end()) {
      std::string bytes;
      try {
        bytes = read_file(ex.image);
        const auto size = image_size(bytes);
        it = cache.emplace(ex.image, std::make_pair(std::move(bytes), size)).first;
      } catch (const std::exception& e) {
        throw DataError(where + "image " + ex.image + ": " + e.what());
      }
    }
    const auto& [bytes, size] = it->second;
    if (ex.evidence_box) {
      try {
        evidence_cells(*ex.evidence_box, size[0], size[1], 48);  // inside the image?
      } catch (const DataError& e) {
        throw DataError(where + e.what());
      }
    }
    out.push_back(Input{std::move(ex), bytes, size});
  }
  return out;
}

nlohmann::json server_info(v1::Inference::Stub& stub, const ConnectionOptions& conn) {
  grpc::ClientContext ctx;
  prepare_context(ctx, conn);
  v1::ModelInfoResponse info;
  const grpc::Status st = stub.ModelInfo(&ctx, v1::ModelInfoRequest{}, &info);
  if (!st.ok()) {
    throw std::runtime_error("cannot reach shirg-server at " + conn.addr + ": " +
                             format_status(st));
  }
  return nlohmann::json::parse(to_json(info, false));
}

int run(const ArgParser& args) {
  if (!args.has("data")) throw UsageError("--data FILE.jsonl is required");
  Settings s;
  s.conn = connection_options(args);
  s.gen = generation_options(args);
  if (!args.has("temperature")) s.gen.set_temperature(0);
  if (args.has("k")) s.sel_base.set_k(args.get_int("k"));
  if (args.has("k-min")) s.sel_base.set_k_min(args.get_int("k-min"));
  if (args.has("k-max")) s.sel_base.set_k_max(args.get_int("k-max"));
  s.recall_only = args.has("recall-only");
  const int64_t conc = args.get_int("concurrency"), limit = args.get_int("limit");
  if (conc < 1 || conc > 256) throw UsageError("--concurrency must be in [1, 256]");
  if (limit < 0) throw UsageError("--limit must be >= 0");
  s.concurrency = static_cast<int>(conc);
  const std::vector<ModeSpec> modes = parse_modes(args.get("modes"));
  if (s.recall_only && args.has("plot")) {
    throw UsageError("--plot needs answers (not with --recall-only)");
  }
  const std::vector<Input> inputs = load_inputs(args.get("data"), limit);

  auto stub = v1::Inference::NewStub(make_channel(s.conn));
  const nlohmann::json info = server_info(*stub, s.conn);
  Progress progress(modes.size() * inputs.size(), isatty(fileno(stderr)) != 0);
  std::vector<ModeReport> reports;
  for (const ModeSpec& m : modes) reports.push_back(run_mode(*stub, s, m, inputs, progress));

  std::printf("%s",
              (s.recall_only ? format_recall_markdown(reports) : format_markdown(reports)).c_str());
  std::fflush(stdout);
  nlohmann::json config = {{"data", args.get("data")},
                           {"examples", inputs.size()},
                           {"recall_only", s.recall_only},
                           {"concurrency", s.concurrency},
                           {"generation", nlohmann::json::parse(to_json(s.gen, false))},
                           {"selection", nlohmann::json::parse(to_json(s.sel_base, false))},
                           {"server", info}};
  if (args.has("json")) write_file(args.get("json"), eval_json(reports, config).dump(2) + "\n");
  if (args.has("csv")) write_file(args.get("csv"), eval_csv(reports));
  bool plot_failed = false;
  if (args.has("plot")) {
    try {
      write_file(args.get("plot"), eval_svg(reports, "shirg-eval: " + args.get("data")));
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "shirg-eval: no plot written: %s\n", e.what());
      plot_failed = true;
    }
  }
  std::size_t failed = 0, calls = 0;
  std::string first;
  for (const ModeReport& r : reports) {
    failed += r.errors;
    calls += r.examples;
    if (first.empty()) first = r.first_error;
  }
  if (failed > 0) {
    std::fprintf(stderr, "shirg-eval: %zu of %zu examples failed (first: %s)\n", failed, calls,
                 first.c_str());
    return kExitFailure;
  }
  return plot_failed ? kExitFailure : kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  ArgParser args("shirg-eval", "--data FILE.jsonl [--modes M,M,...] [options]");
  args.section("Evaluation");
  args.option("data", "FILE.jsonl",
              "examples: {\"question\", \"answer\", \"image\", \"family\"?, \"evidence_box\"?}");
  args.option("modes", "M,M,...",
              "selection modes; a SHIRG mode may end in -adaptive (adaptive K) and / or -query "
              "(query-aware)",
              kDefaultModes);
  args.option("limit", "N", "only the first N examples (0 = all)", "0");
  args.option("concurrency", "N", "requests in flight", "1");
  args.flag("recall-only", "only SelectionMap: evidence recall of the selection (no answers)");
  args.option("k", "N", "hi-detail tokens kept by the SHIRG modes (unset = server default)");
  args.option("k-min", "N", "adaptive K lower bound");
  args.option("k-max", "N", "adaptive K upper bound");
  args.section("Output (the Markdown table goes to stdout)");
  args.option("json", "FILE", "every mode with per-example outcomes as JSON");
  args.option("csv", "FILE", "one row per mode");
  args.option("plot", "FILE.svg", "accuracy vs visual tokens and vs latency");
  add_generation_options(args);
  add_connection_options(args, "300");
  try {
    args.parse(argc, argv);
    if (args.help_requested()) {
      std::printf("%s", args.help().c_str());
      return kExitOk;
    }
    return run(args);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "shirg-eval: %s\n(see shirg-eval --help)\n", e.what());
    return kExitUsage;
  } catch (const DataError& e) {
    std::fprintf(stderr, "shirg-eval: %s\n", e.what());
    return kExitUsage;
  } catch (const LocalIoError& e) {  // a certificate or an output file
    std::fprintf(stderr, "shirg-eval: %s\n", e.what());
    return kExitFailure;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shirg-eval: %s\n", e.what());
    return kExitFailure;
  }
}
