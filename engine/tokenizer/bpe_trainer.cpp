#include "engine/tokenizer/bpe_trainer.h"

#include <algorithm>
#include <map>
#include <queue>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/regex.h"
#include "engine/tokenizer/tokenizer_error.h"
#include "engine/tokenizer/unicode_util.h"

namespace shirg::tok {
namespace {

using PairKey = uint64_t;
PairKey key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}
int32_t left(PairKey k) {
  return static_cast<int32_t>(k >> 32);
}
int32_t right(PairKey k) {
  return static_cast<int32_t>(k & 0xFFFFFFFFu);
}

struct Word {
  std::vector<int32_t> syms;
  int64_t count = 0;
};

// Counts the pre-tokenized pieces (raw bytes) of the NFC text between special tokens.
std::map<std::string, int64_t> count_words(const std::string& corpus,
                                           const std::vector<std::string>& specials) {
  std::vector<std::string_view> chunks;
  std::string_view rest(corpus);
  while (!rest.empty()) {
    size_t best = std::string_view::npos, best_len = 0;
    for (const auto& s : specials) {
      const size_t p = rest.find(s);
      if (p < best || (p == best && p != std::string_view::npos && s.size() > best_len)) {
        best = p;
        best_len = s.size();
      }
    }
    if (best == std::string_view::npos) {
      chunks.push_back(rest);
      break;
    }
    chunks.push_back(rest.substr(0, best));
    rest.remove_prefix(best + best_len);
  }
  const Regex split(kLlama3SplitPattern);
  std::map<std::string, int64_t> words;
  std::vector<std::pair<size_t, size_t>> matches;
  for (const auto chunk : chunks) {
    const std::string text = nfc(chunk);
    matches.clear();
    split.find_all(text, matches);
    size_t pos = 0;
    for (const auto& [b, e] : matches) {
      if (b > pos) ++words[text.substr(pos, b - pos)];
      if (e > b) ++words[text.substr(b, e - b)];
      pos = e;
    }
    if (pos < text.size()) ++words[text.substr(pos)];
  }
  return words;
}

}  // namespace

