#pragma once
// UTF-8 helpers: validation, code point decoding, NFC (libutf8proc).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace shirg::tok {

// Byte offset of the first invalid UTF-8 sequence in `s` (overlong forms, surrogates and code
// points above U+10FFFF are invalid), or std::string_view::npos when `s` is valid UTF-8.
size_t find_invalid_utf8(std::string_view s);

// Length in bytes of the UTF-8 sequence starting with lead byte `b` (1 for invalid leads).
inline size_t utf8_len(unsigned char b) {
  if (b < 0x80) return 1;
  if ((b & 0xE0) == 0xC0) return 2;
  if ((b & 0xF0) == 0xE0) return 3;
  if ((b & 0xF8) == 0xF0) return 4;
  return 1;
}

// Decodes the code point at s[i] (s must be valid UTF-8) and advances i.
char32_t next_code_point(std::string_view s, size_t& i);

// Appends the UTF-8 encoding of `cp` to `out`.
void append_utf8(std::string& out, char32_t cp);

// Unicode NFC of valid UTF-8 text (identity fast path for ASCII). Throws TokenizerError if
// utf8proc rejects the input.
std::string nfc(std::string_view s);

// True when every byte is < 0x80.
bool is_ascii(std::string_view s);

}  // namespace shirg::tok
