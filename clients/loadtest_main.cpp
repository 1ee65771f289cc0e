// shirg-loadtest: closed-loop (fixed concurrency or a sweep) and open-loop (Poisson arrivals)
// load tests of a shirg-server, with a per-level table, JSON / CSV output and an SVG plot.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "clients/args.h"
#include "clients/loadtest_runner.h"
#include "clients/report.h"
#include "clients/rpc_common.h"
#include "clients/svg_plot.h"
#include "clients/workload.h"

namespace {

using namespace shirg::clients;
namespace v1 = shirg::v1;

nlohmann::json server_info(const ConnectionOptions& conn) {
  auto stub = v1::Inference::NewStub(make_channel(conn));
  grpc::ClientContext ctx;
  prepare_context(ctx, conn);
  v1::ModelInfoResponse info;
  const grpc::Status st = stub->ModelInfo(&ctx, v1::ModelInfoRequest{}, &info);
  if (!st.ok()) return {{"error", format_status(st)}};
  return nlohmann::json::parse(to_json(info, false));
}

Workload load_workload(const ArgParser& args) {
  const std::string samples = bundled_samples_dir();
  std::string images_dir = args.get("images");
  std::string questions = args.get("questions");
  if (images_dir.empty() || questions.empty()) {
    if (samples.empty()) {
      throw UsageError("bundled samples not found: give --images DIR and --questions FILE");
    }
    if (images_dir.empty()) images_dir = samples;
    // The bundled JSONL names the sample images; with other images use the plain questions.
    if (questions.empty()) {
      questions = samples + (args.has("images") ? "/questions.txt" : "/questions.jsonl");
    }
  }
  return make_workload(load_images(images_dir), load_questions(questions));
}

}  // namespace

int main(int argc, char** argv) {
  ArgParser args("shirg-loadtest", "[--concurrency 1,2,4,8 | --rate R[,R...]] [options]");
  args.section("Load");
  args.option("concurrency", "N[,N...]", "closed loop at each concurrency level (a sweep)");
  args.option("rate", "R[,R...]", "open loop: Poisson arrivals at R requests/s per level");
  args.option("requests", "N", "measured requests per level (bounded even with --duration)", "20");
  args.option("duration", "SECONDS", "stop issuing requests after this per level", "300");
  args.option("warmup", "N", "unmeasured warm-up requests before each level", "1");
  args.option("max-inflight", "N", "open loop: arrivals beyond N in flight count as DROPPED",
              "256");
  args.option("arrival-seed", "N", "seed of the Poisson arrivals", "1");
  args.section("Workload (default: the bundled samples)");
  args.option("images", "DIR", "images (*.jpg, *.jpeg, *.png)");
  args.option("questions", "FILE", ".txt (one per line) or .jsonl ({\"question\", \"image\"})");
  args.section("Output");
  args.option("json", "OUT.json", "write the results as JSON");
  args.option("csv", "OUT.csv", "write one CSV row per level");
  args.option("plot", "OUT.svg", "write a latency-versus-load SVG chart");
  args.flag("quiet", "no live progress on stderr");
  args.flag("stream",
            "closed loop: use GenerateStream and report the time to the first step event");
  args.flag("fail-on-error", "exit 1 if any measured request failed");
  add_request_options(args);
  add_connection_options(args, "120");
  try {
    args.parse(argc, argv);
    if (args.help_requested()) {
      std::printf("%s", args.help().c_str());
      return kExitOk;
    }
    RunConfig cfg;
    cfg.conn = connection_options(args);
    if (cfg.conn.timeout_s <= 0) throw UsageError("--timeout must be > 0 for a load test");
    cfg.generation = generation_options(args);
    cfg.selection = selection_options(args);
    cfg.max_requests = args.get_int("requests");
    cfg.duration_s = args.get_double("duration");
    cfg.warmup = args.get_int("warmup");
    cfg.max_inflight = args.get_int("max-inflight");
    cfg.seed = static_cast<uint64_t>(args.get_int("arrival-seed"));
    cfg.quiet = args.has("quiet");
    cfg.stream = args.has("stream");
    cfg.live_progress = isatty(fileno(stderr)) != 0;
    if (cfg.max_requests < 1) throw UsageError("--requests must be >= 1");
    if (!(cfg.duration_s > 0)) throw UsageError("--duration must be > 0");
    if (cfg.warmup < 0) throw UsageError("--warmup must be >= 0");
    if (cfg.max_inflight < 1) throw UsageError("--max-inflight must be >= 1");

    std::vector<int> concurrency;
    std::vector<double> rates;
    if (args.has("concurrency")) {
      for (double c : args.get_double_list("concurrency")) {
        if (c < 1 || c > 4096 || c != std::floor(c)) {
          throw UsageError("--concurrency levels must be integers in [1, 4096]");
        }
        concurrency.push_back(static_cast<int>(c));
      }
    }
    if (cfg.stream && args.has("rate"))
      throw UsageError("--stream measures the closed loop (--concurrency) only");
    if (args.has("rate")) {
      rates = args.get_double_list("rate");
      for (double r : rates) {
        if (!(r > 0)) throw UsageError("--rate levels must be > 0");
      }
    }
    if (concurrency.empty() && rates.empty()) concurrency = {1};

    const Workload w = load_workload(args);
    const nlohmann::json info = server_info(cfg.conn);
    if (!cfg.quiet) {
      std::fprintf(stderr, "shirg-loadtest: %s, %zu images x %zu work items, model %s\n",
                   cfg.conn.addr.c_str(), w.images.size(), w.items.size(),
                   info.value("checkpoint", info.value("error", std::string("?"))).c_str());
    }

    std::vector<LevelResult> levels;
    for (int c : concurrency) levels.push_back(run_closed_loop(cfg, w, c));
    for (double r : rates) levels.push_back(run_open_loop(cfg, w, r));

    std::printf("%s", format_table(levels).c_str());
    nlohmann::json config = {{"addr", cfg.conn.addr},
                             {"requests_per_level", cfg.max_requests},
                             {"duration_s", cfg.duration_s},
                             {"warmup", cfg.warmup},
                             {"timeout_s", cfg.conn.timeout_s},
                             {"work_items", w.items.size()},
                             {"generation", nlohmann::json::parse(to_json(cfg.generation, false))},
                             {"selection", nlohmann::json::parse(to_json(cfg.selection, false))},
                             {"server", info}};
    if (args.has("json")) write_file(args.get("json"), to_json(levels, config).dump(2) + "\n");
    if (args.has("csv")) write_file(args.get("csv"), to_csv(levels));
    if (args.has("plot")) {
      write_file(args.get("plot"),
                 latency_svg(levels, "shirg-server latency, " +
                                         info.value("checkpoint", std::string("unknown model"))));
    }
    std::size_t ok = 0, failed = 0;
    for (const LevelResult& r : levels) {
      ok += r.successes;
      failed += r.requests - r.successes;
    }
    if (ok == 0) {
      std::fprintf(stderr, "shirg-loadtest: no request succeeded\n");
      return kExitFailure;
    }
    return (failed > 0 && args.has("fail-on-error")) ? kExitFailure : kExitOk;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "shirg-loadtest: %s\n(see shirg-loadtest --help)\n", e.what());
    return kExitUsage;
  } catch (const LocalIoError& e) {
    std::fprintf(stderr, "shirg-loadtest: %s\n", e.what());
    return kExitLocalIo;
  } catch (const WorkloadError& e) {
    std::fprintf(stderr, "shirg-loadtest: %s\n", e.what());
    return kExitLocalIo;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shirg-loadtest: %s\n", e.what());
    return kExitFailure;
  }
}
