// LaViDa's sampler: option rules, transfer schedules, remasking rules, seeds, stopping.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include "tests/common/catch.h"

#include <cmath>
#include <numeric>
#include <vector>

#include "engine/sampler/sampler.h"

using namespace shirg;
using namespace shirg::sampler;

namespace {

int64_t sum(const std::vector<int64_t>& v) {
  return std::accumulate(v.begin(), v.end(), int64_t{0});
}

// Independent float32 mirror of the shift formula on torch's float32 linspace.
std::vector<int64_t> shift_by_hand(int64_t masked, int64_t steps, double s) {
  const int64_t n = steps + 1;
  auto t = at::linspace(0, 1, n, at::TensorOptions().dtype(at::kFloat)).contiguous();
  const float* tp = t.data_ptr<float>();
  std::vector<int64_t> c(static_cast<size_t>(n));
  const float sf = static_cast<float>(s), sm1 = static_cast<float>(s - 1.0);
  for (int64_t i = 0; i < n; ++i) {
    const float sigma = (tp[i] * sf) / (tp[i] * sm1 + 1.0f);
    c[static_cast<size_t>(i)] = static_cast<int64_t>(sigma * static_cast<float>(masked));
  }
  std::vector<int64_t> d;
  for (int64_t i = 0; i < steps; ++i) {
    d.push_back(std::max<int64_t>(1, c[static_cast<size_t>(i + 1)] - c[static_cast<size_t>(i)]));
  }
  int64_t excess = sum(d) - masked;
  size_t j = 0;
  while (excess > 0) {
    if (d[j] > 1) {
      --d[j];
      --excess;
    }
    j = (j + 1) % d.size();
  }
  if (excess < 0) d.back() -= excess;
  return {d.rbegin(), d.rend()};
}

SamplerIds ids_for(int64_t mask) {
  SamplerIds s;
  s.mask = mask;
  s.stop_early = false;
  return s;
}

GenerationOptions opts(int64_t gen, int64_t block, int64_t steps) {
  GenerationOptions o;
  o.gen_length = gen;
  o.block_length = block;
  o.steps = steps;
  return o;
}

// Hand-made probabilities per row (V = 7, id 6 is the mask and gets a huge logit).
at::Tensor hand_logits() {
  std::vector<std::vector<double>> p = {
      {0.45, 0.11, 0.11, 0.11, 0.11, 0.11},  // C: largest margin (0.34)
      {0.48, 0.48, 0.01, 0.01, 0.01, 0.01},  // B: lowest entropy, margin 0
      {0.50, 0.30, 0.05, 0.05, 0.05, 0.05},  // A: highest top-1 probability
      {1. / 6, 1. / 6, 1. / 6, 1. / 6, 1. / 6, 1. / 6},
  };
  auto t = at::empty({4, 7});
  for (int64_t r = 0; r < 4; ++r) {
    for (int64_t c = 0; c < 6; ++c)
      t[r][c] = std::log(p[static_cast<size_t>(r)][static_cast<size_t>(c)]);
    t[r][6] = 100.0;
  }
  return t;
}

// First committed position under `rule` (1 commit per step).
int64_t first_commit(Remasking rule, int64_t* token) {
  auto o = opts(4, 4, 4);
  o.remasking = rule;
  auto logits = hand_logits();
  int64_t pos = -1;
  generate(
      o, ids_for(6), [&](const at::Tensor&) { return logits; },
      [&](int64_t step, int64_t, const at::Tensor& ids) {
        if (step == 1) {
          for (int64_t i = 0; i < 4; ++i) {
            if (ids[i].item<int64_t>() != 6) {
              pos = i;
              *token = ids[i].item<int64_t>();
            }
          }
        }
        return true;
      });
  return pos;
}

// A deterministic model stand-in: fixed random logits shifted by the current ids.
LogitsFn toy_model(int64_t len, int64_t v, uint64_t seed) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto base = at::randn({len, v}, g, at::TensorOptions().dtype(at::kFloat));
  return [base, v](const at::Tensor& ids) {
    auto onehot = at::one_hot(ids.clamp(0, v - 1), v).to(at::kFloat);
    return base + 0.5 * onehot.roll(1, 0);
  };
}

}  // namespace

