#pragma once
// Element types of the safetensors format, independent of LibTorch.
#include <cstddef>
#include <optional>
#include <string_view>

namespace shirg::st {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL };

// Bytes per element.
std::size_t dtype_size(DType t);
// The format's spelling ("F32", "BF16", ...).
std::string_view dtype_name(DType t);
// Parses the format's spelling; nullopt for anything unknown (e.g. "F8_E4M3").
std::optional<DType> parse_dtype(std::string_view s);

}  // namespace shirg::st
