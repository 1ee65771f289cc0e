#pragma once
// A Hugging Face tokenizer.json (byte-level BPE family) loaded natively, matching HF tokenizers'
// ids bit for bit. Immutable after loading; all methods are thread-safe.
//
// Supported components (others are a load error naming the JSON field and component):
//   normalizer: NFC NFD NFKC NFKD Prepend Replace Sequence | null
//   pre_tokenizer: ByteLevel Split Digits Sequence | null
//   model: BPE (byte_fallback, ignore_merges, unk_token/fuse_unk, subword prefix/suffix)
//   decoder: ByteLevel | null;  post_processor: ByteLevel TemplateProcessing Bert/Roberta Sequence
//   added_tokens: special, lstrip, rstrip, single_word, normalized
//   truncation and padding must be null.
// Added-token ids follow HF: a content already in model.vocab takes the vocab's id, any other
// gets the next id after the model vocab (the "id" fields in the file are checked to agree).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/tokenizer_error.h"

namespace shirg::tok {

class Tokenizer {
 public:
  // Throws TokenizerError naming the file and, for malformed content, the JSON field.
  static std::shared_ptr<const Tokenizer> from_file(const std::string& path);
  static std::shared_ptr<const Tokenizer> from_json(const std::string& json_text,
                                                    const std::string& label);
  ~Tokenizer();

  // Ids of `text`. Added tokens (e.g. "<|eot_id|>") written in the text are matched as such.
  // add_special_tokens applies the post-processor (e.g. a BOS template).
  // Invalid UTF-8 -> TokenizerError("text is not valid UTF-8 (byte offset N)").
  std::vector<int64_t> encode(std::string_view text, bool add_special_tokens = false) const;

  // HF decode: unknown ids are dropped, special added tokens dropped if skip_special_tokens,
  // invalid UTF-8 produced by byte tokens becomes U+FFFD (Rust from_utf8_lossy).
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const;

  std::optional<int64_t> token_to_id(std::string_view token) const;  // added tokens first
  std::optional<std::string> id_to_token(int64_t id) const;          // vocab text of the id
  int64_t vocab_size() const;  // max id over model vocab and added tokens, + 1
  bool is_special(int64_t id) const;

  // For IncrementalDecoder: the bytes id contributes to decode() output, nullptr for an unknown
  // id (or a special one when skip_special is set).
  const std::string* decode_piece(int64_t id, bool skip_special) const;
  // True when the decoder is null (HF joins token texts with a single space).
  bool joins_with_space() const;

 private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Streaming decode for token-by-token output: the concatenation of every push() and the final
// flush() equals tok.decode(all ids, skip_special_tokens). push() never returns half a UTF-8
// character (incomplete trailing bytes are held back until they complete or flush() is called).
// The Tokenizer must outlive the decoder.
class IncrementalDecoder {
 public:
  IncrementalDecoder(const Tokenizer& tok, bool skip_special_tokens);
  std::string push(int64_t id);
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool skip_special_;
  bool any_ = false;
  std::string pending_;
};

}  // namespace shirg::tok