TEST_CASE("schedules sum to the mask count with at least one token per step", "[sampler]") {
  for (int64_t masked = 1; masked <= 48; ++masked) {
    for (int64_t steps = 1; steps <= 52; steps += 3) {
      for (double s : {1.0 / 3.0, 0.5, 1.0, 2.0, 3.0, 7.5}) {
        for (auto sch : {TransferSchedule::kUniform, TransferSchedule::kShift}) {
          auto n = transfer_schedule(masked, steps, sch, s);
          INFO("masked " << masked << " steps " << steps << " s " << s);
          REQUIRE(static_cast<int64_t>(n.size()) == std::min(steps, masked));
          REQUIRE(sum(n) == masked);
          REQUIRE(*std::min_element(n.begin(), n.end()) >= 1);
        }
      }
    }
  }
}

TEST_CASE("uniform schedule front-loads the remainder", "[sampler]") {
  CHECK(transfer_schedule(32, 16, TransferSchedule::kUniform, 0) == std::vector<int64_t>(16, 2));
  CHECK(transfer_schedule(10, 4, TransferSchedule::kUniform, 0) ==
        std::vector<int64_t>{3, 3, 2, 2});
  CHECK(transfer_schedule(3, 10, TransferSchedule::kUniform, 0) == std::vector<int64_t>{1, 1, 1});
}

TEST_CASE("shift schedule matches the float32 formula of LaViDa", "[sampler]") {
  // lavida.md's example: shift 3 commits few tokens early and many late.
  CHECK(transfer_schedule(32, 8, TransferSchedule::kShift, 3.0) ==
        std::vector<int64_t>{2, 2, 2, 2, 4, 4, 7, 9});
  // shift 1/3 front-loads. (lavida.md prints 10,7,4,4,2,2,2,1; the formula it states gives this,
  // as PyTorch computes it: sigma*32 = 0,1.45,3.2,5.33,8.0,11.4,16,22.4,32.)
  CHECK(transfer_schedule(32, 8, TransferSchedule::kShift, 1.0 / 3.0) ==
        std::vector<int64_t>{10, 6, 5, 3, 3, 2, 2, 1});
  // Equal to the uniform schedule when steps == block length.
  CHECK(transfer_schedule(32, 32, TransferSchedule::kShift, 1.0 / 3.0) ==
        std::vector<int64_t>(32, 1));
  CHECK(transfer_schedule(32, 32, TransferSchedule::kShift, 3.0) == std::vector<int64_t>(32, 1));
  for (int64_t masked : {7, 16, 32, 64, 100}) {
    for (int64_t steps : {2, 5, 8, 12, 16, 30}) {
      for (double s : {1.0 / 3.0, 0.25, 2.0, 3.0}) {
        INFO("masked " << masked << " steps " << steps << " s " << s);
        CHECK(transfer_schedule(masked, steps, TransferSchedule::kShift, s) ==
              shift_by_hand(masked, std::min(steps, masked), s));
      }
    }
  }
  CHECK_THROWS_AS(transfer_schedule(0, 4, TransferSchedule::kUniform, 0), std::invalid_argument);
  CHECK_THROWS_AS(transfer_schedule(8, 4, TransferSchedule::kShift, 0.0), std::invalid_argument);
  CHECK_THROWS_AS(transfer_schedule(8, 4, TransferSchedule::kShift, NAN), std::invalid_argument);
}

