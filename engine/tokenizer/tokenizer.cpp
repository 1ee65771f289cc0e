#include "engine/tokenizer/tokenizer.h"

#include <fstream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/added_vocab.h"
#include "engine/tokenizer/bpe_model.h"
#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/json_fields.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/post_processor.h"
#include "engine/tokenizer/pre_tokenizer.h"
#include "engine/tokenizer/unicode_util.h"

namespace shirg::tok {

struct Tokenizer::Impl {
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<BpeModel> model;
  std::unique_ptr<PostProcessor> post_processor;
  bool byte_level_decoder = false;

  std::vector<AddedToken> added;  // in file order
  std::unordered_map<std::string, int64_t> added_by_content;
  std::unordered_map<int64_t, size_t> added_by_id;  // id -> index into added
  AddedMatcher raw_matcher, normalized_matcher;

  std::vector<std::string> decode_pieces;  // per id; empty + !known -> unknown id
  std::vector<bool> known;
  std::vector<bool> special;
  int64_t vocab_size = 0;

  void load(const nlohmann::json& doc, const JsonCtx& ctx);
  void encode_plain(std::string text, std::vector<int64_t>& out) const;
};

namespace {

// ByteLevel decoder's view of one token: each char mapped back to its byte, or, if some char
// is not in the byte map, the token's own UTF-8 bytes.
std::string byte_level_piece(const std::string& token) {
  std::string bytes;
  size_t i = 0;
  while (i < token.size()) {
    const int b = unicode_to_byte(next_code_point(token, i));
    if (b < 0) return token;
    bytes.push_back(static_cast<char>(b));
  }
  return bytes;
}

}  // namespace

void Tokenizer::Impl::load(const nlohmann::json& doc, const JsonCtx& ctx) {
  if (!doc.is_object()) ctx.fail("<root>", "must be a JSON object");
  for (const char* unsupported : {"truncation", "padding"}) {
    const auto* v = ctx.opt(doc, unsupported);
    if (v && !v->is_null()) ctx.fail(unsupported, "must be null (not supported)");
  }
  const auto& model_json = ctx.field(doc, "", "model");
  const std::string model_type =
      ctx.opt(model_json, "type") ? ctx.str(model_json, "model", "type") : "BPE";
  if (model_type != "BPE") {
    ctx.fail("model.type", "names the model '" + model_type +
                               "', which is not supported "
                               "(supported: BPE)");
  }
  model = std::make_unique<BpeModel>(model_json, "model", ctx);

  const nlohmann::json null_json;
  auto get = [&](const char* key) -> const nlohmann::json& {
    const auto* v = ctx.opt(doc, key);
    return v ? *v : null_json;
  };
  normalizer = make_normalizer(get("normalizer"), "normalizer", ctx);
  pre_tokenizer = make_pre_tokenizer(get("pre_tokenizer"), "pre_tokenizer", ctx);
  post_processor = make_post_processor(get("post_processor"), "post_processor", ctx);
  const auto& dec = get("decoder");
  if (!dec.is_null()) {
    const std::string type = ctx.str(dec, "decoder", "type");
    if (type != "ByteLevel") {
      ctx.fail("decoder.type",
               "names the decoder '" + type + "', which is not supported (supported: ByteLevel)");
    }
    byte_level_decoder = true;
  }

  // Added tokens, with HF's id assignment.
  const auto& list = get("added_tokens");
  if (!list.is_null() && !list.is_array()) ctx.fail("added_tokens", "must be an array");
  const int64_t model_entries = static_cast<int64_t>(model->vocab_entries());
  int64_t max_added = -1;
  for (size_t i = 0; list.is_array() && i < list.size(); ++i) {
    const std::string p = "added_tokens[" + std::to_string(i) + "]";
    const auto& t = list[i];
    AddedToken tok;
    tok.content = ctx.str(t, p, "content");
    const int64_t file_id = ctx.integer(ctx.field(t, p, "id"), p + ".id");
    tok.special = ctx.boolean(t, p, "special", false);
    tok.lstrip = ctx.boolean(t, p, "lstrip", false);
    tok.rstrip = ctx.boolean(t, p, "rstrip", false);
    tok.single_word = ctx.boolean(t, p, "single_word", false);
    tok.normalized = ctx.boolean(t, p, "normalized", !tok.special);
    if (tok.content.empty()) continue;  // HF ignores empty added tokens
    if (find_invalid_utf8(tok.content) != std::string::npos) {
      ctx.fail(p + ".content", "is not valid UTF-8");
    }
    int64_t id;
    if (const auto a = added_by_content.find(tok.content); a != added_by_content.end()) {
      id = a->second;
    } else if (const auto m = model->token_to_id(tok.content)) {
      id = *m;
    } else if (max_added < 0) {
      id = model_entries;
    } else {
      id = (max_added >= model_entries || model_entries == 0) ? max_added + 1 : model_entries;
    }
    if (id != file_id) {
      ctx.fail(p + ".id", "is " + std::to_string(file_id) +
                              " but Hugging Face tokenizers would "
                              "assign " +
                              std::to_string(id) + " to '" + tok.content +
                              "' (added-token ids must follow the model vocab without gaps)");
    }
    tok.id = id;
    max_added = std::max(max_added, id);
    added_by_content[tok.content] = id;
    if (const auto prev = added_by_id.find(id); prev != added_by_id.end()) {
      added[prev->second] = tok;  // same content again: the later flags win
    } else {
      added_by_id[id] = added.size();
      added.push_back(tok);
    }
  }
  std::vector<const AddedToken*> raw, norm;
  std::vector<std::string> raw_pat, norm_pat;
  for (const auto& t : added) {
    if (t.normalized) {
      std::string n = t.content;
      if (normalizer) normalizer->normalize(n);
      norm.push_back(&t);
      norm_pat.push_back(n);
    } else {
      raw.push_back(&t);
      raw_pat.push_back(t.content);
    }
  }
  raw_matcher.build(raw, raw_pat);
  normalized_matcher.build(norm, norm_pat);

  // Per-id decode pieces.
  vocab_size = model->max_id() + 1;
  for (const auto& t : added) vocab_size = std::max(vocab_size, t.id + 1);
  decode_pieces.assign(vocab_size, std::string());
  known.assign(vocab_size, false);
  special.assign(vocab_size, false);
  for (int64_t id = 0; id <= model->max_id(); ++id) {
    if (const std::string* s = model->id_to_token(id)) {
      decode_pieces[id] = byte_level_decoder ? byte_level_piece(*s) : *s;
      known[id] = true;
    }
  }
  for (const auto& t : added) {
    decode_pieces[t.id] = byte_level_decoder ? byte_level_piece(t.content) : t.content;
    known[t.id] = true;
    special[t.id] = t.special;
  }
}

void Tokenizer::Impl::encode_plain(std::string text, std::vector<int64_t>& out) const {
  // Normalize, then cut out added tokens that match in normalized form.
  if (normalizer) normalizer->normalize(text);
  std::vector<AddedSplit> cuts;
  if (normalized_matcher.empty()) {
    cuts.push_back({0, text.size(), -1});
  } else {
    normalized_matcher.find(text, cuts);
  }
  std::vector<std::string> pieces;
  for (const auto& c : cuts) {
    if (c.end <= c.begin) continue;
    if (c.id >= 0) {
      out.push_back(c.id);
      continue;
    }
    pieces.clear();
    pieces.emplace_back(text, c.begin, c.end - c.begin);
    if (pre_tokenizer) pre_tokenizer->split(pieces);
    for (const auto& p : pieces) model->tokenize(p, out);
  }
}

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;

std::shared_ptr<const Tokenizer> Tokenizer::from_json(const std::string& json_text,
                                                      const std::string& label) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw TokenizerError(label + ": not valid JSON: " + e.what());
  }
  std::shared_ptr<Tokenizer> tok(new Tokenizer());
  tok->impl_->load(doc, JsonCtx{label});
  return tok;
}

