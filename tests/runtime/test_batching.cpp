// Continuous batching in the Executor (max_batch > 1) on the tiny model (fp32): requests run
// together give the same tokens as each run alone; requests join and leave a running batch;
// cancelling one leaves the others untouched; admission by prefix-cache memory. Every wait is
// bounded.
#include "tests/common/catch_torch.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "engine/runtime/executor.h"
#include "engine/runtime/pipeline.h"
#include "tests/common/test_images.h"
#include "tests/runtime/recorder.h"
#include "tests/runtime/runtime_fixture.h"

using namespace shirg;
using namespace std::chrono_literals;

namespace {

struct Spec {
  SelectionMode mode;
  int64_t side, gen_length, block_length, steps;
  double temperature;
  uint64_t seed;
};

// Different images, modes (prefix lengths), answer lengths, blocks, step counts and seeds.
const std::vector<Spec> kSpecs = {
    {SelectionMode::kBaseline384, 384, 16, 16, 8, 0.5, 1},
    {SelectionMode::kShirg, 512, 32, 8, 12, 0.0, 2},
    {SelectionMode::kFull672, 640, 8, 8, 8, 0.9, 3},
    {SelectionMode::kShirg, 700, 24, 24, 6, 0.3, 4},
    {SelectionMode::kBaseline384, 300, 12, 4, 12, 0.0, 5},
};

GenerateRequest request(const Spec& s) {
  GenerateRequest r;
  r.image_bytes = testing::chart_png(s.side, s.side);
  r.question = "What is written in the top left corner?";
  r.selection.mode = s.mode;
  r.selection.k = 256;
  r.generation.gen_length = s.gen_length;
  r.generation.block_length = s.block_length;
  r.generation.steps = s.steps;
  r.generation.temperature = s.temperature;
  r.generation.seed = s.seed;
  r.want_step_events = true;
  return r;
}

using testing::Recorder;

// Each spec run alone through Pipeline::run (the one-request path).
const std::vector<std::vector<int64_t>>& alone_answers() {
  static const std::vector<std::vector<int64_t>> out = [] {
    Pipeline p(testing::tiny_model(), {});
    std::vector<std::vector<int64_t>> v;
    for (const Spec& s : kSpecs) {
      GenerateRequest r = request(s);
      REQUIRE(p.validate(r).ok());
      GenerateResult res;
      const Status st = p.run(r, {}, &res);
      REQUIRE(st.ok());
      REQUIRE(res.steps_run > 0);
      v.push_back(res.answer_ids);
    }
    return v;
  }();
  return out;
}

// Waits (bounded) until `flag` is set.
void wait_for_flag(const std::atomic<bool>& flag) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!flag && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

ExecutorConfig batching(int max_batch, int workers = 1) {
  ExecutorConfig c;
  c.workers = workers;
  c.max_batch = max_batch;
  c.max_queue = 16;
  return c;
}

}  // namespace

