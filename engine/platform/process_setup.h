#pragma once
// What every program that runs the model (server, offline tool, benches) calls first in main(),
// before any thread starts:
//   1. reexec_with_better_openblas_core(argv) (blas_core.h): may re-execute the program once;
//   2. tune_malloc_for_large_temporaries() (malloc_tuning.h).
// Their start-up notes appear in CpuThreadSetup::describe() (cpu_threads.h).
namespace shirg {

void prepare_process(char** argv);

}  // namespace shirg
