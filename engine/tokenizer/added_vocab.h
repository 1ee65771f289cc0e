#pragma once
// The added tokens of tokenizer.json ("added_tokens"): matched in the text before the model
// runs, HF-style: leftmost-longest, non-overlapping; single_word, lstrip, rstrip honoured;
// tokens with normalized=false are matched in the raw text, those with normalized=true in the
// normalized text (against their normalized content).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shirg::tok {

struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool special = false, lstrip = false, rstrip = false, single_word = false, normalized = false;
};

// One cut of a text: [begin, end) and the added-token id, or -1 for ordinary text.
struct AddedSplit {
  size_t begin, end;
  int64_t id;
};

class AddedMatcher {
 public:
  // `patterns[i]` is the text to find for `tokens[i]` (content, or normalized content).
  void build(const std::vector<const AddedToken*>& tokens,
             const std::vector<std::string>& patterns);
  bool empty() const { return tokens_.empty(); }
  // Cuts `s` into ordinary text and matched tokens (HF AddedVocabulary::find_matches); the cuts
  // cover all of s and an empty s gives one empty ordinary cut.
  void find(std::string_view s, std::vector<AddedSplit>& out) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;  // sorted by byte
    int32_t token = -1;                                       // index into tokens_
  };
  int32_t child(int32_t node, unsigned char b) const;
  std::vector<Node> nodes_;
  std::vector<const AddedToken*> tokens_;
  bool first_byte_[256] = {};
};

}  // namespace shirg::tok
