#include "engine/attention/widen.h"

#include <cstring>

namespace shirg::attention {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
void widen_bf16_rows(const uint16_t* src, int64_t src_ld, int64_t rows, int64_t cols, float* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    const uint16_t* sr = src + r * src_ld;
    float* dr = dst + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      const uint32_t bits = static_cast<uint32_t>(sr[c]) << 16;
      std::memcpy(dr + c, &bits, sizeof(float));
    }
  }
}

}  // namespace shirg::attention
