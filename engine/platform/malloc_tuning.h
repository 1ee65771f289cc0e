#pragma once
// glibc malloc and the model's large temporaries.
//
// glibc serves every allocation above M_MMAP_THRESHOLD (dynamic, at most 32 MiB by default) with a
// fresh mmap and unmaps it on free, and a worker thread's arena is a 64 MiB heap whose larger
// chunks are mmap'ed whatever the threshold. So each big temporary of a forward pass (a
// [2438, 12288] MLP activation, RMSNorm's fp32 copy of [2438, 4096]) is page-faulted in afresh
// every time it is allocated. On this project's virtual machines that costs ~0.3 GB/s: the fused
// bf16 LLaDA prefill layer at P 2,438 spent ~1.5 of its 5.2 s in page faults (docs/benchmarks.md).
//
// tune_malloc_for_large_temporaries() keeps freed memory in the process for reuse instead:
//   M_ARENA_MAX 1              every thread allocates from the main (sbrk) arena, which can hold
//                              chunks of any size;
//   M_MMAP_THRESHOLD 1 GiB     only allocations above 1 GiB are mmap'ed;
//   M_TRIM_THRESHOLD 2 GiB-1   free memory at the top of the heap goes back to the system only
//                              above ~2 GiB;
//   M_TOP_PAD 256 MiB          the heap grows in steps of at least 256 MiB (address space only).
// The trade-off: the process keeps up to ~2 GiB of freed memory (plus fragmentation) resident
// after a peak instead of returning it, and small allocations of all threads share one arena lock.
// The operator keeps control: SHIRG_MALLOC_TUNING=0 turns it off, and any MALLOC_*_ variable of
// those four (or glibc.malloc tunables in GLIBC_TUNABLES) leaves malloc as the operator set it.
// Not glibc (musl, ...): nothing is done.
#include <functional>
#include <string>

namespace shirg {

enum class MallocTuning {
  kApplied,           // the four settings above are in effect
  kDisabledByEnv,     // SHIRG_MALLOC_TUNING=0
  kOperatorSettings,  // the operator configured glibc malloc through the environment
  kNotGlibc,          // this C library is not glibc
  kFailed,            // mallopt refused a setting (the others may be in effect)
};

// What to do given the environment (getenv-like lookup: nullptr when unset). Pure; for tests.
// Returns kApplied when the tuning should be applied.
MallocTuning malloc_tuning_decision(const std::function<const char*(const char*)>& getenv_fn);

// Applies the tuning when malloc_tuning_decision(std::getenv) says so. Call first in main(),
// before any thread starts (M_ARENA_MAX binds threads created later). Idempotent.
MallocTuning tune_malloc_for_large_temporaries();

// For start-up logs, e.g. "malloc: large temporaries reused (arena max 1, mmap above 1 GiB,
// trim above 2 GiB; SHIRG_MALLOC_TUNING=0 turns this off)"; the state of the last call of
// tune_malloc_for_large_temporaries() ("malloc: glibc defaults" when it was never called).
std::string malloc_tuning_note();

}  // namespace shirg
