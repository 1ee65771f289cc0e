#pragma once
// Exact bf16 -> fp32 widening of row blocks, shared by the CPU attention kernels (the bf16 prefix
// cache under fp32 compute). Compiled once per ISA level and chosen at load time (GCC ifunc), so
// it runs vectorised with AVX-512 or AVX2 where the CPU has them and on any x86-64 otherwise.
#include <cstdint>

namespace shirg::attention {

// dst[r * cols + c] = fp32(src[r * src_ld + c]) for r < rows, c < cols. bf16 -> fp32 is exact:
// the bf16 bits are the fp32's upper half. src: bf16 bit patterns.
void widen_bf16_rows(const uint16_t* src, int64_t src_ld, int64_t rows, int64_t cols, float* dst);

}  // namespace shirg::attention
