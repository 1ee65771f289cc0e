// The Executor's scheduling over a fake RequestPipeline (no model): requests step together in
// batches, leave when done, and a failure of memory in a batched step (the device's
// out-of-memory error) ends only the request that fails on its own, with RESOURCE_EXHAUSTED,
// while the others finish and the executor keeps serving. Also failure_status's classification.
#include "tests/common/catch_torch.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/runtime/executor.h"
#include "engine/runtime/failure.h"
#include "engine/runtime/request_pipeline.h"
#include "tests/runtime/recorder.h"

using namespace shirg;
using namespace std::chrono_literals;

namespace {

[[noreturn]] void throw_device_oom() {
  throw c10::OutOfMemoryError(c10::SourceLocation{"fake", "fake.cpp", 1},
                              "CUDA out of memory. Tried to allocate 2.00 GiB");
}

// Each request needs `generation.steps` steps. A batched step of more than `max_rows` requests
// runs out of memory; a request whose question is "huge" runs out of memory even alone.
// prepare() waits until open() (so that requests enqueued together reach step 0 together under
// the prefix-first schedule).
class FakePipeline final : public RequestPipeline {
 public:
  explicit FakePipeline(size_t max_rows) : max_rows_(max_rows) {}

  void open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    gate_.notify_all();
  }

  Status validate(GenerateRequest&) const override { return Status::Ok(); }
  Status validate_selection(SelectionMapRequest&) const override { return Status::Ok(); }
  Status prepare(const GenerateRequest& req, const RunControl&, RequestState* st) const override {
    std::unique_lock<std::mutex> l(mu_);
    gate_.wait(l, [&] { return open_; });
    left_[st] = req.generation.steps;
    huge_[st] = req.question == "huge";
    return Status::Ok();
  }
  std::vector<at::Tensor> step_batch(const std::vector<RequestState*>& batch) const override {
    std::lock_guard<std::mutex> l(mu_);
    batch_sizes_.push_back(batch.size());
    if (batch.size() > max_rows_) throw_device_oom();
    for (RequestState* st : batch)
      if (huge_.at(st)) throw_device_oom();
    std::vector<at::Tensor> out;
    for (RequestState* st : batch) {
      --left_.at(st);
      ++st->result.steps_run;
      out.push_back(at::zeros({1}));
    }
    return out;
  }
  Status after_step(const GenerateRequest&, const RunControl&, RequestState&,
                    const at::Tensor&) const override {
    return Status::Ok();
  }
  bool done(const RequestState& st) const override {
    std::lock_guard<std::mutex> l(mu_);
    return left_.at(&st) <= 0;
  }
  void finish(const RunControl&, RequestState& st) const override { st.result.answer = "ok"; }
  Status run_selection_map(const SelectionMapRequest&, const RunControl&,
                           SelectionMapResult*) const override {
    return Status::Ok();
  }
  at::Device device() const override { return at::kCPU; }

  std::vector<size_t> batch_sizes() const {
    std::lock_guard<std::mutex> l(mu_);
    return batch_sizes_;
  }

 private:
  size_t max_rows_;
  mutable std::mutex mu_;
  mutable std::condition_variable gate_;
  bool open_ = false;
  mutable std::map<const RequestState*, int64_t> left_;
  mutable std::map<const RequestState*, bool> huge_;
  mutable std::vector<size_t> batch_sizes_;
};

GenerateRequest request(const std::string& question, int64_t steps) {
  GenerateRequest r;
  r.question = question;
  r.generation.steps = steps;
  return r;
}

ExecutorConfig batching(int max_batch) {
  ExecutorConfig c;
  c.workers = 1;
  c.max_batch = max_batch;
  c.schedule = StepSchedule::kPrefixFirst;  // admitted together: one batch from step 0
  c.max_queue = 16;
  return c;
}

using testing::Recorder;

}  // namespace