TEST_CASE("requests batched together give the same tokens as each run alone (fp32)") {
  const auto& alone = alone_answers();
  std::mutex mu;
  std::vector<int64_t> sizes;
  ExecutorConfig c = batching(4, 2);
  c.on_batch_step = [&](int64_t n) {
    std::lock_guard<std::mutex> l(mu);
    sizes.push_back(n);
  };
  Executor ex(testing::tiny_model(), c);
  std::vector<std::shared_ptr<Recorder>> recs;
  for (size_t i = 0; i < kSpecs.size(); ++i) recs.push_back(std::make_shared<Recorder>());
  // The first request's first step waits (bounded) until the three others that took the
  // remaining slots have their prefix, so the next steps are shared whatever the machine's speed.
  recs[0]->on_step_hook = [&](const StepEvent& e) {
    if (e.step != 1) return;
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < until &&
           !(recs[1]->prefix_ready && recs[2]->prefix_ready && recs[3]->prefix_ready))
      std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(50ms);
  };
  for (size_t i = 0; i < kSpecs.size(); ++i) {
    uint64_t id = 0;
    REQUIRE(ex.enqueue(request(kSpecs[i]), recs[i], &id).ok());
  }
  for (size_t i = 0; i < recs.size(); ++i) {
    REQUIRE(recs[i]->wait());
    INFO("request " << i);
    REQUIRE(recs[i]->status.ok());
    CHECK(recs[i]->result.answer_ids == alone[i]);
    CHECK(recs[i]->steps == recs[i]->result.steps_run);
  }
  const auto st = ex.stats();
  CHECK(st.completed == static_cast<int64_t>(kSpecs.size()));
  CHECK(st.cache_bytes_in_use == 0);
  CHECK(st.stepping == 0);
  std::lock_guard<std::mutex> l(mu);
  REQUIRE(!sizes.empty());
  CHECK(*std::max_element(sizes.begin(), sizes.end()) >= 2);  // they really shared steps
  CHECK(*std::max_element(sizes.begin(), sizes.end()) <= 4);  // never more than max_batch
  CHECK(st.batched_steps == static_cast<int64_t>(sizes.size()));
}

TEST_CASE("a request joins a running batch and leaves it when done, the others are untouched") {
  const auto& alone = alone_answers();
  Executor ex(testing::tiny_model(), batching(4));
  // The long one (index 1: 12 steps) is running; the others join after its 3rd step.
  std::promise<void> third;
  auto long_rec = std::make_shared<Recorder>();
  long_rec->on_step_hook = [&](const StepEvent& e) {
    if (e.step == 3) third.set_value();
  };
  uint64_t id = 0;
  REQUIRE(ex.enqueue(request(kSpecs[1]), long_rec, &id).ok());
  REQUIRE(third.get_future().wait_for(120s) == std::future_status::ready);
  auto a = std::make_shared<Recorder>(), b = std::make_shared<Recorder>();
  REQUIRE(ex.enqueue(request(kSpecs[0]), a, &id).ok());
  REQUIRE(ex.enqueue(request(kSpecs[2]), b, &id).ok());
  for (auto* r : {long_rec.get(), a.get(), b.get()}) {
    REQUIRE(r->wait());
    REQUIRE(r->status.ok());
  }
  CHECK(long_rec->result.answer_ids == alone[1]);
  CHECK(a->result.answer_ids == alone[0]);
  CHECK(b->result.answer_ids == alone[2]);
}

TEST_CASE("cancelling one request inside a batch leaves the others' answers unchanged") {
  const auto& alone = alone_answers();
  Executor ex(testing::tiny_model(), batching(4, 2));
  std::vector<std::shared_ptr<Recorder>> recs;
  std::vector<uint64_t> ids(3);
  std::atomic<bool> cancelled_once{false};
  Executor* exp = &ex;
  for (int i = 0; i < 3; ++i) recs.push_back(std::make_shared<Recorder>());
  // Request 1 cancels itself at its 2nd step, while the other two are stepping with it.
  recs[1]->on_step_hook = [&](const StepEvent& e) {
    if (e.step == 2 && !cancelled_once.exchange(true)) exp->cancel(ids[1]);
  };
  for (int i = 0; i < 3; ++i) REQUIRE(ex.enqueue(request(kSpecs[i]), recs[i], &ids[i]).ok());
  for (auto& r : recs) REQUIRE(r->wait());
  CHECK(recs[1]->status.code == StatusCode::kCancelled);
  CHECK(recs[1]->steps <= 3);
  REQUIRE(recs[0]->status.ok());
  REQUIRE(recs[2]->status.ok());
  CHECK(recs[0]->result.answer_ids == alone[0]);
  CHECK(recs[2]->result.answer_ids == alone[2]);
  CHECK(ex.stats().cache_bytes_in_use == 0);
}

