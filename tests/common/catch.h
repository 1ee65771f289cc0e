#pragma once
// Catch2 for every test. Debian 12 ships Catch2 v2 (one header), Debian 13 Catch2 v3 (split
// headers; Approx lives in Catch::, the substring matcher is ContainsSubstring). Tests include this
// header and write the v3 names: Approx and Catch::Matchers::ContainsSubstring work with both.
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
using Catch::Approx;
#else
#include <catch2/catch.hpp>

#include <string>
namespace Catch::Matchers {
inline StdString::ContainsMatcher ContainsSubstring(const std::string& s,
                                                    CaseSensitive::Choice c = CaseSensitive::Yes) {
  return Contains(s, c);
}
}  // namespace Catch::Matchers
#endif
