#pragma once
// A deterministic byte-level BPE trainer for the model writer (tools/model_writer): it turns a
// text corpus into a complete Hugging Face tokenizer.json document.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace shirg::tok {

// The pre-tokenization regex of LLaMA-3 (and of the trained tokenizer's Split step).
inline constexpr const char* kLlama3SplitPattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// Trains a byte-level BPE on `corpus` (UTF-8; throws TokenizerError if invalid) and returns a
// tokenizer.json document:
//   normalizer NFC; pre_tokenizer Sequence[Split(kLlama3SplitPattern, Isolated),
//   ByteLevel(add_prefix_space false, use_regex false)]; decoder ByteLevel; post_processor null;
//   model BPE: ids 0..255 are the 256 byte symbols in byte order (GPT-2 byte-to-unicode text),
//   then one id per new merged string in merge order; merges in "left right" string form;
//   added_tokens: `special_tokens` in the given order with ids following the BPE vocab,
//   special=true, normalized=false, no strip flags.
// `vocab_size` counts everything (256 bytes + merged symbols + special tokens); training stops
// earlier when no pair occurs in the corpus any more, so the result may be smaller. Special
// token strings inside the corpus are cut out before training. The most frequent pair wins;
// ties go to the lexicographically smallest (left bytes, right bytes). Same input, same output.
// Throws TokenizerError if vocab_size < 256 + special_tokens.size() or a special token is empty
// or repeated.
nlohmann::json train_byte_level_bpe(const std::string& corpus, int64_t vocab_size,
                                    const std::vector<std::string>& special_tokens);

// Same, but each special token gets the given id (e.g. LLaDA-8B's 126080...). Hugging Face
// tokenizers ignores the "id" of an added token that is not in model.vocab and numbers it after
// the vocab, so to keep such ids the special tokens are ALSO written into model.vocab at those
// ids (HF then takes the vocab's id). `vocab_size` counts the BPE part only (256 bytes + merged
// symbols). Throws TokenizerError if an id collides with the BPE ids or another special.
nlohmann::json train_byte_level_bpe_with_ids(
    const std::string& corpus, int64_t vocab_size,
    const std::vector<std::pair<std::string, int64_t>>& special_tokens_with_ids);

}  // namespace shirg::tok
