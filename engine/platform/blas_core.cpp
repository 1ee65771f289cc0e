#include "engine/platform/blas_core.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace shirg {
namespace {

constexpr const char* kPickedEnv = "SHIRG_OPENBLAS_PICKED";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Instruction-set level of OpenBLAS 0.3.x's x86-64 core names (openblas_get_corename()):
// 0 SSE only, 1 AVX, 2 AVX2 + FMA, 3 AVX512, 4 AVX512 + BF16; -1 unknown.
int core_level(const std::string& name) {
  const std::string n = lower(name);
  for (const char* sse :
       {"katmai", "coppermine", "northwood", "prescott", "banias", "core2", "penryn", "dunnington",
        "nehalem", "atom", "athlon", "opteron", "opteron(sse3)", "barcelona", "bobcat", "nano"})
    if (n == sse) return 0;
  for (const char* avx : {"sandybridge", "bulldozer", "piledriver"})
    if (n == avx) return 1;
  for (const char* avx2 : {"haswell", "steamroller", "excavator", "zen"})
    if (n == avx2) return 2;
  if (n == "skylakex") return 3;
  if (n == "cooperlake" || n == "sapphirerapids") return 4;
  return -1;
}

int isa_level(const CpuIsa& isa) {
  if (isa.avx512 && isa.avx512_bf16) return 4;
  if (isa.avx512) return 3;
  if (isa.avx2_fma) return 2;
  return 0;
}

}  // namespace

CpuIsa detect_cpu_isa() {
  CpuIsa isa;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  isa.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  isa.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  isa.avx512_bf16 = __builtin_cpu_supports("avx512bf16");
#endif
  return isa;
}

std::string openblas_core_name() {
  using CoreNameFn = char* (*)();
  auto fn = reinterpret_cast<CoreNameFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  const char* name = fn ? fn() : nullptr;
  return name ? name : "";
}

std::string better_openblas_core(const std::string& picked, const CpuIsa& isa) {
  const int have = core_level(picked), want = isa_level(isa);
  // Only a clear fallback is replaced: SSE/AVX kernels on an AVX2-or-better CPU. A known core at
  // the AVX2 level or above (e.g. Zen on an AVX512 Zen 4) is OpenBLAS's own informed choice.
  if (have < 0 || have >= 2 || want < 2) return "";
  switch (want) {
    case 4:
      return "Cooperlake";
    case 3:
      return "SkylakeX";
    default:
      return "Haswell";
  }
}

void reexec_with_openblas_core(char** argv, const std::string& picked, const CpuIsa& isa) {
  const char* set = std::getenv("OPENBLAS_CORETYPE");
  const char* allowed = std::getenv("SHIRG_OPENBLAS_REEXEC");
  if ((set != nullptr && *set != '\0') || (allowed != nullptr && std::strcmp(allowed, "0") == 0))
    return;
  const std::string core = better_openblas_core(picked, isa);
  if (core.empty()) return;
  setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
  setenv(kPickedEnv, picked.c_str(), 1);
  std::fflush(stdout);
  std::fflush(stderr);
  execv("/proc/self/exe", argv);
  std::fprintf(stderr,
               "warning: OpenBLAS picked its generic %s kernels; re-executing with "
               "OPENBLAS_CORETYPE=%s failed (%s): fp32 matmuls run on the slow kernels\n",
               picked.c_str(), core.c_str(), std::strerror(errno));
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(kPickedEnv);
}

void reexec_with_better_openblas_core(char** argv) {
  reexec_with_openblas_core(argv, openblas_core_name(), detect_cpu_isa());
}

std::string openblas_core_note() {
  const char* set = std::getenv("OPENBLAS_CORETYPE");
  if (set == nullptr || *set == '\0') return "";
  const char* picked = std::getenv(kPickedEnv);
  if (picked != nullptr && *picked != '\0')
    return std::string("OPENBLAS_CORETYPE=") + set + " (set by shirg: OpenBLAS had picked " +
           picked + ")";
  return std::string("OPENBLAS_CORETYPE=") + set + " (set by the operator)";
}

}  // namespace shirg
