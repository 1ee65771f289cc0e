#pragma once
// Catch2 + ATen in one test file. c10 pulls in glog, whose CHECK(condition) silently replaces
// Catch's CHECK (ATen headers are system headers, so no redefinition warning): a failed CHECK
// would then abort the whole test binary instead of being reported. Include this instead of
// <catch2/catch.hpp> and <ATen/ATen.h>; it restores Catch's definition.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#undef CHECK
#define CHECK(...) \
  INTERNAL_CATCH_TEST("CHECK", Catch::ResultDisposition::ContinueOnFailure, __VA_ARGS__)
