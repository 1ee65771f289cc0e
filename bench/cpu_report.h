#pragma once
// Every benchmark's start: configure_cpu_threads() and print what it found: the CPU model, whether
// it has native bf16 and the dtype `auto` picks, the threads and the BLAS flavour (the BLAS flavour
// changes every number the benchmark prints).

#include <string>

namespace shirg::bench {

// The "model name" line of /proc/cpuinfo ("unknown" where there is none).
std::string cpu_model_name();

// threads <= 0: all hardware threads. Returns the LibTorch thread count set.
int setup_and_report_cpu(int threads);

}  // namespace shirg::bench
