#include "clients/loadtest_runner.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

namespace shirg::clients {

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = shirg::v1;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

v1::GenerateRequest make_request(const RunConfig& cfg, const Workload& w, int64_t i) {
  const WorkItem& item = w.items[static_cast<std::size_t>(i) % w.items.size()];
  v1::GenerateRequest req;
  req.set_image(*w.images[item.image].bytes);
  req.set_question(item.question);
  *req.mutable_generation() = cfg.generation;
  *req.mutable_selection() = cfg.selection;
  return req;
}

Sample to_sample(const grpc::Status& st, const v1::GenerateResponse& resp, double latency_ms) {
  Sample s;
  s.latency_ms = latency_ms;
  if (!st.ok()) {
    s.code = grpc_status_name(st.error_code());
    return s;
  }
  s.answer_tokens = resp.answer_tokens();
  const auto& t = resp.timings();
  s.stage_ms = {t.queue_ms(),     t.decode_ms(),  t.vision_ms(), t.selection_ms(),
                t.projector_ms(), t.prefill_ms(), t.steps_ms(),  t.total_ms()};
  return s;
}

// Collects the samples of one level and prints progress from its own thread.
class LevelRecorder {
 public:
  LevelRecorder(const RunConfig& cfg, std::string label, int64_t expected)
      : cfg_(cfg), label_(std::move(label)), expected_(expected), start_(Clock::now()) {
    if (!cfg_.quiet) progress_ = std::thread([this] { progress_loop(); });
  }
  ~LevelRecorder() { stop(); }

  void add(Sample s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (s.code != "OK") errors_++;
    samples_.push_back(std::move(s));
    last_done_ = Clock::now();
  }
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    cv_.notify_all();
    if (progress_.joinable()) progress_.join();
    if (!cfg_.quiet) {
      print_line();
      std::fputs("\n", stderr);
    }
  }
  std::vector<Sample> samples() {
    std::lock_guard<std::mutex> lock(mu_);
    return samples_;
  }
  // First send to last completion (0 when nothing completed).
  double wall_s() {
    std::lock_guard<std::mutex> lock(mu_);
    return samples_.empty() ? 0.0 : ms_between(start_, last_done_) / 1000.0;
  }

 private:
  void print_line() {
    std::size_t done, errors;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done = samples_.size();
      errors = errors_;
    }
    const double el = ms_between(start_, Clock::now()) / 1000.0;
    std::fprintf(stderr, "%s[%s] %zu/%lld done, %zu errors, %.1f s, %.2f req/s",
                 cfg_.live_progress ? "\r\033[K" : "", label_.c_str(), done,
                 static_cast<long long>(expected_), errors, el, el > 0 ? done / el : 0.0);
    if (!cfg_.live_progress) std::fputs("\n", stderr);
    std::fflush(stderr);
  }
  void progress_loop() {
    const auto period =
        cfg_.live_progress ? std::chrono::milliseconds(250) : std::chrono::milliseconds(5000);
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, period, [this] { return stopped_; })) {
      lock.unlock();
      print_line();
      lock.lock();
    }
  }

  const RunConfig& cfg_;
  std::string label_;
  int64_t expected_;
  Clock::time_point start_, last_done_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Sample> samples_;
  std::size_t errors_ = 0;
  bool stopped_ = false;
  std::thread progress_;
};

void check(const RunConfig& cfg) {
  if (cfg.conn.timeout_s <= 0) throw std::invalid_argument("the load test needs a call deadline");
  if (cfg.max_requests < 1) throw std::invalid_argument("--requests must be >= 1");
  if (!(cfg.duration_s > 0)) throw std::invalid_argument("--duration must be > 0");
  if (cfg.warmup < 0) throw std::invalid_argument("--warmup must be >= 0");
}

