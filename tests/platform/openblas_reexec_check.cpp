// Checks reexec_with_openblas_core() end to end: the program pretends OpenBLAS picked its generic
// Prescott kernels, must come back re-executed with the same arguments, OPENBLAS_CORETYPE set to
// the CPU's kernel set, OpenBLAS actually running that set, and the start-up note saying so.
//   openblas_reexec_check ARG   (ARG is echoed back after the re-execution)
// Exit 0 pass, 1 fail, 77 when this CPU has no kernel set above Prescott's (ctest: skipped).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/platform/blas_core.h"

int main(int argc, char** argv) {
  using namespace shirg;
  if (argc != 2) {
    std::fprintf(stderr, "usage: openblas_reexec_check ARG\n");
    return 1;
  }
  const CpuIsa isa = detect_cpu_isa();
  const std::string want = better_openblas_core("Prescott", isa);
  if (want.empty()) {
    std::printf("this CPU has no OpenBLAS kernel set above Prescott: nothing to check\n");
    return 77;
  }
  if (openblas_core_name().empty()) {
    std::printf("FAIL: no OpenBLAS in this process (LibTorch should link it)\n");
    return 1;
  }
  const char* set = std::getenv("OPENBLAS_CORETYPE");
  if (set != nullptr && std::getenv("SHIRG_OPENBLAS_PICKED") == nullptr) {
    std::printf("FAIL: run with OPENBLAS_CORETYPE unset (it is '%s' here)\n", set);
    return 1;
  }
  if (set == nullptr) {  // first run: must not return
    reexec_with_openblas_core(argv, "Prescott", isa);
    std::printf("FAIL: reexec_with_openblas_core returned (no re-execution)\n");
    return 1;
  }
  bool ok = true;
  auto expect = [&](bool c, const std::string& what) {
    std::printf("%s: %s\n", c ? "ok" : "FAIL", what.c_str());
    ok = ok && c;
  };
  expect(want == set, std::string("OPENBLAS_CORETYPE=") + set + " (want " + want + ")");
  expect(std::strcmp(argv[1], "the-argument") == 0, std::string("argv[1] = ") + argv[1]);
  expect(openblas_core_name() == want, "OpenBLAS runs " + openblas_core_name());
  expect(openblas_core_note() ==
             "OPENBLAS_CORETYPE=" + want + " (set by shirg: OpenBLAS had picked Prescott)",
         "note: " + openblas_core_note());
  // Already set: a second call must not re-execute (this line would otherwise never print).
  reexec_with_openblas_core(argv, "Prescott", isa);
  expect(true, "no second re-execution once OPENBLAS_CORETYPE is set");
  return ok ? 0 : 1;
}
