#pragma once
// tokenizer.json "pre_tokenizer": ByteLevel (add_prefix_space, use_regex), Split (String/Regex
// pattern, behavior Removed|Isolated|MergedWithPrevious|MergedWithNext|Contiguous, invert),
// Digits (individual_digits) and Sequence. Other types are a load error naming them.
// Semantics follow HF tokenizers: every step splits each current piece; empty pieces vanish.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/json_fields.h"

namespace shirg::tok {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` by the pieces this step produces from each of them, in order.
  virtual void split(std::vector<std::string>& pieces) const = 0;
};

// Null JSON -> nullptr (the whole text is one piece).
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, const std::string& path,
                                                 const JsonCtx& ctx);

// How a piece is cut around the matches of a pattern (HF SplitDelimiterBehavior).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// One pattern match list, HF style: the whole of `s` as (begin, end, is_match) runs.
struct MatchRun {
  size_t begin, end;
  bool is_match;
};

// Cuts `s` by the runs with `behavior` and appends the non-empty pieces to `out`.
void split_by_runs(const std::string& s, const std::vector<MatchRun>& runs, SplitBehavior behavior,
                   std::vector<std::string>& out);

}  // namespace shirg::tok