// Runs n unmeasured requests at the given concurrency (same channel, so connections are warm).
void warm_up(const RunConfig& cfg, const Workload& w, v1::Inference::Stub& stub, int concurrency,
             int64_t n) {
  if (n <= 0) return;
  std::atomic<int64_t> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      for (int64_t i; (i = next++) < n;) {
        grpc::ClientContext ctx;
        prepare_context(ctx, cfg.conn);
        v1::GenerateResponse resp;
        (void)stub.Generate(&ctx, make_request(cfg, w, i), &resp);
      }
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace

LevelResult run_closed_loop(const RunConfig& cfg, const Workload& w, int concurrency) {
  check(cfg);
  if (concurrency < 1) throw std::invalid_argument("concurrency must be >= 1");
  auto stub = v1::Inference::NewStub(make_channel(cfg.conn));
  warm_up(cfg, w, *stub, concurrency, cfg.warmup);

  LevelRecorder rec(cfg, "concurrency " + std::to_string(concurrency), cfg.max_requests);
  const auto stop_issuing =
      Clock::now() + std::chrono::microseconds(static_cast<int64_t>(cfg.duration_s * 1e6));
  std::atomic<int64_t> next{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < concurrency; ++t) {
    workers.emplace_back([&] {
      for (;;) {
        if (Clock::now() >= stop_issuing) return;
        const int64_t i = next++;
        if (i >= cfg.max_requests) return;
        const v1::GenerateRequest req = make_request(cfg, w, cfg.warmup + i);
        grpc::ClientContext ctx;
        prepare_context(ctx, cfg.conn);
        v1::GenerateResponse resp;
        const auto t0 = Clock::now();
        if (!cfg.stream) {
          const grpc::Status st = stub->Generate(&ctx, req, &resp);
          rec.add(to_sample(st, resp, ms_between(t0, Clock::now())));
          continue;
        }
        double first_step_ms = -1;
        auto reader = stub->GenerateStream(&ctx, req);
        v1::GenerateEvent ev;
        while (reader->Read(&ev)) {
          if (ev.has_step() && first_step_ms < 0) first_step_ms = ms_between(t0, Clock::now());
          if (ev.has_result()) resp = ev.result();
        }
        const grpc::Status st = reader->Finish();
        Sample s = to_sample(st, resp, ms_between(t0, Clock::now()));
        s.first_step_ms = first_step_ms;
        rec.add(std::move(s));
      }
    });
  }
  for (auto& t : workers) t.join();
  rec.stop();
  return make_level_result("closed", concurrency, rec.samples(), rec.wall_s());
}

LevelResult run_open_loop(const RunConfig& cfg, const Workload& w, double rate) {
  check(cfg);
  if (!(rate > 0)) throw std::invalid_argument("rate must be > 0");
  auto stub = v1::Inference::NewStub(make_channel(cfg.conn));
  warm_up(cfg, w, *stub, 1, cfg.warmup);

  char label[64];
  std::snprintf(label, sizeof label, "rate %g/s", rate);
  LevelRecorder rec(cfg, label, cfg.max_requests);
  std::mutex mu;
  std::condition_variable cv;
  int64_t inflight = 0;

  struct Call {
    grpc::ClientContext ctx;
    v1::GenerateRequest req;
    v1::GenerateResponse resp;
    Clock::time_point scheduled;
  };
  std::mt19937_64 rng(cfg.seed);
  std::exponential_distribution<double> gap_s(rate);
  const auto start = Clock::now();
  const auto stop_issuing =
      start + std::chrono::microseconds(static_cast<int64_t>(cfg.duration_s * 1e6));
  auto at = start;
  for (int64_t i = 0; i < cfg.max_requests; ++i) {
    at += std::chrono::microseconds(static_cast<int64_t>(gap_s(rng) * 1e6));
    if (at >= stop_issuing) break;
    std::this_thread::sleep_until(at);
    {
      std::lock_guard<std::mutex> lock(mu);
      if (inflight >= cfg.max_inflight) {
        Sample dropped;
        dropped.code = "DROPPED";
        rec.add(dropped);
        continue;
      }
      inflight++;
    }
    auto* call = new Call;
    call->req = make_request(cfg, w, cfg.warmup + i);
    call->scheduled = at;
    prepare_context(call->ctx, cfg.conn);
    stub->async()->Generate(
        &call->ctx, &call->req, &call->resp, [call, &rec, &mu, &cv, &inflight](grpc::Status st) {
          rec.add(to_sample(st, call->resp, ms_between(call->scheduled, Clock::now())));
          delete call;
          std::lock_guard<std::mutex> lock(mu);
          inflight--;
          cv.notify_all();
        });
  }
  {
    // Every call has a deadline, so this wait ends by itself.
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return inflight == 0; });
  }
  rec.stop();
  return make_level_result("open", rate, rec.samples(), rec.wall_s());
}

}  // namespace shirg::clients
