#include "engine/platform/process_setup.h"

#include "engine/platform/blas_core.h"
#include "engine/platform/malloc_tuning.h"

namespace shirg {

void prepare_process(char** argv) {
  reexec_with_better_openblas_core(argv);  // first: an exec would drop any setting made before
  tune_malloc_for_large_temporaries();
}

}  // namespace shirg
