#pragma once
// GPT-2's reversible byte <-> printable-code-point mapping used by ByteLevel pre-tokenizers and
// decoders: bytes 33..126, 161..172, 174..255 map to themselves, the other 68 bytes to U+0100...
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace shirg::tok {

// UTF-8 text of the code point that byte b maps to.
const std::array<std::string, 256>& byte_to_unicode_table();

// Maps every byte of `bytes` to its code point (UTF-8 out).
std::string bytes_to_unicode(std::string_view bytes);

// Inverse of bytes_to_unicode: code point -> byte, or -1 if cp is not in the mapping.
int unicode_to_byte(char32_t cp);

}  // namespace shirg::tok
