#pragma once
// Batched products of small 3-D operands in place: the attention GEMMs of a cached denoising
// step (32 query rows against a group of heads' keys and values).
//
// Why: LibTorch 1.13's fp32 bmm on the CPU runs one BLAS call per batch entry, and OpenBLAS
// copies ("packs") both operands in each; oneDNN's matmul runs the whole batch as one primitive
// and reads any strides (a transposed view needs no copy). Measured in bench_attention's step
// section (docs/benchmarks.md).
//
// Contract: a [B, M, K], b [B, K, N], y [B, M, N]; y = a @ b (or y += a @ b with
// Accumulate::kAdd) with fp32 accumulation, written into y in place (y may be a view into a larger
// tensor; never resized). Any strides. a and b share one floating dtype; y has that dtype, or is
// fp32 under bf16 operands (exact bf16 products summed in fp32, never rounded to bf16: the scores
// and outputs of the bf16 step attention). Through oneDNN where it is built in
// (SHIRG_WITH_ONEDNN) and the operands are CPU tensors, fp32 or bf16; otherwise (other devices or
// dtypes, or a layout oneDNN refuses) at::bmm in y's dtype and a copy (or an add) into y.
// Thread-safe (no shared mutable state; oneDNN's scratchpad is allocated per call).
// Throws std::invalid_argument for ranks, sizes or dtypes that do not match, naming them.
#include <ATen/core/Tensor.h>

namespace shirg::gemm {

enum class Accumulate { kOverwrite, kAdd };

void batched_matmul(const at::Tensor& a, const at::Tensor& b, const at::Tensor& y,
                    Accumulate mode = Accumulate::kOverwrite);

// True when batched_matmul runs fp32/bf16 CPU operands through oneDNN (this build has oneDNN).
bool batched_matmul_native();

}  // namespace shirg::gemm