TEST_CASE("each remasking rule commits what it should on hand-made logits", "[sampler]") {
  int64_t tok = -1;
  CHECK(first_commit(Remasking::kLowConfidence, &tok) == 2);
  CHECK(tok == 0);  // the mask id (6, logit 100) is never chosen
  CHECK(first_commit(Remasking::kMargin, &tok) == 0);
  CHECK(tok == 0);
  CHECK(first_commit(Remasking::kEntropy, &tok) == 1);
  CHECK(tok == 0);

  // The confidence values themselves.
  auto g = at::make_generator<at::CPUGeneratorImpl>(1);
  auto l = hand_logits();
  l.select(1, 6).fill_(-INFINITY);
  auto x0 = at::zeros({4}, at::kLong);
  auto lc = confidence(l, x0, Remasking::kLowConfidence, g);
  CHECK(lc[2].item<double>() == Approx(0.50).epsilon(1e-6));
  CHECK(lc[3].item<double>() == Approx(1.0 / 6).epsilon(1e-6));
  auto mg = confidence(l, x0, Remasking::kMargin, g);
  CHECK(mg[0].item<double>() == Approx(0.34).epsilon(1e-6));
  CHECK(std::abs(mg[1].item<double>()) < 1e-9);
  auto en = confidence(l, x0, Remasking::kEntropy, g);
  CHECK(en[3].item<double>() == Approx(-std::log(6.0)).epsilon(1e-6));
  auto r1 = confidence(l, x0, Remasking::kRandom, g);
  CHECK(r1.scalar_type() == at::kDouble);
  CHECK(r1.min().item<double>() >= 0);
  CHECK(r1.max().item<double>() < 1);
}

TEST_CASE("random remasking follows the seed", "[sampler]") {
  auto run = [](uint64_t seed) {
    auto o = opts(16, 16, 16);
    o.remasking = Remasking::kRandom;
    o.seed = seed;
    std::vector<int64_t> order;
    auto logits = at::zeros({16, 5});
    generate(
        o, ids_for(4), [&](const at::Tensor&) { return logits; },
        [&](int64_t, int64_t, const at::Tensor& ids) {
          for (int64_t i = 0; i < 16; ++i) {
            if (ids[i].item<int64_t>() != 4 &&
                std::find(order.begin(), order.end(), i) == order.end()) {
              order.push_back(i);
            }
          }
          return true;
        });
    return order;
  };
  CHECK(run(7) == run(7));
  CHECK(run(7) != run(8));
  CHECK(run(7).size() == 16);
}

TEST_CASE("same seed gives the same answer and different seeds differ at nonzero temperature",
          "[sampler]") {
  const int64_t len = 24, v = 64;
  auto model = toy_model(len, v, 99);
  auto o = opts(len, 8, 12);
  o.temperature = 1.0;
  auto sids = ids_for(v - 1);
  o.seed = 5;
  auto a = generate(o, sids, model, nullptr).ids;
  auto b = generate(o, sids, model, nullptr).ids;
  o.seed = 6;
  auto c = generate(o, sids, model, nullptr).ids;
  CHECK(at::equal(a, b));
  CHECK_FALSE(at::equal(a, c));
  CHECK((a == v - 1).sum().item<int64_t>() == 0);
  // T = 0 ignores the seed.
  o.temperature = 0;
  o.seed = 1;
  auto d = generate(o, sids, model, nullptr).ids;
  o.seed = 2;
  CHECK(at::equal(d, generate(o, sids, model, nullptr).ids));
}

TEST_CASE("blocks fill left to right with one logits call per step", "[sampler]") {
  auto model = toy_model(12, 20, 3);
  auto o = opts(12, 4, 7);  // 3 blocks: 3 + 2 + 2 steps
  REQUIRE(resolve_options(o).empty());
  CHECK(block_steps(o) == std::vector<int64_t>{3, 2, 2});
  int64_t calls = 0;
  std::vector<int64_t> masked_after;
  auto res = generate(
      o, ids_for(19),
      [&](const at::Tensor& ids) {
        ++calls;
        return model(ids);
      },
      [&](int64_t step, int64_t total, const at::Tensor& ids) {
        CHECK(total == 7);
        masked_after.push_back((ids == 19).sum().item<int64_t>());
        // Block k is untouched until block k-1 is complete.
        auto m = (ids == 19).to(at::kLong);
        for (int64_t b = 1; b < 3; ++b) {
          if (m.narrow(0, 4 * (b - 1), 4).sum().item<int64_t>() > 0) {
            CHECK(m.narrow(0, 4 * b, 4).sum().item<int64_t>() == 4);
          }
        }
        return step > 0;
      });
  CHECK(calls == 7);
  CHECK(res.steps_run == 7);
  CHECK_FALSE(res.stopped);
  CHECK(masked_after == std::vector<int64_t>{10, 9, 8, 6, 4, 2, 0});
}

