#pragma once
// The prefix KV cache's storage dtype, without LibTorch (engine configs and flags use it).
namespace shirg::kv {

// kBf16: the 16-bit cache (default). kFp32: the 32-bit fallback: exact to the fp32 computation,
// twice the bytes.
enum class CacheDType { kBf16, kFp32 };

}  // namespace shirg::kv
