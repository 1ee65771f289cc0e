#include "bench/cpu_report.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "engine/gemm/linear_weight.h"
#include "engine/model/compute_dtype.h"
#include "engine/platform/cpu_threads.h"

namespace shirg::bench {

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
  }
  return "unknown";
}

int setup_and_report_cpu(int threads) {
  const CpuThreadSetup cpu = configure_cpu_threads(threads);
  std::printf("cpu: %s\n", cpu_model_name().c_str());
  std::printf("cpu bf16: %s; compute dtype auto = %s\n",
              cpu_has_native_bf16() ? "native (avx512_bf16 or amx_bf16)"
                                    : "emulated (no avx512_bf16/amx_bf16)",
              compute_dtype_name(auto_compute_dtype(at::Device(at::kCPU))));
  std::printf("cpu threads: %s\n", cpu.describe().c_str());
  std::printf("oneDNN ISA: %s (packed LLaDA GEMM where it offers a blocked layout)\n",
              gemm::onednn_isa().c_str());
  if (!cpu.warning.empty()) std::printf("warning: %s\n", cpu.warning.c_str());
  return cpu.torch_threads;
}

}  // namespace shirg::bench
