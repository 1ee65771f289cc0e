#include "engine/tokenizer/pre_tokenizer.h"

#include <utility>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/pattern.h"
#include "engine/tokenizer/regex.h"
#include "engine/tokenizer/unicode_util.h"

namespace shirg::tok {
namespace {

// GPT-2's pre-tokenization regex, used by ByteLevel when use_regex is true.
constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// Regex matches -> runs covering the whole string (HF's Pattern::find_matches for regexes).
void regex_runs(const Regex& re, const std::string& s, bool invert, std::vector<MatchRun>& runs) {
  runs.clear();
  if (s.empty()) {
    runs.push_back({0, 0, invert});
    return;
  }
  std::vector<std::pair<size_t, size_t>> m;
  re.find_all(s, m);
  size_t prev = 0;
  for (const auto& [b, e] : m) {
    if (prev != b) runs.push_back({prev, b, invert});
    runs.push_back({b, e, !invert});
    prev = e;
  }
  if (prev != s.size()) runs.push_back({prev, s.size(), invert});
}

// Per-character predicate matches (HF's Pattern for Fn(char) -> bool).
template <class Pred>
void char_runs(const std::string& s, Pred pred, std::vector<MatchRun>& runs) {
  runs.clear();
  if (s.empty()) {
    runs.push_back({0, 0, false});
    return;
  }
  size_t last_offset = 0, i = 0;
  while (i < s.size()) {
    const size_t b = i;
    const char32_t c = next_code_point(s, i);
    if (pred(c)) {
      if (last_offset < b) runs.push_back({last_offset, b, false});
      runs.push_back({b, i, true});
      last_offset = i;
    }
  }
  if (s.size() > last_offset) runs.push_back({last_offset, s.size(), false});
}

class ByteLevelPre : public PreTokenizer {
 public:
  ByteLevelPre(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space),
        re_(use_regex ? std::make_unique<Regex>(kGpt2Pattern) : nullptr) {}
  void split(std::vector<std::string>& pieces) const override {
    const auto& table = byte_to_unicode_table();
    std::vector<std::string> out;
    out.reserve(pieces.size() * 2);
    std::vector<std::pair<size_t, size_t>> m;
    std::vector<MatchRun> runs;
    std::vector<std::string> parts;
    for (auto& p : pieces) {
      if (add_prefix_space_ && (p.empty() || p[0] != ' ')) p.insert(0, 1, ' ');
      parts.clear();
      if (re_) {
        regex_runs(*re_, p, false, runs);
        split_by_runs(p, runs, SplitBehavior::kIsolated, parts);
      } else if (!p.empty()) {
        parts.push_back(std::move(p));
      }
      for (const auto& part : parts) {
        std::string mapped;
        mapped.reserve(part.size() + 4);
        for (char c : part) mapped += table[static_cast<unsigned char>(c)];
        out.push_back(std::move(mapped));
      }
    }
    pieces = std::move(out);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> re_;
};

class SplitPre : public PreTokenizer {
 public:
  SplitPre(std::unique_ptr<Regex> re, SplitBehavior behavior, bool invert)
      : re_(std::move(re)), behavior_(behavior), invert_(invert) {}
  void split(std::vector<std::string>& pieces) const override {
    std::vector<std::string> out;
    out.reserve(pieces.size() * 4);
    std::vector<MatchRun> runs;
    for (const auto& p : pieces) {
      regex_runs(*re_, p, invert_, runs);
      split_by_runs(p, runs, behavior_, out);
    }
    pieces = std::move(out);
  }

 private:
  std::unique_ptr<Regex> re_;
  SplitBehavior behavior_;
  bool invert_;
};

class DigitsPre : public PreTokenizer {
 public:
  explicit DigitsPre(bool individual) : individual_(individual) {}
  void split(std::vector<std::string>& pieces) const override {
    std::vector<std::string> out;
    std::vector<MatchRun> runs;
    for (const auto& p : pieces) {
      char_runs(p, is_numeric, runs);
      split_by_runs(p, runs, individual_ ? SplitBehavior::kIsolated : SplitBehavior::kContiguous,
                    out);
    }
    pieces = std::move(out);
  }

 private:
  bool individual_;
};

class SequencePre : public PreTokenizer {
 public:
  explicit SequencePre(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void split(std::vector<std::string>& pieces) const override {
    for (const auto& s : steps_) s->split(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

SplitBehavior parse_behavior(const std::string& b, const std::string& path, const JsonCtx& ctx) {
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return SplitBehavior::kContiguous;
  ctx.fail(path, "has unknown split behavior '" + b + "'");
}

}  // namespace

void split_by_runs(const std::string& s, const std::vector<MatchRun>& runs, SplitBehavior behavior,
                   std::vector<std::string>& out) {
  struct Cut {
    size_t begin, end;
    bool remove;
  };
  std::vector<Cut> cuts;
  cuts.reserve(runs.size());
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const auto& r : runs) cuts.push_back({r.begin, r.end, false});
      break;
    case SplitBehavior::kRemoved:
      for (const auto& r : runs) cuts.push_back({r.begin, r.end, r.is_match});
      break;
    case SplitBehavior::kContiguous: {
      bool prev = false;
      for (const auto& r : runs) {
        if (r.is_match == prev && !cuts.empty()) {
          cuts.back().end = r.end;
        } else {
          cuts.push_back({r.begin, r.end, false});
        }
        prev = r.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool prev = false;
      for (const auto& r : runs) {
        if (r.is_match && !prev && !cuts.empty()) {
          cuts.back().end = r.end;
        } else {
          cuts.push_back({r.begin, r.end, false});
        }
        prev = r.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool prev = false;
      for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
        if (it->is_match && !prev && !cuts.empty()) {
          cuts.back().begin = it->begin;
        } else {
          cuts.push_back({it->begin, it->end, false});
        }
        prev = it->is_match;
      }
      std::reverse(cuts.begin(), cuts.end());
      break;
    }
  }
  for (const auto& c : cuts) {
    if (!c.remove && c.end > c.begin) out.push_back(s.substr(c.begin, c.end - c.begin));
  }
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, const std::string& path,
                                                 const JsonCtx& ctx) {
  if (j.is_null()) return nullptr;
  const std::string type = ctx.str(j, path, "type");
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevelPre>(ctx.boolean(j, path, "add_prefix_space", true),
                                          ctx.boolean(j, path, "use_regex", true));
  }
  if (type == "Split") {
    auto re = make_pattern(ctx.field(j, path, "pattern"), path + ".pattern", ctx);
    const auto behavior = parse_behavior(ctx.str(j, path, "behavior"), path + ".behavior", ctx);
    return std::make_unique<SplitPre>(std::move(re), behavior,
                                      ctx.boolean(j, path, "invert", false));
  }
  if (type == "Digits") {
    return std::make_unique<DigitsPre>(ctx.boolean(j, path, "individual_digits", false));
  }
  if (type == "Sequence") {
    const auto& list = ctx.field(j, path, "pretokenizers");
    if (!list.is_array()) ctx.fail(path + ".pretokenizers", "must be an array");
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_pre_tokenizer(list[i], path + ".pretokenizers[" + std::to_string(i) + "]", ctx);
      if (p) steps.push_back(std::move(p));
    }
    return std::make_unique<SequencePre>(std::move(steps));
  }
  ctx.fail(path + ".type", "names the pre-tokenizer '" + type +
                               "', which is not supported (supported: ByteLevel, Split, Digits, "
                               "Sequence)");
}

}  // namespace shirg::tok
