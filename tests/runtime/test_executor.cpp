// The Executor on the tiny model: results, back-pressure, cancellation, deadlines, concurrency
// and shutdown with requests in flight. Every wait is bounded.
#include "tests/common/catch_torch.h"

#include <condition_variable>
#include <future>
#include <mutex>

#include "engine/runtime/executor.h"
#include "tests/common/test_images.h"
#include "tests/runtime/recorder.h"
#include "tests/runtime/runtime_fixture.h"

using namespace shirg;
using namespace std::chrono_literals;

namespace {

GenerateRequest request(uint64_t seed, int64_t steps = 8) {
  GenerateRequest r;
  r.image_bytes = testing::chart_png(384, 384);
  r.question = "What does the sign say?";
  r.selection.mode = SelectionMode::kBaseline384;
  r.generation.gen_length = 16;
  r.generation.block_length = 16;
  r.generation.steps = steps;
  r.generation.temperature = 0.5;
  r.generation.seed = seed;
  return r;
}

using testing::Recorder;

ExecutorConfig config(int workers, std::size_t queue) {
  ExecutorConfig c;
  c.workers = workers;
  c.max_queue = queue;
  return c;
}

}  // namespace

TEST_CASE("a request completes with an answer and timings") {
  Executor ex(testing::tiny_model(), config(1, 4));
  auto rec = std::make_shared<Recorder>();
  uint64_t id = 0;
  REQUIRE(ex.enqueue(request(1), rec, &id).ok());
  REQUIRE(rec->wait());
  REQUIRE(rec->status.ok());
  CHECK(rec->result.timings.total_ms >= rec->result.timings.steps_ms);
  CHECK(rec->result.timings.queue_ms >= 0);
  CHECK(rec->steps == rec->result.steps_run);
  CHECK(ex.stats().completed == 1);
}

TEST_CASE("invalid requests are refused at enqueue and the observer is never called") {
  Executor ex(testing::tiny_model(), config(1, 4));
  auto rec = std::make_shared<Recorder>();
  GenerateRequest r = request(1);
  r.question = "";
  uint64_t id = 0;
  Status s = ex.enqueue(r, rec, &id);
  CHECK(s.code == StatusCode::kInvalidArgument);
  CHECK(!rec->wait(1s));
  CHECK(ex.stats().rejected == 1);
}

TEST_CASE("a full queue answers RESOURCE_EXHAUSTED") {
  Executor ex(testing::tiny_model(), config(1, 1));
  // Hold the single worker inside a request until we release it.
  std::promise<void> entered;
  std::promise<void> release;
  auto release_f = release.get_future().share();
  bool first = true;
  auto busy = std::make_shared<Recorder>();
  busy->on_step_hook = [&](const StepEvent&) {
    if (first) {
      first = false;
      entered.set_value();
      release_f.wait_for(60s);
    }
  };
  uint64_t id = 0;
  REQUIRE(ex.enqueue(request(1), busy, &id).ok());
  REQUIRE(entered.get_future().wait_for(60s) == std::future_status::ready);
  auto queued = std::make_shared<Recorder>();
  REQUIRE(ex.enqueue(request(2), queued, &id).ok());  // fills the queue (1)
  auto refused = std::make_shared<Recorder>();
  Status s = ex.enqueue(request(3), refused, &id);
  CHECK(s.code == StatusCode::kResourceExhausted);
  CHECK(s.message.find("queue is full") != std::string::npos);
  release.set_value();
  REQUIRE(busy->wait());
  REQUIRE(queued->wait());
  CHECK(busy->status.ok());
  CHECK(queued->status.ok());
}

TEST_CASE("a queued request that is cancelled or expires leaves the queue at once") {
  Executor ex(testing::tiny_model(), config(1, 2));
  std::promise<void> entered;
  std::promise<void> release;
  auto release_f = release.get_future().share();
  bool first = true;
  auto busy = std::make_shared<Recorder>();
  busy->on_step_hook = [&](const StepEvent&) {
    if (first) {
      first = false;
      entered.set_value();
      release_f.wait_for(60s);
    }
  };
  uint64_t busy_id = 0, a = 0, b = 0, c = 0;
  REQUIRE(ex.enqueue(request(1), busy, &busy_id).ok());
  REQUIRE(entered.get_future().wait_for(60s) == std::future_status::ready);
  // The worker is held: whatever happens to the queued requests below happens without it.
  auto cancelled = std::make_shared<Recorder>();
  REQUIRE(ex.enqueue(request(2), cancelled, &a).ok());
  auto waiting = std::make_shared<Recorder>();
  REQUIRE(ex.enqueue(request(3), waiting, &b).ok());
  CHECK(ex.stats().queued == 2);
  auto refused = std::make_shared<Recorder>();
  CHECK(ex.enqueue(request(4), refused, &c).code == StatusCode::kResourceExhausted);
  ex.cancel(a);
  CHECK(ex.stats().queued == 1);  // its slot is free at once
  REQUIRE(cancelled->wait(10s));
  CHECK(cancelled->status.code == StatusCode::kCancelled);
  // A queued request whose deadline passes is answered while the worker is still held.
  auto expiring = std::make_shared<Recorder>();
  GenerateRequest r = request(5);
  r.deadline = std::chrono::steady_clock::now() + 100ms;
  REQUIRE(ex.enqueue(r, expiring, &c).ok());  // the freed slot takes it
  REQUIRE(expiring->wait(10s));
  CHECK(expiring->status.code == StatusCode::kDeadlineExceeded);
  CHECK(ex.stats().queued == 1);
  {
    std::lock_guard<std::mutex> l(busy->mu);
    CHECK_FALSE(busy->done);
  }
  release.set_value();
  REQUIRE(busy->wait());
  REQUIRE(waiting->wait());
  CHECK(busy->status.ok());
  CHECK(waiting->status.ok());
  CHECK(ex.stats().failed == 2);
  CHECK(ex.stats().completed == 2);
}

