#pragma once
// tokenizer.json "model" of type BPE: vocab, merges (either "a b" strings or ["a", "b"] pairs),
// unk_token, fuse_unk, byte_fallback, ignore_merges, continuing_subword_prefix,
// end_of_word_suffix. dropout must be null or 0. Merging follows HF: repeatedly apply the
// lowest-rank merge (leftmost on ties). A per-thread word cache memoizes results.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/json_fields.h"

namespace shirg::tok {

class BpeModel {
 public:
  BpeModel(const nlohmann::json& j, const std::string& path, const JsonCtx& ctx);

  // Appends the ids of one pre-tokenized word to `out`.
  void tokenize(const std::string& word, std::vector<int64_t>& out) const;

  std::optional<int64_t> token_to_id(std::string_view token) const;
  const std::string* id_to_token(int64_t id) const;  // nullptr if unknown
  size_t vocab_entries() const { return vocab_.size(); }
  int64_t max_id() const { return static_cast<int64_t>(vocab_r_.size()) - 1; }

 private:
  struct MergeInfo {
    uint32_t rank;
    uint32_t new_id;
  };
  void merge_word(const std::string& w, std::vector<uint32_t>& ids) const;

  std::unordered_map<std::string, uint32_t> vocab_;
  std::vector<std::string> vocab_r_;
  std::vector<bool> has_id_;
  std::unordered_map<uint64_t, MergeInfo> merges_;
  std::optional<std::string> unk_token_;
  std::optional<std::string> prefix_, suffix_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  uint64_t cache_owner_;  // unique per instance: keys the thread-local word cache
};

}  // namespace shirg::tok