TEST_CASE("vocab limit and never_choose exclude ids from the argmax", "[sampler]") {
  auto logits = at::zeros({4, 10});
  logits.select(1, 9).fill_(50);  // beyond the vocab limit
  logits.select(1, 7).fill_(40);  // never_choose
  logits.select(1, 3).fill_(5);
  auto sids = ids_for(8);
  sids.vocab_limit = 9;
  sids.never_choose = {7};
  auto res = generate(
      opts(4, 4, 2), sids, [&](const at::Tensor&) { return logits; }, nullptr);
  CHECK(at::equal(res.ids, at::full({4}, 3, at::kLong)));
  sids.never_choose = {0, 1, 2, 3, 4, 5, 6, 7};
  CHECK_THROWS_AS(generate(
                      opts(4, 4, 2), sids, [&](const at::Tensor&) { return logits; }, nullptr),
                  std::invalid_argument);
}

TEST_CASE("cancellation and stop tokens end generation early", "[sampler]") {
  auto model = toy_model(8, 16, 4);
  auto res = generate(opts(8, 8, 8), ids_for(15), model,
                      [](int64_t step, int64_t, const at::Tensor&) { return step < 3; });
  CHECK(res.stopped);
  CHECK(res.steps_run == 3);

  // Position 0 is certain to be the stop token: after step 1 the answer is final.
  auto logits = at::zeros({8, 16});
  logits[0][12] = 30;
  auto sids = ids_for(15);
  sids.stop = {12};
  sids.stop_early = true;
  auto r2 = generate(
      opts(8, 8, 8), sids, [&](const at::Tensor&) { return logits; }, nullptr);
  CHECK(r2.stop_token);
  CHECK(r2.steps_run == 1);
  CHECK(answer_tokens(r2.ids, sids).empty());
  sids.stop_early = false;
  auto r3 = generate(
      opts(8, 8, 8), sids, [&](const at::Tensor&) { return logits; }, nullptr);
  CHECK(r3.steps_run == 8);
  CHECK_FALSE(r3.stop_token);
  auto ids = at::tensor(std::vector<int64_t>{3, 4, 12, 5}, at::kLong);
  CHECK(answer_tokens(ids, sids) == std::vector<int64_t>{3, 4});
}

TEST_CASE("step_ratio and steps_per_block follow LaViDa's generate(): the same steps per block",
          "[sampler]") {
  // 3 blocks of 10: int(10 * 0.35) = 3 per block, 9 in all (not ceil(30 * 0.35) = 11).
  auto o = opts(30, 10, 16);
  o.step_ratio = 0.35;
  REQUIRE(resolve_options(o).empty());
  CHECK(o.steps == 9);
  CHECK(block_steps(o) == std::vector<int64_t>{3, 3, 3});
  // 4 blocks of 8: int(8 * 0.3) = 2 each (not ceil(9.6) = 10 split 3, 3, 2, 2).
  o = opts(32, 8, 16);
  o.step_ratio = 0.3;
  REQUIRE(resolve_options(o).empty());
  CHECK(block_steps(o) == std::vector<int64_t>{2, 2, 2, 2});
  // A ratio below one step per block still runs one; more than block_length is clamped.
  o = opts(32, 8, 16);
  o.step_ratio = 0.01;
  REQUIRE(resolve_options(o).empty());
  CHECK(o.steps == 4);
  o = opts(32, 8, 16);
  o.steps_per_block = 3;
  REQUIRE(resolve_options(o).empty());
  CHECK(o.steps == 12);
  CHECK(o.steps_per_block == 0);
  CHECK(block_steps(o) == std::vector<int64_t>{3, 3, 3, 3});
  o = opts(32, 8, 16);
  o.steps_per_block = 20;
  REQUIRE(resolve_options(o).empty());
  CHECK(o.steps == 32);
  o = opts(32, 8, 16);
  o.steps_per_block = 2;
  o.step_ratio = 0.5;
  CHECK_THAT(resolve_options(o), Catch::Matchers::ContainsSubstring("at most one"));
  o = opts(32, 8, 16);
  o.steps_per_block = -1;
  CHECK(!resolve_options(o).empty());
}

