// bench/samples.h: the median and the two spreads benchmarks judge their runs by.
#include "tests/common/catch.h"

#include "bench/samples.h"

using shirg::bench::Samples;

TEST_CASE("central spread drops one slow run of five; min-max spread keeps it") {
  Samples s;
  s.ms = {50, 180, 48, 52, 49};  // one run slowed by another process's time slice
  CHECK(s.median() == 50);
  CHECK(s.lo() == 48);
  CHECK(s.hi() == 180);
  CHECK(s.spread() == Approx((180.0 - 48.0) / 50.0));
  CHECK(s.central_lo() == 49);
  CHECK(s.central_hi() == 52);
  CHECK(s.central_spread() == Approx(3.0 / 50.0));
}

TEST_CASE("central spread sees a real disagreement of five runs") {
  Samples s;
  s.ms = {50, 80, 48, 78, 49};  // two slow runs: not one outlier
  CHECK(s.central_lo() == 49);
  CHECK(s.central_hi() == 78);
  CHECK(s.central_spread() > 0.15);
}

TEST_CASE("central spread of three runs or fewer is the min-max spread") {
  Samples three;
  three.ms = {10, 30, 20};
  CHECK(three.central_spread() == Approx(three.spread()));
  Samples one;
  one.ms = {7};
  CHECK(one.central_spread() == 0);
  Samples none;
  CHECK(none.central_spread() == 0);
  CHECK(none.central_hi() == 0);
}