TEST_CASE("cancel stops a running request within a step and the executor keeps serving") {
  Executor ex(testing::tiny_model(), config(1, 4));
  auto rec = std::make_shared<Recorder>();
  uint64_t id = 0;
  Executor* exp = &ex;
  uint64_t* idp = &id;
  int seen = 0;
  rec->on_step_hook = [&](const StepEvent&) {
    if (++seen == 2) exp->cancel(*idp);
  };
  REQUIRE(ex.enqueue(request(1, 16), rec, &id).ok());
  REQUIRE(rec->wait());
  CHECK(rec->status.code == StatusCode::kCancelled);
  CHECK(rec->steps <= 3);  // stopped within one step of the cancel
  auto next = std::make_shared<Recorder>();
  REQUIRE(ex.enqueue(request(2), next, &id).ok());
  REQUIRE(next->wait());
  CHECK(next->status.ok());
}

TEST_CASE("a deadline that expires mid-generation answers DEADLINE_EXCEEDED") {
  Executor ex(testing::tiny_model(), config(1, 4));
  auto rec = std::make_shared<Recorder>();
  rec->on_step_hook = [](const StepEvent&) { std::this_thread::sleep_for(30ms); };
  GenerateRequest r = request(1, 16);
  r.deadline = std::chrono::steady_clock::now() + 20ms;
  uint64_t id = 0;
  REQUIRE(ex.enqueue(r, rec, &id).ok());
  REQUIRE(rec->wait());
  CHECK(rec->status.code == StatusCode::kDeadlineExceeded);
}

TEST_CASE("concurrent requests get the same answers as sequential ones for the same seeds") {
  std::vector<std::vector<int64_t>> sequential;
  {
    Executor ex(testing::tiny_model(), config(1, 8));
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      auto rec = std::make_shared<Recorder>();
      uint64_t id = 0;
      REQUIRE(ex.enqueue(request(seed), rec, &id).ok());
      REQUIRE(rec->wait());
      REQUIRE(rec->status.ok());
      sequential.push_back(rec->result.answer_ids);
    }
  }
  Executor ex(testing::tiny_model(), config(2, 8));
  std::vector<std::shared_ptr<Recorder>> recs;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    recs.push_back(std::make_shared<Recorder>());
    uint64_t id = 0;
    REQUIRE(ex.enqueue(request(seed), recs.back(), &id).ok());
  }
  for (std::size_t i = 0; i < recs.size(); ++i) {
    REQUIRE(recs[i]->wait());
    REQUIRE(recs[i]->status.ok());
    CHECK(recs[i]->result.answer_ids == sequential[i]);
  }
}

TEST_CASE("shutdown with requests in flight: each gets an answer or a clear status, none hangs") {
  auto ex = std::make_unique<Executor>(testing::tiny_model(), config(1, 8));
  std::vector<std::shared_ptr<Recorder>> recs;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    recs.push_back(std::make_shared<Recorder>());
    recs.back()->on_step_hook = [](const StepEvent&) { std::this_thread::sleep_for(20ms); };
    uint64_t id = 0;
    REQUIRE(ex->enqueue(request(seed, 16), recs.back(), &id).ok());
  }
  ex->shutdown(50ms);  // too short for all four: the rest are cancelled
  auto late = std::make_shared<Recorder>();
  uint64_t id = 0;
  CHECK(ex->enqueue(request(9), late, &id).code == StatusCode::kUnavailable);
  int ok = 0, cancelled = 0;
  for (auto& r : recs) {
    REQUIRE(r->wait(5s));
    if (r->status.ok())
      ++ok;
    else if (r->status.code == StatusCode::kCancelled)
      ++cancelled;
  }
  CHECK(ok + cancelled == 4);
  CHECK(cancelled >= 1);
}