std::shared_ptr<const Tokenizer> Tokenizer::from_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw TokenizerError(path + ": cannot open tokenizer file");
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw TokenizerError(path + ": read error");
  return from_json(ss.str(), path);
}

std::vector<int64_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const size_t bad = find_invalid_utf8(text);
  if (bad != std::string_view::npos) {
    throw TokenizerError("text is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
  }
  const Impl& im = *impl_;
  std::vector<int64_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (im.raw_matcher.empty()) {
    im.encode_plain(std::string(text), ids);
  } else {
    std::vector<AddedSplit> cuts;
    im.raw_matcher.find(text, cuts);
    for (const auto& c : cuts) {
      if (c.id >= 0) {
        ids.push_back(c.id);
      } else if (c.end > c.begin) {
        im.encode_plain(std::string(text.substr(c.begin, c.end - c.begin)), ids);
      }
    }
  }
  if (add_special_tokens && im.post_processor) im.post_processor->add_special_tokens(ids);
  return ids;
}

const std::string* Tokenizer::decode_piece(int64_t id, bool skip_special) const {
  const Impl& im = *impl_;
  if (id < 0 || id >= im.vocab_size || !im.known[id]) return nullptr;
  if (skip_special && im.special[id]) return nullptr;
  return &im.decode_pieces[id];
}

bool Tokenizer::joins_with_space() const {
  return !impl_->byte_level_decoder;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  std::string bytes;
  bool first = true;
  for (const int64_t id : ids) {
    const std::string* p = decode_piece(id, skip_special_tokens);
    if (!p) continue;
    if (!first && joins_with_space()) bytes += ' ';
    bytes += *p;
    first = false;
  }
  return joins_with_space() ? bytes : utf8_lossy(bytes);
}

std::optional<int64_t> Tokenizer::token_to_id(std::string_view token) const {
  const auto it = impl_->added_by_content.find(std::string(token));
  if (it != impl_->added_by_content.end()) return it->second;
  return impl_->model->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(int64_t id) const {
  const auto it = impl_->added_by_id.find(id);
  if (it != impl_->added_by_id.end()) return impl_->added[it->second].content;
  if (const std::string* s = impl_->model->id_to_token(id)) return *s;
  return std::nullopt;
}

int64_t Tokenizer::vocab_size() const {
  return impl_->vocab_size;
}

bool Tokenizer::is_special(int64_t id) const {
  return id >= 0 && id < impl_->vocab_size && impl_->special[id];
}

IncrementalDecoder::IncrementalDecoder(const Tokenizer& tok, bool skip_special_tokens)
    : tok_(tok), skip_special_(skip_special_tokens) {}

std::string IncrementalDecoder::push(int64_t id) {
  const std::string* p = tok_.decode_piece(id, skip_special_);
  if (!p) return {};
  if (any_ && tok_.joins_with_space()) pending_ += ' ';
  pending_ += *p;
  any_ = true;
  const size_t hold = incomplete_utf8_tail(pending_);
  std::string out = utf8_lossy(std::string_view(pending_).substr(0, pending_.size() - hold));
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string IncrementalDecoder::flush() {
  std::string out = utf8_lossy(pending_);
  pending_.clear();
  return out;
}

}  // namespace shirg::tok
