// Unit tests of clients/stats.h (values checked against numpy.percentile's "linear" method).
#include "tests/common/catch.h"

#include <stdexcept>

#include "clients/stats.h"

using namespace shirg::clients;

TEST_CASE("percentile interpolates linearly between closest ranks") {
  const std::vector<double> v = {15, 20, 35, 40, 50};
  // numpy.percentile([15,20,35,40,50], [0,30,40,50,90,100]) = 15, 23, 29, 35, 46, 50
  CHECK(percentile(v, 0) == Approx(15));
  CHECK(percentile(v, 30) == Approx(23));
  CHECK(percentile(v, 40) == Approx(29));
  CHECK(percentile(v, 50) == Approx(35));
  CHECK(percentile(v, 90) == Approx(46));
  CHECK(percentile(v, 100) == Approx(50));
}

TEST_CASE("percentile does not need sorted input and handles one value") {
  CHECK(percentile({9, 1, 5, 3, 7}, 50) == Approx(5));
  CHECK(percentile({42}, 99) == Approx(42));
  // numpy.percentile(range(1, 101), 99) = 99.01
  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  CHECK(percentile(hundred, 99) == Approx(99.01));
  CHECK(percentile(hundred, 95) == Approx(95.05));
}

TEST_CASE("percentile rejects bad input") {
  CHECK_THROWS_AS(percentile({}, 50), std::invalid_argument);
  CHECK_THROWS_AS(percentile({1, 2}, -1), std::invalid_argument);
  CHECK_THROWS_AS(percentile({1, 2}, 100.5), std::invalid_argument);
}

TEST_CASE("summarize gives mean and extremes and percentiles") {
  std::vector<double> v;
  for (int i = 10; i >= 1; --i) v.push_back(i * 10.0);  // 100, 90, ..., 10
  const Summary s = summarize(v);
  CHECK(s.count == 10);
  CHECK(s.mean == Approx(55));
  CHECK(s.min == Approx(10));
  CHECK(s.max == Approx(100));
  CHECK(s.p50 == Approx(55));
  CHECK(s.p90 == Approx(91));
  CHECK(s.p99 == Approx(99.1));
  const Summary e = summarize({});
  CHECK(e.count == 0);
  CHECK(e.mean == 0);
}

TEST_CASE("histogram buckets are left-open right-closed with an overflow bucket") {
  const Histogram h = make_histogram({0.5, 1, 1.5, 2, 3, 10, 11}, {1, 2, 10});
  REQUIRE(h.counts.size() == 4);
  CHECK(h.counts[0] == 2);  // 0.5, 1
  CHECK(h.counts[1] == 2);  // 1.5, 2
  CHECK(h.counts[2] == 2);  // 3, 10
  CHECK(h.counts[3] == 1);  // 11
  CHECK(h.total() == 7);
  CHECK_THROWS_AS(make_histogram({1}, {}), std::invalid_argument);
  CHECK_THROWS_AS(make_histogram({1}, {2, 2}), std::invalid_argument);
}

TEST_CASE("exponential and latency bounds cover the data") {
  const auto b = exponential_bounds(1, 2, 4);
  REQUIRE(b.size() == 4);
  CHECK(b[3] == Approx(8));
  CHECK_THROWS(exponential_bounds(0, 2, 3));
  CHECK_THROWS(exponential_bounds(1, 1, 3));

  const std::vector<double> lat = {120, 340, 95, 2100, 800};
  const auto lb = latency_bounds(lat, 6);
  REQUIRE(lb.size() == 6);
  CHECK(lb.front() == Approx(95));
  CHECK(lb.back() >= 2100);
  const Histogram h = make_histogram(lat, lb);
  CHECK(h.counts.back() == 0);  // nothing above the last bound
  CHECK(h.total() == lat.size());
  // All-equal values still give strictly increasing bounds.
  const auto same = latency_bounds({5, 5, 5}, 4);
  CHECK_NOTHROW(make_histogram({5, 5, 5}, same));
  CHECK(make_histogram({5, 5, 5}, same).counts.back() == 0);
}
