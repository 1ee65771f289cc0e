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

namespace shirg::tok {

// Unicode White_Space (Rust's char::is_whitespace, regex \s).
bool is_white_space(char32_t cp);
// Rust regex's Unicode \w: letters, Nl, marks, Nd, Pc, ZWNJ/ZWJ (Other_Alphabetic symbols such
// as circled letters are not included: an approximation used only for single_word tokens).
bool is_word_char(char32_t cp);
// Rust's char::is_numeric: general categories Nd, Nl, No.
bool is_numeric(char32_t cp);
// NFD / NFKC / NFKD of valid UTF-8 text.
std::string nfd(std::string_view s);
std::string nfkc(std::string_view s);
std::string nfkd(std::string_view s);
// Python's str.strip() with no argument (Jinja2's |trim): strips Py_UNICODE_ISSPACE characters.
std::string python_strip(std::string_view s);

}  // namespace shirg::tok

namespace shirg::tok {

// Rust's String::from_utf8_lossy: every maximal invalid subpart becomes one U+FFFD.
std::string utf8_lossy(std::string_view bytes);

// Length of the trailing bytes of `s` that form a valid but incomplete UTF-8 sequence (0..3):
// bytes a streaming decoder must hold back until the next chunk arrives.
size_t incomplete_utf8_tail(std::string_view s);

}  // namespace shirg::tok