TEST_CASE("every uint64 seed has its own stream and seeds below 2^32 are PyTorch's", "[sampler]") {
  const uint64_t big = (uint64_t{1} << 32) + 7;
  auto draws = [](at::Generator g) {
    return at::rand({64}, g, at::TensorOptions().dtype(at::kDouble));
  };
  CHECK(at::equal(draws(request_generator(7)),
                  draws(at::make_generator<at::CPUGeneratorImpl>(uint64_t{7}))));
  CHECK(!at::equal(draws(request_generator(7)), draws(request_generator(big))));
  CHECK(at::equal(draws(request_generator(big)), draws(request_generator(big))));
  CHECK(!at::equal(draws(request_generator(big)), draws(request_generator(big + 1))));
  CHECK(!at::equal(draws(request_generator(UINT64_MAX)), draws(request_generator(0xffffffffu))));
  // And through generate(): Gumbel noise at T = 1 over 24 positions.
  auto o = opts(24, 24, 24);
  o.temperature = 1.0;
  auto run = [&](uint64_t seed) {
    o.seed = seed;
    return generate(o, ids_for(49), toy_model(24, 50, 3), nullptr).ids;
  };
  CHECK(at::equal(run(7), run(7)));
  CHECK(!at::equal(run(7), run(big)));
}

TEST_CASE("the shift default is LaViDa's evaluation setting 0.33", "[sampler]") {
  CHECK(GenerationOptions{}.shift == 0.33);
}

