#include "engine/safetensors/dtype.h"

#include <array>
#include <utility>

namespace shirg::st {
namespace {
struct Info {
  DType type;
  std::string_view name;
  std::size_t size;
};
constexpr std::array<Info, 13> kInfo = {{
    {DType::F64, "F64", 8},
    {DType::F32, "F32", 4},
    {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},
    {DType::I64, "I64", 8},
    {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},
    {DType::I8, "I8", 1},
    {DType::U64, "U64", 8},
    {DType::U32, "U32", 4},
    {DType::U16, "U16", 2},
    {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1},
}};
const Info& info(DType t) {
  for (const auto& i : kInfo)
    if (i.type == t) return i;
  return kInfo[1];  // unreachable: every enumerator is listed
}
}  // namespace

std::size_t dtype_size(DType t) { return info(t).size; }
std::string_view dtype_name(DType t) { return info(t).name; }
std::optional<DType> parse_dtype(std::string_view s) {
  for (const auto& i : kInfo)
    if (i.name == s) return i.type;
  return std::nullopt;
}

}  // namespace shirg::st