nlohmann::json train_byte_level_bpe(const std::string& corpus, int64_t vocab_size,
                                    const std::vector<std::string>& special_tokens) {
  const size_t bad = find_invalid_utf8(corpus);
  if (bad != std::string::npos) {
    throw TokenizerError("BPE training corpus is not valid UTF-8 (byte offset " +
                         std::to_string(bad) + ")");
  }
  std::set<std::string> seen;
  for (const auto& s : special_tokens) {
    if (s.empty()) throw TokenizerError("BPE trainer: empty special token");
    if (!seen.insert(s).second) throw TokenizerError("BPE trainer: repeated special token " + s);
  }
  const int64_t n_special = static_cast<int64_t>(special_tokens.size());
  if (vocab_size < 256 + n_special) {
    throw TokenizerError("BPE trainer: vocab_size " + std::to_string(vocab_size) +
                         " is smaller than 256 byte symbols + " + std::to_string(n_special) +
                         " special tokens");
  }
  const int64_t target_bpe = vocab_size - n_special;

  // Symbols as raw byte strings; ids 0..255 are the single bytes.
  std::vector<std::string> sym;
  std::unordered_map<std::string, int32_t> sym_id;
  for (int b = 0; b < 256; ++b) {
    sym.emplace_back(1, static_cast<char>(b));
    sym_id.emplace(sym.back(), b);
  }

  std::vector<Word> words;
  for (const auto& [w, c] : count_words(corpus, special_tokens)) {
    Word word;
    word.count = c;
    for (unsigned char ch : w) word.syms.push_back(ch);
    words.push_back(std::move(word));
  }

  std::unordered_map<PairKey, int64_t> pair_count;
  std::unordered_map<PairKey, std::vector<int32_t>> where;  // may hold stale word indices
  for (size_t wi = 0; wi < words.size(); ++wi) {
    const auto& w = words[wi];
    for (size_t i = 0; i + 1 < w.syms.size(); ++i) {
      const PairKey k = key(w.syms[i], w.syms[i + 1]);
      pair_count[k] += w.count;
      auto& v = where[k];
      if (v.empty() || v.back() != static_cast<int32_t>(wi)) v.push_back(static_cast<int32_t>(wi));
    }
  }

  struct Entry {
    int64_t count;
    PairKey k;
  };
  // Highest count first; ties: lexicographically smallest (left, right) byte strings.
  auto worse = [&sym](const Entry& x, const Entry& y) {
    if (x.count != y.count) return x.count < y.count;
    const auto& xl = sym[left(x.k)];
    const auto& yl = sym[left(y.k)];
    if (xl != yl) return xl > yl;
    return sym[right(x.k)] > sym[right(y.k)];
  };
  std::priority_queue<Entry, std::vector<Entry>, decltype(worse)> queue(worse);
  for (const auto& [k, c] : pair_count) queue.push({c, k});

  std::vector<std::pair<int32_t, int32_t>> merges;
  while (static_cast<int64_t>(sym.size()) < target_bpe && !queue.empty()) {
    const Entry top = queue.top();
    queue.pop();
    const auto it = pair_count.find(top.k);
    const int64_t current = it == pair_count.end() ? 0 : it->second;
    if (current != top.count) {
      if (current > 0) queue.push({current, top.k});
      continue;
    }
    if (current <= 0) break;
    const int32_t a = left(top.k), b = right(top.k);
    const std::string merged = sym[a] + sym[b];
    int32_t id;
    const auto found = sym_id.find(merged);
    if (found != sym_id.end()) {
      id = found->second;
    } else {
      id = static_cast<int32_t>(sym.size());
      sym.push_back(merged);
      sym_id.emplace(merged, id);
    }
    merges.emplace_back(a, b);

    std::unordered_set<PairKey> touched;
    std::vector<int32_t> word_list = std::move(where[top.k]);
    where.erase(top.k);
    for (const int32_t wi : word_list) {
      auto& w = words[wi];
      bool has = false;
      for (size_t i = 0; i + 1 < w.syms.size(); ++i) {
        if (w.syms[i] == a && w.syms[i + 1] == b) {
          has = true;
          break;
        }
      }
      if (!has) continue;
      for (size_t i = 0; i + 1 < w.syms.size(); ++i) {
        const PairKey k = key(w.syms[i], w.syms[i + 1]);
        pair_count[k] -= w.count;
        touched.insert(k);
      }
      std::vector<int32_t> next;
      next.reserve(w.syms.size());
      for (size_t i = 0; i < w.syms.size(); ++i) {
        if (i + 1 < w.syms.size() && w.syms[i] == a && w.syms[i + 1] == b) {
          next.push_back(id);
          ++i;
        } else {
          next.push_back(w.syms[i]);
        }
      }
      w.syms = std::move(next);
      for (size_t i = 0; i + 1 < w.syms.size(); ++i) {
        const PairKey k = key(w.syms[i], w.syms[i + 1]);
        pair_count[k] += w.count;
        touched.insert(k);
        auto& v = where[k];
        if (v.empty() || v.back() != wi) v.push_back(wi);
      }
    }
    pair_count.erase(top.k);
    // Deterministic push order does not matter for a priority queue with a total order.
    for (const PairKey k : touched) {
      const auto c = pair_count.find(k);
      if (c == pair_count.end()) continue;
      if (c->second <= 0) {
        pair_count.erase(c);
      } else {
        queue.push({c->second, k});
      }
    }
  }

  nlohmann::json vocab = nlohmann::json::object();
  for (size_t i = 0; i < sym.size(); ++i) vocab[bytes_to_unicode(sym[i])] = i;
  nlohmann::json merge_list = nlohmann::json::array();
  for (const auto& [a, b] : merges) {
    merge_list.push_back(bytes_to_unicode(sym[a]) + " " + bytes_to_unicode(sym[b]));
  }
  nlohmann::json added = nlohmann::json::array();
  for (size_t i = 0; i < special_tokens.size(); ++i) {
    added.push_back({{"id", static_cast<int64_t>(sym.size() + i)},
                     {"content", special_tokens[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }

  nlohmann::json doc;
  doc["version"] = "1.0";
  doc["truncation"] = nullptr;
  doc["padding"] = nullptr;
  doc["added_tokens"] = added;
  doc["normalizer"] = {{"type", "NFC"}};
  doc["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers", nlohmann::json::array({{{"type", "Split"},
                                                {"pattern", {{"Regex", kLlama3SplitPattern}}},
                                                {"behavior", "Isolated"},
                                                {"invert", false}},
                                               {{"type", "ByteLevel"},
                                                {"add_prefix_space", false},
                                                {"trim_offsets", true},
                                                {"use_regex", false}}})}};
  doc["post_processor"] = nullptr;
  doc["decoder"] = {{"type", "ByteLevel"},
                    {"add_prefix_space", true},
                    {"trim_offsets", true},
                    {"use_regex", true}};
  doc["model"] = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", nullptr},
                  {"continuing_subword_prefix", nullptr},
                  {"end_of_word_suffix", nullptr},
                  {"fuse_unk", false},
                  {"byte_fallback", false},
                  {"ignore_merges", false},
                  {"vocab", vocab},
                  {"merges", merge_list}};
  return doc;
}

}  // namespace shirg::tok

namespace shirg::tok {

nlohmann::json train_byte_level_bpe_with_ids(
    const std::string& corpus, int64_t vocab_size,
    const std::vector<std::pair<std::string, int64_t>>& special_tokens_with_ids) {
  std::vector<std::string> names;
  for (const auto& [name, id] : special_tokens_with_ids) names.push_back(name);
  nlohmann::json doc =
      train_byte_level_bpe(corpus, vocab_size + static_cast<int64_t>(names.size()), names);
  auto& vocab = doc["model"]["vocab"];
  const int64_t bpe_size = static_cast<int64_t>(vocab.size());
  std::set<int64_t> used;
  for (size_t i = 0; i < special_tokens_with_ids.size(); ++i) {
    const auto& [name, id] = special_tokens_with_ids[i];
    if (id < bpe_size || !used.insert(id).second) {
      throw TokenizerError("BPE trainer: special token " + name + " id " + std::to_string(id) +
                           " collides with the BPE vocab (0.." + std::to_string(bpe_size - 1) +
                           ") or another special token");
    }
    vocab[name] = id;
    doc["added_tokens"][i]["id"] = id;
  }
  return doc;
}

}  // namespace shirg::tok