TEST_CASE("resolve_options clamps and rejects by the documented rules", "[sampler]") {
  auto o = opts(32, 32, 64);
  CHECK(resolve_options(o).empty());
  CHECK(o.steps == 32);  // at most one step per masked token
  o = opts(32, 8, 2);
  CHECK(resolve_options(o).empty());
  CHECK(o.steps == 4);  // every block gets a step
  o = opts(32, 64, 16);
  CHECK(resolve_options(o).empty());
  CHECK(o.block_length == 32);
  o = opts(32, 32, 5);
  o.step_ratio = 0.5;
  CHECK(resolve_options(o).empty());
  CHECK(o.steps == 16);
  CHECK(o.step_ratio == 0);
  o = opts(30, 32, 5);
  o.step_ratio = 10;
  CHECK(resolve_options(o).empty());
  CHECK(o.steps == 30);

  auto bad = [](GenerationOptions x) { return !resolve_options(x).empty(); };
  CHECK(bad(opts(32, 12, 16)));  // block does not divide
  CHECK(bad(opts(0, 32, 16)));
  CHECK(bad(opts(-5, 32, 16)));
  CHECK(bad(opts(kMaxGenLength + 1, 1, 16)));
  CHECK(bad(opts(32, 0, 16)));
  CHECK(bad(opts(32, 32, 0)));
  CHECK(bad(opts(32, 32, -3)));
  auto t = opts(32, 32, 16);
  t.temperature = -1;
  CHECK(bad(t));
  t.temperature = NAN;
  CHECK(bad(t));
  t = opts(32, 32, 16);
  t.step_ratio = -0.5;
  CHECK(bad(t));
  t.step_ratio = INFINITY;
  CHECK(bad(t));
  t = opts(32, 32, 16);
  t.schedule = TransferSchedule::kShift;
  t.shift = 0;
  CHECK(bad(t));
  t.shift = -1;
  CHECK(bad(t));
  t = opts(32, 32, 16);
  t.remasking = static_cast<Remasking>(42);
  CHECK(bad(t));
  t = opts(32, 32, 16);
  t.schedule = static_cast<TransferSchedule>(9);
  CHECK(bad(t));
  // generate() re-checks and throws instead of crashing.
  auto model = toy_model(32, 8, 1);
  CHECK_THROWS_AS(generate(opts(32, 12, 16), ids_for(7), model, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(generate(opts(32, 32, 16), ids_for(-1), model, nullptr), std::invalid_argument);
  LogitsFn wrong_shape = [](const at::Tensor&) { return at::zeros({3, 8}); };
  CHECK_THROWS_AS(generate(opts(16, 16, 16), ids_for(7), wrong_shape, nullptr),
                  std::invalid_argument);
  // Every resolved combination runs to the end.
  for (int64_t gen : {1, 7, 32}) {
    for (int64_t block : {1, 7, 8, 32}) {
      for (int64_t steps : {1, 3, 16, 100}) {
        auto x = opts(gen, block, steps);
        x.schedule = TransferSchedule::kShift;
        if (!resolve_options(x).empty()) continue;
        auto m = toy_model(gen, 8, 2);
        auto r = generate(x, ids_for(7), m, nullptr);
        CHECK((r.ids == 7).sum().item<int64_t>() == 0);
        CHECK(r.steps_run == x.steps);
      }
    }
  }
}

TEST_CASE("SamplerState stepped by hand equals generate() and refuses a step after the end",
          "[sampler]") {
  auto model = toy_model(12, 20, 3);
  for (double temperature : {0.0, 0.8}) {
    auto o = opts(12, 4, 7);
    o.temperature = temperature;
    o.seed = 5;
    REQUIRE(resolve_options(o).empty());
    const auto whole = generate(o, ids_for(19), model, nullptr);
    SamplerState st(o, ids_for(19));
    CHECK(st.total_steps() == 7);
    while (!st.done()) st.step(model(st.ids()));
    CHECK(st.steps_run() == whole.steps_run);
    CHECK(at::equal(st.ids(), whole.ids));
    CHECK_THROWS_AS(st.step(model(st.ids())), std::logic_error);
  }
  // A wrong logits shape is refused without committing anything.
  auto o = opts(12, 4, 7);
  REQUIRE(resolve_options(o).empty());
  SamplerState st(o, ids_for(19));
  CHECK_THROWS_AS(st.step(at::zeros({3, 20})), std::invalid_argument);
  CHECK(st.steps_run() == 0);
  CHECK((st.ids() == 19).all().item<bool>());
}

TEST_CASE("stepping on the logit_rows() rows only gives the same answer as on every row",
          "[sampler]") {
  // gen 12 in blocks of 4: logit_rows() is the masked part of the current block; the random
  // draws (Gumbel noise, random remasking) must not depend on which rows were passed.
  auto model = toy_model(12, 20, 4);
  for (Remasking rule :
       {Remasking::kLowConfidence, Remasking::kRandom, Remasking::kEntropy, Remasking::kMargin}) {
    for (double temperature : {0.0, 0.7}) {
      auto o = opts(12, 4, 9);
      o.temperature = temperature;
      o.remasking = rule;
      o.seed = 11;
      REQUIRE(resolve_options(o).empty());
      SamplerState all(o, ids_for(19)), some(o, ids_for(19));
      while (!all.done()) {
        REQUIRE_FALSE(some.done());
        const std::vector<int64_t> rows = some.logit_rows();
        REQUIRE_FALSE(rows.empty());
        // Ascending, inside the current block, and exactly the still-masked positions there.
        const int64_t block = rows.front() / 4;
        for (size_t k = 0; k < rows.size(); ++k) {
          CHECK(rows[k] / 4 == block);
          CHECK(some.ids()[rows[k]].item<int64_t>() == 19);
          if (k > 0) CHECK(rows[k] > rows[k - 1]);
        }
        CHECK(static_cast<int64_t>(rows.size()) ==
              (some.ids().narrow(0, block * 4, 4) == 19).sum().item<int64_t>());
        const at::Tensor full = model(all.ids());
        all.step(full);
        some.step(full.index_select(0, at::tensor(rows, at::kLong)).clone());
        INFO("rule " << static_cast<int>(rule) << " T " << temperature << " step "
                     << all.steps_run());
        REQUIRE(at::equal(all.ids(), some.ids()));
      }
      CHECK(some.done());
      CHECK(some.logit_rows().empty());
    }
  }
  // Neither [L, V] nor [logit_rows().size(), V]: refused.
  auto o = opts(12, 4, 7);
  REQUIRE(resolve_options(o).empty());
  SamplerState st(o, ids_for(19));
  REQUIRE(st.logit_rows().size() == 4);
  CHECK_THROWS_AS(st.step(at::zeros({5, 20})), std::invalid_argument);
  CHECK_NOTHROW(st.step(model(st.ids()).narrow(0, 0, 4)));
}
