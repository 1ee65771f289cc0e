#include "engine/platform/malloc_tuning.h"

#include <cstdlib>
#include <cstring>
#include <optional>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace shirg {
namespace {

std::optional<MallocTuning> g_state;  // the last tune_malloc_for_large_temporaries() outcome

}  // namespace

MallocTuning malloc_tuning_decision(const std::function<const char*(const char*)>& getenv_fn) {
#if !defined(__GLIBC__)
  (void)getenv_fn;
  return MallocTuning::kNotGlibc;
#else
  const char* off = getenv_fn("SHIRG_MALLOC_TUNING");
  if (off != nullptr && std::strcmp(off, "0") == 0) return MallocTuning::kDisabledByEnv;
  for (const char* var : {"MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
                          "MALLOC_TOP_PAD_"}) {
    const char* v = getenv_fn(var);
    if (v != nullptr && *v != '\0') return MallocTuning::kOperatorSettings;
  }
  const char* tunables = getenv_fn("GLIBC_TUNABLES");
  if (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr)
    return MallocTuning::kOperatorSettings;
  return MallocTuning::kApplied;
#endif
}

MallocTuning tune_malloc_for_large_temporaries() {
  MallocTuning d = malloc_tuning_decision([](const char* n) { return std::getenv(n); });
#if defined(__GLIBC__)
  if (d == MallocTuning::kApplied) {
    const bool ok = mallopt(M_ARENA_MAX, 1) == 1 && mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1 &&
                    mallopt(M_TRIM_THRESHOLD, 0x7fffffff) == 1 &&
                    mallopt(M_TOP_PAD, 256 << 20) == 1;
    if (!ok) d = MallocTuning::kFailed;
  }
#endif
  g_state = d;
  return d;
}

std::string malloc_tuning_note() {
  if (!g_state) return "malloc: glibc defaults";
  switch (*g_state) {
    case MallocTuning::kApplied:
      return "malloc: large temporaries reused (arena max 1, mmap above 1 GiB, trim above 2 GiB; "
             "SHIRG_MALLOC_TUNING=0 turns this off)";
    case MallocTuning::kDisabledByEnv:
      return "malloc: glibc defaults (SHIRG_MALLOC_TUNING=0): large temporaries are mmap'ed and "
             "page-faulted afresh each time";
    case MallocTuning::kOperatorSettings:
      return "malloc: as the operator set it (MALLOC_* / GLIBC_TUNABLES)";
    case MallocTuning::kNotGlibc:
      return "malloc: not glibc, left alone";
    case MallocTuning::kFailed:
      return "malloc: mallopt refused a setting; glibc defaults may be in effect";
  }
  return "";
}

}  // namespace shirg