TEST_CASE("admission by memory: requests wait for prefix-cache room, an oversized one is refused") {
  const auto& alone = alone_answers();
  // The first request alone tells how many bytes its cache takes.
  int64_t one = 0;
  {
    Executor ex(testing::tiny_model(), batching(4));
    auto r = std::make_shared<Recorder>();
    uint64_t id = 0;
    REQUIRE(ex.enqueue(request(kSpecs[0]), r, &id).ok());
    REQUIRE(r->wait());
    REQUIRE(r->status.ok());
    one = r->result.cache_bytes;
    REQUIRE(one > 0);
  }
  SECTION("a budget for about one cache: three requests run one after another, all answered") {
    std::mutex mu;
    int64_t peak = 0;
    ExecutorConfig c = batching(4, 2);
    c.cache_budget_bytes = one + one / 2;
    Executor ex(testing::tiny_model(), c);
    Executor* exp = &ex;
    c.on_batch_step = nullptr;
    std::vector<std::shared_ptr<Recorder>> recs;
    for (int i = 0; i < 3; ++i) {
      recs.push_back(std::make_shared<Recorder>());
      recs.back()->on_step_hook = [&, exp](const StepEvent&) {
        const auto s = exp->stats();
        std::lock_guard<std::mutex> l(mu);
        peak = std::max(peak, s.cache_bytes_in_use);
      };
      uint64_t id = 0;
      REQUIRE(ex.enqueue(request(kSpecs[0]), recs.back(), &id).ok());
    }
    for (auto& r : recs) {
      REQUIRE(r->wait());
      REQUIRE(r->status.ok());
      CHECK(r->result.answer_ids == alone[0]);
    }
    CHECK(peak > 0);
    CHECK(peak <= c.cache_budget_bytes);
    CHECK(ex.stats().cache_bytes_in_use == 0);
  }
  SECTION("a cache larger than the whole budget: RESOURCE_EXHAUSTED with the sizes") {
    ExecutorConfig c = batching(4);
    c.cache_budget_bytes = one / 2;
    Executor ex(testing::tiny_model(), c);
    auto r = std::make_shared<Recorder>();
    uint64_t id = 0;
    REQUIRE(ex.enqueue(request(kSpecs[0]), r, &id).ok());
    REQUIRE(r->wait());
    CHECK(r->status.code == StatusCode::kResourceExhausted);
    CHECK(r->status.message.find("prefix-cache budget") != std::string::npos);
    CHECK(ex.stats().cache_bytes_in_use == 0);
  }
}

TEST_CASE("unary requests get step events without a rendered partial answer") {
  Executor ex(testing::tiny_model(), batching(2));
  auto r = std::make_shared<Recorder>();
  std::atomic<int> rendered{0};
  r->on_step_hook = [&](const StepEvent& e) {
    if (!e.partial_answer.empty()) ++rendered;
  };
  GenerateRequest q = request(kSpecs[0]);
  q.want_step_events = false;
  uint64_t id = 0;
  REQUIRE(ex.enqueue(q, r, &id).ok());
  REQUIRE(r->wait());
  REQUIRE(r->status.ok());
  CHECK(r->steps > 0);
  CHECK(rendered == 0);
}

TEST_CASE("prefix-first: requests admitted together reach step 0 together and step as one batch") {
  const auto& alone = alone_answers();
  std::mutex mu;
  std::vector<int64_t> sizes;
  ExecutorConfig c = batching(4, 1);
  c.schedule = StepSchedule::kPrefixFirst;
  c.on_batch_step = [&](int64_t n) {
    std::lock_guard<std::mutex> l(mu);
    sizes.push_back(n);
  };
  Executor ex(testing::tiny_model(), c);
  std::vector<std::shared_ptr<Recorder>> recs;
  for (size_t i = 0; i < 4; ++i) recs.push_back(std::make_shared<Recorder>());
  // "Admitted together": the first prefix does not end before all four are queued.
  std::atomic<bool> all_queued{false};
  recs[0]->on_prefix_ready_hook = [&] { wait_for_flag(all_queued); };
  for (size_t i = 0; i < 4; ++i) {
    uint64_t id = 0;
    REQUIRE(ex.enqueue(request(kSpecs[i]), recs[i], &id).ok());
  }
  all_queued = true;
  for (size_t i = 0; i < recs.size(); ++i) {
    REQUIRE(recs[i]->wait());
    INFO("request " << i);
    REQUIRE(recs[i]->status.ok());
    CHECK(recs[i]->result.answer_ids == alone[i]);
  }
  std::lock_guard<std::mutex> l(mu);
  REQUIRE(!sizes.empty());
  // With one prefix worker the interleaved schedule would step the first request alone while
  // the others are prepared; here the first step already holds all four.
  CHECK(sizes.front() == 4);
}

