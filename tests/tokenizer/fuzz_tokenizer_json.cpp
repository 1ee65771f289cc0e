// libFuzzer: any bytes given as tokenizer.json either load or raise TokenizerError; a loaded
// tokenizer encodes and decodes a fixed text without crashing (errors are TokenizerError only).
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto tok = shirg::tok::Tokenizer::from_json(
        std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
    const auto ids = tok->encode("Hello <|eot_id|> world 12 caf\xc3\xa9");
    (void)tok->decode(ids, /*skip_special_tokens=*/true);
  } catch (const shirg::tok::TokenizerError&) {
  }
  return 0;
}
