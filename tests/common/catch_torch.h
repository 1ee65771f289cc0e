#pragma once
// Catch2 for tests that use LibTorch. LibTorch's logging header (glog style) defines CHECK,
// which would silently replace Catch's CHECK with an aborting glog check when included after
// catch.hpp. Include LibTorch first, drop its CHECK, then Catch.
#include <ATen/ATen.h>
#undef CHECK
#include "tests/common/catch.h"
