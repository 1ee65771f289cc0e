#include "engine/tokenizer/added_vocab.h"

#include <algorithm>

#include "engine/tokenizer/unicode_util.h"

namespace shirg::tok {
namespace {

// Last code point before byte offset `end` (s[0, end) valid UTF-8, end > 0).
char32_t last_code_point(std::string_view s, size_t end, size_t* start_out = nullptr) {
  size_t b = end - 1;
  while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  if (start_out) *start_out = b;
  size_t i = b;
  return next_code_point(s, i);
}

}  // namespace

int32_t AddedMatcher::child(int32_t node, unsigned char b) const {
  const auto& ch = nodes_[node].children;
  const auto it = std::lower_bound(ch.begin(), ch.end(), std::make_pair(b, int32_t{-1}));
  return it != ch.end() && it->first == b ? it->second : -1;
}

void AddedMatcher::build(const std::vector<const AddedToken*>& tokens,
                         const std::vector<std::string>& patterns) {
  nodes_.assign(1, Node{});
  tokens_ = tokens;
  std::fill(std::begin(first_byte_), std::end(first_byte_), false);
  for (size_t t = 0; t < tokens.size(); ++t) {
    const std::string& p = patterns[t];
    if (p.empty()) continue;
    first_byte_[static_cast<unsigned char>(p[0])] = true;
    int32_t node = 0;
    for (unsigned char b : p) {
      int32_t next = child(node, b);
      if (next < 0) {
        next = static_cast<int32_t>(nodes_.size());
        nodes_.push_back(Node{});
        auto& ch = nodes_[node].children;
        ch.insert(std::lower_bound(ch.begin(), ch.end(), std::make_pair(b, int32_t{-1})),
                  {b, next});
      }
      node = next;
    }
    if (nodes_[node].token < 0) nodes_[node].token = static_cast<int32_t>(t);  // first wins
  }
}

void AddedMatcher::find(std::string_view s, std::vector<AddedSplit>& out) const {
  if (s.empty()) {
    out.push_back({0, 0, -1});
    return;
  }
  size_t start_offset = 0;
  size_t i = 0;
  while (i < s.size()) {
    if (!first_byte_[static_cast<unsigned char>(s[i])]) {
      ++i;
      continue;
    }
    // Longest token starting at i.
    int32_t node = 0, best = -1;
    size_t best_end = 0;
    for (size_t k = i; k < s.size(); ++k) {
      node = child(node, static_cast<unsigned char>(s[k]));
      if (node < 0) break;
      if (nodes_[node].token >= 0) {
        best = nodes_[node].token;
        best_end = k + 1;
      }
    }
    if (best < 0) {
      ++i;
      continue;
    }
    const AddedToken& tok = *tokens_[best];
    size_t start = i, stop = best_end;
    i = best_end;  // non-overlapping: scanning resumes after this match even if it is discarded
    if (tok.single_word) {
      const bool start_space = start == 0 || !is_word_char(last_code_point(s, start));
      bool stop_space = stop == s.size();
      if (!stop_space) {
        size_t j = stop;
        stop_space = !is_word_char(next_code_point(s, j));
      }
      if (!start_space || !stop_space) continue;
    }
    if (tok.lstrip) {
      size_t newstart = start;
      while (newstart > 0) {
        size_t cb;
        if (!is_white_space(last_code_point(s, newstart, &cb))) break;
        newstart = cb;
      }
      start = std::max(newstart, start_offset);
    }
    if (tok.rstrip) {
      while (stop < s.size()) {
        size_t j = stop;
        if (!is_white_space(next_code_point(s, j))) break;
        stop = j;
      }
    }
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, tok.id});
    start_offset = stop;
  }
  if (start_offset != s.size()) out.push_back({start_offset, s.size(), -1});
}

}  // namespace shirg::tok
