#include "engine/tokenizer/bpe_model.h"

#include <atomic>
#include <cstdio>
#include <queue>

#include "engine/tokenizer/unicode_util.h"

namespace shirg::tok {
namespace {

uint64_t pair_key(uint32_t a, uint32_t b) {
  return (static_cast<uint64_t>(a) << 32) | b;
}

std::atomic<uint64_t> g_next_owner{1};

// Words longer than this are not cached (HF uses a similar bound).
constexpr size_t kMaxCachedWordBytes = 256;
constexpr size_t kMaxCacheEntries = 1 << 17;

struct WordCache {
  uint64_t owner = 0;
  std::unordered_map<std::string, std::vector<uint32_t>> map;
};
thread_local WordCache t_cache;

std::optional<std::string> opt_string(const nlohmann::json& j, const char* key,
                                      const std::string& path, const JsonCtx& ctx) {
  const auto* v = ctx.opt(j, key);
  if (!v || v->is_null()) return std::nullopt;
  return ctx.as_str(*v, path + "." + key);
}

}  // namespace

BpeModel::BpeModel(const nlohmann::json& j, const std::string& path, const JsonCtx& ctx)
    : cache_owner_(g_next_owner.fetch_add(1)) {
  if (const auto* d = ctx.opt(j, "dropout"); d && !d->is_null()) {
    if (!d->is_number() || d->get<double>() != 0.0) {
      ctx.fail(path + ".dropout", "must be null or 0 (BPE dropout is not supported)");
    }
  }
  unk_token_ = opt_string(j, "unk_token", path, ctx);
  prefix_ = opt_string(j, "continuing_subword_prefix", path, ctx);
  suffix_ = opt_string(j, "end_of_word_suffix", path, ctx);
  fuse_unk_ = ctx.boolean(j, path, "fuse_unk", false);
  byte_fallback_ = ctx.boolean(j, path, "byte_fallback", false);
  ignore_merges_ = ctx.boolean(j, path, "ignore_merges", false);

  const auto& vocab = ctx.field(j, path, "vocab");
  if (!vocab.is_object()) ctx.fail(path + ".vocab", "must be an object {token: id}");
  vocab_.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const int64_t id = ctx.integer(it.value(), path + ".vocab[\"" + it.key() + "\"]");
    vocab_[it.key()] = static_cast<uint32_t>(id);
    if (static_cast<size_t>(id) >= vocab_r_.size()) {
      vocab_r_.resize(id + 1);
      has_id_.resize(id + 1, false);
    }
    vocab_r_[id] = it.key();
    has_id_[id] = true;
  }
  if (unk_token_ && !vocab_.count(*unk_token_)) {
    ctx.fail(path + ".unk_token", "'" + *unk_token_ + "' is not in model.vocab");
  }

  const auto& merges = ctx.field(j, path, "merges");
  if (!merges.is_array()) ctx.fail(path + ".merges", "must be an array");
  const size_t prefix_len = prefix_ ? prefix_->size() : 0;
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& m = merges[rank];
    const std::string mp = path + ".merges[" + std::to_string(rank) + "]";
    std::string a, b;
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
        ctx.fail(mp, "must be two tokens separated by one space, got '" + s + "'");
      }
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      ctx.fail(mp, "must be a string \"a b\" or a pair [\"a\", \"b\"]");
    }
    const auto ia = vocab_.find(a);
    if (ia == vocab_.end()) ctx.fail(mp, "names token '" + a + "', which is not in model.vocab");
    const auto ib = vocab_.find(b);
    if (ib == vocab_.end()) ctx.fail(mp, "names token '" + b + "', which is not in model.vocab");
    if (b.size() < prefix_len) ctx.fail(mp, "right token is shorter than the subword prefix");
    const std::string merged = a + b.substr(prefix_len);
    const auto im = vocab_.find(merged);
    if (im == vocab_.end()) {
      ctx.fail(mp, "produces '" + merged + "', which is not in model.vocab");
    }
    merges_[pair_key(ia->second, ib->second)] = {static_cast<uint32_t>(rank), im->second};
  }
}

