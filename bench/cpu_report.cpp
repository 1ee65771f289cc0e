#include "bench/cpu_report.h"

#include <cstdio>

#include "engine/platform/cpu_threads.h"

namespace shirg::bench {

int setup_and_report_cpu(int threads) {
  const CpuThreadSetup cpu = configure_cpu_threads(threads);
  std::printf("cpu: %s\n", cpu.describe().c_str());
  if (!cpu.warning.empty()) std::printf("warning: %s\n", cpu.warning.c_str());
  return cpu.torch_threads;
}

}  // namespace shirg::bench
