#include "engine/tokenizer/byte_level.h"

#include "engine/tokenizer/unicode_util.h"

namespace shirg::tok {
namespace {

struct Tables {
  std::array<std::string, 256> to_unicode;
  std::array<int16_t, 512> to_byte;  // code points < 512 cover the whole mapping
  Tables() {
    to_byte.fill(-1);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      const char32_t cp = printable ? static_cast<char32_t>(b) : next++;
      append_utf8(to_unicode[b], cp);
      to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const std::array<std::string, 256>& byte_to_unicode_table() {
  return tables().to_unicode;
}

std::string bytes_to_unicode(std::string_view bytes) {
  const auto& t = tables().to_unicode;
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += t[static_cast<unsigned char>(c)];
  return out;
}

int unicode_to_byte(char32_t cp) {
  return cp < 512 ? tables().to_byte[cp] : -1;
}

}  // namespace shirg::tok
