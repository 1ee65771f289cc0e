#include "server/warmup.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>

#include "server/logging.h"
#include "server/test_pattern.h"

namespace shirg::rpc {
namespace {

class WarmupObserver final : public RequestObserver {
 public:
  void on_done(const Status& s, const GenerateResult& r) override { done_.set_value({s, r}); }
  std::future<std::pair<Status, GenerateResult>> future() { return done_.get_future(); }

 private:
  std::promise<std::pair<Status, GenerateResult>> done_;
};

}  // namespace

Status run_warmup(Executor& ex, int n, const std::function<bool()>& stop) {
  const int64_t gen = std::min<int64_t>(8, ex.config().limits.max_gen_length);
  for (int i = 1; i <= n; ++i) {
    GenerateRequest req;
    req.request_id = "warmup-" + std::to_string(i);
    req.image_bytes = make_test_pattern_png(160, 120, static_cast<uint32_t>(i));
    req.question = "What is shown in this picture?";
    req.generation.gen_length = gen;
    req.generation.block_length = gen;
    req.generation.steps = std::min<int64_t>(4, std::min(gen, ex.config().limits.max_steps));
    req.generation.seed = static_cast<uint64_t>(i);
    RequestIdScope scope(req.request_id);
    auto obs = std::make_shared<WarmupObserver>();
    auto fut = obs->future();
    uint64_t id = 0;
    if (Status s = ex.enqueue(std::move(req), obs, &id); !s.ok()) return s;
    while (fut.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready)
      if (stop()) ex.cancel(id);
    auto [s, r] = fut.get();
    if (!s.ok()) return s;
    spdlog::info("warm-up {}/{} done in {:.1f} ms ({} prefix tokens, {} answer tokens)", i, n,
                 r.timings.total_ms, r.prefix_tokens, r.answer_ids.size());
  }
  return Status::Ok();
}

}  // namespace shirg::rpc