std::optional<int64_t> BpeModel::token_to_id(std::string_view token) const {
  const auto it = vocab_.find(std::string(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(int64_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_r_.size() || !has_id_[id]) return nullptr;
  return &vocab_r_[id];
}

void BpeModel::merge_word(const std::string& w, std::vector<uint32_t>& ids) const {
  struct Symbol {
    uint32_t id;
    int32_t prev, next;
    bool alive;
  };
  std::vector<Symbol> syms;
  syms.reserve(w.size());
  auto add = [&syms](uint32_t id) {
    const int32_t n = static_cast<int32_t>(syms.size());
    syms.push_back({id, n - 1, n + 1, true});
  };
  bool has_unk = false;  // a pending (possibly fused) unknown
  uint32_t unk = 0;
  std::string s;
  size_t i = 0;
  while (i < w.size()) {
    const size_t b = i;
    i += utf8_len(static_cast<unsigned char>(w[i]));
    if (i > w.size()) i = w.size();
    s.assign(w, b, i - b);
    if (prefix_ && b != 0) s.insert(0, *prefix_);
    if (suffix_ && i == w.size()) s += *suffix_;
    const auto it = vocab_.find(s);
    if (it != vocab_.end()) {
      if (has_unk) {
        add(unk);
        has_unk = false;
      }
      add(it->second);
      continue;
    }
    if (byte_fallback_) {
      std::vector<uint32_t> bytes;
      bool all = true;
      for (unsigned char c : s) {
        char code[8];
        std::snprintf(code, sizeof(code), "<0x%02X>", c);
        const auto bt = vocab_.find(code);
        if (bt == vocab_.end()) {
          all = false;
          break;
        }
        bytes.push_back(bt->second);
      }
      if (all) {
        for (uint32_t id : bytes) add(id);
        continue;
      }
    }
    if (unk_token_) {
      const uint32_t unk_id = vocab_.at(*unk_token_);
      if (has_unk && fuse_unk_) continue;  // fused into the pending unknown
      if (has_unk) add(unk);
      unk = unk_id;
      has_unk = true;
    }
  }
  if (has_unk) add(unk);
  if (!syms.empty()) syms.back().next = -1;

  struct Merge {
    uint32_t rank;
    int32_t pos;
    uint32_t new_id;
  };
  auto later = [](const Merge& x, const Merge& y) {
    return x.rank != y.rank ? x.rank > y.rank : x.pos > y.pos;
  };
  std::priority_queue<Merge, std::vector<Merge>, decltype(later)> queue(later);
  for (size_t k = 0; k + 1 < syms.size(); ++k) {
    const auto m = merges_.find(pair_key(syms[k].id, syms[k + 1].id));
    if (m != merges_.end()) queue.push({m->second.rank, static_cast<int32_t>(k), m->second.new_id});
  }
  while (!queue.empty()) {
    const Merge top = queue.top();
    queue.pop();
    Symbol& cur = syms[top.pos];
    if (!cur.alive || cur.next < 0) continue;
    const Symbol right = syms[cur.next];
    const auto m = merges_.find(pair_key(cur.id, right.id));
    if (m == merges_.end() || m->second.new_id != top.new_id) continue;
    cur.id = top.new_id;
    syms[cur.next].alive = false;
    cur.next = right.next;
    if (right.next >= 0) syms[right.next].prev = top.pos;
    if (cur.prev >= 0) {
      const auto pm = merges_.find(pair_key(syms[cur.prev].id, cur.id));
      if (pm != merges_.end()) queue.push({pm->second.rank, cur.prev, pm->second.new_id});
    }
    if (cur.next >= 0) {
      const auto nm = merges_.find(pair_key(cur.id, syms[cur.next].id));
      if (nm != merges_.end()) queue.push({nm->second.rank, top.pos, nm->second.new_id});
    }
  }
  for (const auto& sym : syms) {
    if (sym.alive) ids.push_back(sym.id);
  }
}

void BpeModel::tokenize(const std::string& word, std::vector<int64_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    const auto it = vocab_.find(word);
    if (it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    if (t_cache.owner != cache_owner_) {
      t_cache.map.clear();
      t_cache.owner = cache_owner_;
    }
    const auto hit = t_cache.map.find(word);
    if (hit != t_cache.map.end()) {
      out.insert(out.end(), hit->second.begin(), hit->second.end());
      return;
    }
  }
  std::vector<uint32_t> ids;
  merge_word(word, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    if (t_cache.map.size() >= kMaxCacheEntries) t_cache.map.clear();
    t_cache.map.emplace(word, std::move(ids));
  }
}

}  // namespace shirg::tok
