#pragma once
// Choosing the compute dtype. bf16 matmuls are 3-4x faster than fp32 where the CPU has native
// bf16 (AVX-512 BF16 / AMX) or on CUDA, but ~20x SLOWER where LibTorch must emulate them (AVX2-only
// CPUs measured 4 GFLOP/s bf16 vs 85-160 fp32). "auto" picks accordingly.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace shirg {

// True when this CPU executes bf16 matmuls natively (flags avx512_bf16 or amx_bf16).
bool cpu_has_native_bf16();
// bf16 on CUDA or a native-bf16 CPU, otherwise fp32.
at::ScalarType auto_compute_dtype(const at::Device& device);
// "bf16" | "fp32" | "auto"; throws std::invalid_argument otherwise.
at::ScalarType parse_compute_dtype(const std::string& s, const at::Device& device);
const char* compute_dtype_name(at::ScalarType t);  // "bf16" | "fp32"

}  // namespace shirg