TEST_CASE("requests step together and each leaves the batch when it is done", "[executor]") {
  auto fake = std::make_shared<FakePipeline>(8);
  Executor ex(fake, batching(4));
  std::vector<std::shared_ptr<Recorder>> recs;
  for (int64_t steps : {2, 5, 3}) {
    recs.push_back(std::make_shared<Recorder>());
    uint64_t id = 0;
    REQUIRE(ex.enqueue(request("q", steps), recs.back(), &id).ok());
  }
  fake->open();
  for (auto& r : recs) {
    REQUIRE(r->wait(30s));
    CHECK(r->status.ok());
    CHECK(r->result.answer == "ok");
  }
  CHECK(recs[0]->result.steps_run == 2);
  CHECK(recs[1]->result.steps_run == 5);
  CHECK(recs[2]->result.steps_run == 3);
  // At least one step ran all three together, and the last steps ran the longest one alone.
  const auto sizes = fake->batch_sizes();
  CHECK(*std::max_element(sizes.begin(), sizes.end()) == 3);
  CHECK(sizes.back() == 1);
}

TEST_CASE("a batched step that runs out of memory is retried one request at a time",
          "[executor][oom]") {
  auto fake = std::make_shared<FakePipeline>(1);  // any batch of 2+ runs out of memory
  Executor ex(fake, batching(4));
  std::vector<std::shared_ptr<Recorder>> recs;
  for (int i = 0; i < 3; ++i) {
    recs.push_back(std::make_shared<Recorder>());
    uint64_t id = 0;
    REQUIRE(ex.enqueue(request("q", 4), recs.back(), &id).ok());
  }
  fake->open();
  for (auto& r : recs) {
    REQUIRE(r->wait(30s));
    INFO(r->status.message);
    CHECK(r->status.ok());
    CHECK(r->result.steps_run == 4);
  }
  CHECK(ex.stats().completed == 3);
  // The batched steps were tried (and failed) before the requests stepped alone.
  const auto sizes = fake->batch_sizes();
  CHECK(*std::max_element(sizes.begin(), sizes.end()) == 3);
}

TEST_CASE("a request that runs out of memory alone ends with RESOURCE_EXHAUSTED; the rest go on",
          "[executor][oom]") {
  auto fake = std::make_shared<FakePipeline>(8);
  Executor ex(fake, batching(4));
  auto small1 = std::make_shared<Recorder>(), huge = std::make_shared<Recorder>(),
       small2 = std::make_shared<Recorder>();
  uint64_t id = 0;
  REQUIRE(ex.enqueue(request("q", 3), small1, &id).ok());
  REQUIRE(ex.enqueue(request("huge", 3), huge, &id).ok());
  REQUIRE(ex.enqueue(request("q", 3), small2, &id).ok());
  fake->open();
  REQUIRE(huge->wait(30s));
  CHECK(huge->status.code == StatusCode::kResourceExhausted);
  CHECK_THAT(huge->status.message,
             Catch::Matchers::ContainsSubstring("out of memory on cpu in a denoising step"));
  CHECK_THAT(huge->status.message,
             Catch::Matchers::ContainsSubstring("Tried to allocate 2.00 GiB"));
  for (auto& r : {small1, small2}) {
    REQUIRE(r->wait(30s));
    CHECK(r->status.ok());
    CHECK(r->result.steps_run == 3);
  }
  // Still serving.
  auto later = std::make_shared<Recorder>();
  REQUIRE(ex.enqueue(request("q", 2), later, &id).ok());
  REQUIRE(later->wait(30s));
  CHECK(later->status.ok());
  CHECK(ex.stats().failed == 1);
  CHECK(ex.stats().completed == 3);
}

TEST_CASE("failure_status: memory exhaustion is RESOURCE_EXHAUSTED, anything else INTERNAL",
          "[executor][oom]") {
  try {
    throw_device_oom();
  } catch (const std::exception& e) {
    const Status s = failure_status(e, at::kCPU, "in the prefill");
    CHECK(s.code == StatusCode::kResourceExhausted);
    CHECK_THAT(s.message,
               Catch::Matchers::StartsWith("out of memory on cpu in the prefill: CUDA out of "
                                           "memory. Tried to allocate 2.00 GiB"));
  }
  const Status bad_alloc = failure_status(std::bad_alloc(), at::kCPU, "in the vision encoder");
  CHECK(bad_alloc.code == StatusCode::kResourceExhausted);
  const Status other = failure_status(std::runtime_error("boom"), at::kCPU, "in the prefill");
  CHECK(other.code == StatusCode::kInternal);
  CHECK(other.message == "internal error: boom");
}
