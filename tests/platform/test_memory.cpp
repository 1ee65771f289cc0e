// available_memory_bytes() and its parsers (/proc/meminfo, cgroup v2 memory.max/current).
#include "tests/common/catch.h"

#include "engine/platform/memory.h"

using namespace shirg;

TEST_CASE("MemAvailable is read from /proc/meminfo text, in bytes") {
  const std::string meminfo =
      "MemTotal:       24576000 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\n"
      "Buffers:           1234 kB\n";
  CHECK(parse_meminfo_available(meminfo) == int64_t{20000000} * 1024);
  CHECK_FALSE(parse_meminfo_available("MemTotal: 1 kB\n").has_value());
  CHECK_FALSE(parse_meminfo_available("MemAvailable: lots\n").has_value());
  CHECK_FALSE(parse_meminfo_available("MemAvailable: 12 MB\n").has_value());
  CHECK_FALSE(parse_meminfo_available("").has_value());
}

TEST_CASE("cgroup v2 byte counts: numbers, 'max' means no limit, garbage is ignored") {
  CHECK(parse_cgroup_bytes("1073741824\n") == int64_t{1073741824});
  CHECK(parse_cgroup_bytes("0") == int64_t{0});
  CHECK_FALSE(parse_cgroup_bytes("max\n").has_value());
  CHECK_FALSE(parse_cgroup_bytes("").has_value());
  CHECK_FALSE(parse_cgroup_bytes("-5").has_value());
  CHECK_FALSE(parse_cgroup_bytes("12abc").has_value());
  CHECK_FALSE(parse_cgroup_bytes("99999999999999999999999").has_value());
}

TEST_CASE("this Linux machine reports some available memory") {
  const auto a = available_memory_bytes();
  REQUIRE(a.has_value());
  CHECK(*a > (int64_t{64} << 20));  // tests run with more than 64 MiB free
}

TEST_CASE("format_gib") {
  CHECK(format_gib(int64_t{3} << 30) == "3.0 GiB");
  CHECK(format_gib(int64_t{1536} << 20) == "1.5 GiB");
}
