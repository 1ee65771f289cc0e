// malloc_tuning_decision(): when the tuning applies and when the operator's settings win.
#include <map>
#include <string>
#include "tests/common/catch.h"

#include "engine/platform/malloc_tuning.h"

using shirg::malloc_tuning_decision;
using shirg::MallocTuning;

namespace {

MallocTuning decide(const std::map<std::string, std::string>& env) {
  return malloc_tuning_decision([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

}  // namespace

#if defined(__GLIBC__)
TEST_CASE("the tuning applies in a plain environment") {
  CHECK(decide({}) == MallocTuning::kApplied);
  CHECK(decide({{"SHIRG_MALLOC_TUNING", "1"}}) == MallocTuning::kApplied);
  CHECK(decide({{"GLIBC_TUNABLES", "glibc.pthread.rseq=0"}}) == MallocTuning::kApplied);
  CHECK(decide({{"MALLOC_ARENA_MAX", ""}}) == MallocTuning::kApplied);  // empty = unset
}

TEST_CASE("SHIRG_MALLOC_TUNING=0 turns it off") {
  CHECK(decide({{"SHIRG_MALLOC_TUNING", "0"}}) == MallocTuning::kDisabledByEnv);
}

TEST_CASE("the operator's malloc settings are left alone") {
  for (const char* var : {"MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
                          "MALLOC_TOP_PAD_"}) {
    INFO(var);
    CHECK(decide({{var, "4"}}) == MallocTuning::kOperatorSettings);
  }
  CHECK(decide({{"GLIBC_TUNABLES", "glibc.malloc.arena_max=2"}}) ==
        MallocTuning::kOperatorSettings);
}
#endif

TEST_CASE("the note says what is in effect") {
  CHECK(shirg::malloc_tuning_note() == "malloc: glibc defaults");  // never called in this process
}