TEST_CASE("prefix-first: a request held back by another's prefix still hears its cancellation") {
  const auto& alone = alone_answers();
  ExecutorConfig c = batching(4, 1);
  c.schedule = StepSchedule::kPrefixFirst;
  Executor ex(testing::tiny_model(), c);
  Executor* exp = &ex;
  auto first = std::make_shared<Recorder>(), second = std::make_shared<Recorder>();
  uint64_t first_id = 0, second_id = 0;
  std::atomic<bool> answered_during_prefix{false};
  // The second request's prefix stages (this hook runs inside them) cancel the first, which is
  // prepared and held, and wait (bounded) until it is answered: only the held step loop's own
  // check can answer it while this prefix is still running.
  second->on_prefix_ready_hook = [&] {
    exp->cancel(first_id);
    answered_during_prefix = first->wait(30s);
  };
  std::atomic<bool> both_queued{false};
  first->on_prefix_ready_hook = [&] { wait_for_flag(both_queued); };
  REQUIRE(ex.enqueue(request(kSpecs[0]), first, &first_id).ok());
  REQUIRE(ex.enqueue(request(kSpecs[2]), second, &second_id).ok());
  both_queued = true;
  REQUIRE(first->wait());
  REQUIRE(second->wait());
  CHECK(answered_during_prefix);
  CHECK(first->status.code == StatusCode::kCancelled);
  CHECK(first->steps == 0);  // held from the start: it never stepped
  REQUIRE(second->status.ok());
  CHECK(second->result.answer_ids == alone[2]);
  const auto st = ex.stats();
  CHECK(st.cache_bytes_in_use == 0);
  CHECK(st.stepping == 0);
}

TEST_CASE("prefix-first with max_hold: a held request steps once the hold runs out") {
  const auto& alone = alone_answers();
  ExecutorConfig c = batching(4, 1);
  c.schedule = StepSchedule::kPrefixFirst;
  c.max_hold = std::chrono::milliseconds(20);
  Executor ex(testing::tiny_model(), c);
  auto first = std::make_shared<Recorder>(), second = std::make_shared<Recorder>();
  std::atomic<bool> both_queued{false};
  std::atomic<bool> stepped_during_prefix{false};
  first->on_prefix_ready_hook = [&] { wait_for_flag(both_queued); };
  // The second request's prefix stages wait (bounded) for the first request's first step: with
  // no limit on the hold that step would wait for this prefix, so only the expired hold lets it
  // happen here.
  second->on_prefix_ready_hook = [&] {
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (first->steps == 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(1ms);
    stepped_during_prefix = first->steps > 0;
  };
  uint64_t id = 0;
  REQUIRE(ex.enqueue(request(kSpecs[0]), first, &id).ok());
  REQUIRE(ex.enqueue(request(kSpecs[1]), second, &id).ok());
  both_queued = true;
  REQUIRE(first->wait());
  REQUIRE(second->wait());
  CHECK(stepped_during_prefix);
  REQUIRE(first->status.ok());
  REQUIRE(second->status.ok());
  CHECK(first->result.answer_ids == alone[0]);
  CHECK(second->result.answer_ids == alone[1]);
  const auto st = ex.stats();
  CHECK(st.holds_expired >= 1);
  CHECK(st.cache_bytes_in_use == 0);
}
