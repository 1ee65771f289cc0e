// Checks tune_malloc_for_large_temporaries() end to end in a process of its own: after the call, a
// 200 MiB buffer allocated by a worker thread comes from the main heap (not a fresh mmap), and
// allocating it again after a free reuses the same memory (the heap does not grow). Run twice by
// ctest: plainly (expects the tuning) and with SHIRG_MALLOC_TUNING=0 (expects glibc's default
// mmap, which shows the check can fail).
//   malloc_tuning_check tuned|untuned
// Exit 0 pass, 1 fail, 77 when the C library is not glibc (ctest: skipped).
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "engine/platform/malloc_tuning.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int main(int argc, char** argv) {
#if !defined(__GLIBC__)
  (void)argc;
  (void)argv;
  std::printf("not glibc: nothing to check\n");
  return 77;
#else
  if (argc != 2 || (std::strcmp(argv[1], "tuned") != 0 && std::strcmp(argv[1], "untuned") != 0)) {
    std::fprintf(stderr, "usage: malloc_tuning_check tuned|untuned\n");
    return 1;
  }
  const bool want_tuned = std::strcmp(argv[1], "tuned") == 0;
  const shirg::MallocTuning got = shirg::tune_malloc_for_large_temporaries();
  std::printf("%s\n", shirg::malloc_tuning_note().c_str());
  bool ok = true;
  auto expect = [&](bool c, const std::string& what) {
    std::printf("%s: %s\n", c ? "ok" : "FAIL", what.c_str());
    ok = ok && c;
  };
  expect((got == shirg::MallocTuning::kApplied) == want_tuned, "tuning applied as expected");

  constexpr size_t kBytes = size_t{200} << 20;
  size_t mmapped_first = 0, mmapped_second = 0, arena_first = 0, arena_second = 0;
  std::thread worker([&] {
    for (int round = 0; round < 2; ++round) {
      char* volatile p = static_cast<char*>(std::malloc(kBytes));
      if (p == nullptr) return;
      std::memset(p, round + 1, kBytes);
      const struct mallinfo2 mi = mallinfo2();
      (round == 0 ? mmapped_first : mmapped_second) = mi.hblkhd;
      (round == 0 ? arena_first : arena_second) = mi.arena;
      std::free(p);
    }
  });
  worker.join();
  std::printf("mmap'ed bytes while the buffer lived: %zu, %zu; main heap %zu, %zu\n", mmapped_first,
              mmapped_second, arena_first, arena_second);
  if (want_tuned) {
    expect(mmapped_first < kBytes && mmapped_second < kBytes,
           "the 200 MiB buffer of a worker thread is not mmap'ed");
    expect(arena_first >= kBytes, "it lies in the main heap");
    expect(arena_second == arena_first, "the second allocation reuses the first one's memory");
  } else {
    expect(mmapped_first >= kBytes && mmapped_second >= kBytes,
           "glibc's default: the 200 MiB buffer is mmap'ed each time");
  }
  return ok ? 0 : 1;
#endif
}
