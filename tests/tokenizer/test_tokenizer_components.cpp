// Component behaviour on hand-built tokenizers, with expected pieces derived by hand from the
// Hugging Face semantics (the same configurations are also compared with HF itself in the
// integration test test_tokenizer_components_hf.cpp).
#include "tests/common/catch.h"

#include "engine/tokenizer/pre_tokenizer.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode_util.h"
#include "tests/tokenizer/hf_reference.h"

using namespace shirg::tok;
using namespace shirg::tok::testing;
using nlohmann::json;
using Pieces = std::vector<std::string>;

namespace {

json words_doc() {
  return make_bpe_doc(
      {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"1", "2"}, {"12", "3"}});
}

Pieces encode_pieces(const json& doc, const std::string& text, bool add_special = false) {
  const auto tok = Tokenizer::from_json(doc.dump(), "unit");
  return pieces(*tok, tok->encode(text, add_special));
}

json with_split(json doc, const std::string& regex, const std::string& behavior, bool invert) {
  doc["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       json::array({{{"type", "Split"},
                     {"pattern", {{"Regex", regex}}},
                     {"behavior", behavior},
                     {"invert", invert}},
                    {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
  return doc;
}

}  // namespace

TEST_CASE("NFC normalizer composes combining marks before the model") {
  json doc = words_doc();
  const std::string decomposed = "e\xcc\x81";  // e + U+0301
  // make_bpe_doc gives byte b the id b.
  CHECK(Tokenizer::from_json(doc.dump(), "u")->encode(decomposed) ==
        std::vector<int64_t>{0x65, 0xcc, 0x81});
  doc["normalizer"] = {{"type", "NFC"}};
  CHECK(Tokenizer::from_json(doc.dump(), "u")->encode(decomposed) ==
        std::vector<int64_t>{0xc3, 0xa9});                      // U+00E9
  CHECK(nfc("A\xcc\x8a") == "\xc3\x85");                        // A + ring -> Å
  CHECK(nfc("o\xcc\x82\xcc\xa3") == nfc("o\xcc\xa3\xcc\x82"));  // canonical reordering
}

TEST_CASE("Split behaviours cut around the matches like HF") {
  // Pattern "-" on "a-b--c": runs a | - | b | - | - | c
  const std::string s = "a-b--c";
  auto cut = [&](SplitBehavior b) {
    std::vector<MatchRun> runs = {{0, 1, false}, {1, 2, true}, {2, 3, false},
                                  {3, 4, true},  {4, 5, true}, {5, 6, false}};
    std::vector<std::string> out;
    split_by_runs(s, runs, b, out);
    return out;
  };
  CHECK(cut(SplitBehavior::kRemoved) == Pieces{"a", "b", "c"});
  CHECK(cut(SplitBehavior::kIsolated) == Pieces{"a", "-", "b", "-", "-", "c"});
  // Each match merges into its neighbour only if the previous run was not a match (HF).
  CHECK(cut(SplitBehavior::kMergedWithPrevious) == Pieces{"a-", "b-", "-", "c"});
  CHECK(cut(SplitBehavior::kMergedWithNext) == Pieces{"a", "-b", "-", "-c"});
  CHECK(cut(SplitBehavior::kContiguous) == Pieces{"a", "-", "b", "--", "c"});

  const json base = words_doc();
  CHECK(encode_pieces(with_split(base, "\\s+", "Removed", false), "hello  hello") ==
        Pieces{"hello", "hello"});
  // invert: the matches become the non-matching runs, so Removed keeps only the spaces.
  CHECK(encode_pieces(with_split(base, "\\s+", "Removed", true), "hello  hello") ==
        Pieces{" ", " "});
  CHECK(encode_pieces(with_split(base, "l", "Isolated", true), "hello") ==
        Pieces{"he", "l", "l", "o"});
}

TEST_CASE("Digits pre-tokenizer: individual and contiguous") {
  json doc = words_doc();
  auto digits = [&](bool individual) {
    doc["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers",
         json::array(
             {{{"type", "Digits"}, {"individual_digits", individual}},
              {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
    return encode_pieces(doc, "x123y");
  };
  CHECK(digits(false) == Pieces{"x", "123", "y"});
  CHECK(digits(true) == Pieces{"x", "1", "2", "3", "y"});
}

TEST_CASE("added tokens honour lstrip rstrip single_word and normalized") {
  auto run = [](bool lstrip, bool rstrip, bool single_word, const std::string& text) {
    json doc = words_doc();
    doc["pre_tokenizer"] = {
        {"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}};
    add_token(doc, "[M]", true, lstrip, rstrip, single_word, false);
    return encode_pieces(doc, text);
  };
  CHECK(run(false, false, false, "a [M] b") == Pieces{"a", " ", "[M]", " ", "b"});
  CHECK(run(true, false, false, "a  [M] b") == Pieces{"a", "[M]", " ", "b"});  // spaces eaten
  CHECK(run(false, true, false, "a [M]  b") == Pieces{"a", " ", "[M]", "b"});
  CHECK(run(false, false, true, "x[M]y") == Pieces{"x", "[", "M", "]", "y"});  // not a word
  CHECK(run(false, false, true, "x [M] y") == Pieces{"x", " ", "[M]", " ", "y"});

  json doc = words_doc();
  doc["normalizer"] = {{"type", "NFC"}};
  const int64_t id = add_token(doc, "e\xcc\x81", false, false, false, false, true);  // normalized
  const auto tok = Tokenizer::from_json(doc.dump(), "unit");
  CHECK(tok->encode("caf\xc3\xa9")[3] == id);  // matches the NFC form
  CHECK(tok->encode("cafe\xcc\x81")[3] == id);
  CHECK_FALSE(tok->is_special(id));
  // Not special: kept by skip_special_tokens, decoded as its content.
  CHECK(tok->decode(tok->encode("cafe\xcc\x81"), true) == "cafe\xcc\x81");
}

TEST_CASE(
    "special added tokens are matched in text and skipped on request and added by the "
    "post-processor") {
  json doc = words_doc();
  const int64_t bos = add_token(doc, "<s>", true);
  const int64_t eot = add_token(doc, "<|eot_id|>", true);
  doc["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
      {"pair", json::array()},
      {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {bos}}, {"tokens", {"<s>"}}}}}}};
  const auto tok = Tokenizer::from_json(doc.dump(), "unit");
  const auto ids = tok->encode("hello<|eot_id|>");
  CHECK(ids.back() == eot);
  CHECK(tok->encode("hello", true).front() == bos);
  CHECK(tok->encode("hello", false).front() != bos);
  CHECK(tok->decode(ids, false) == "hello<|eot_id|>");
  CHECK(tok->decode(ids, true) == "hello");
  CHECK(tok->is_special(eot));
  CHECK(tok->token_to_id("<|eot_id|>") == eot);
  CHECK(tok->id_to_token(eot) == std::string("<|eot_id|>"));
  CHECK(tok->vocab_size() == eot + 1);
}

TEST_CASE("byte_fallback and ignore_merges") {
  json vocab = {{"<unk>", 0}, {"a", 1},      {"b", 2},     {"ab", 3},
                {"abab", 4},  {"<0xC3>", 5}, {"<0xA9>", 6}};
  json model = {{"type", "BPE"},         {"vocab", vocab},       {"merges", json::array({"a b"})},
                {"byte_fallback", true}, {"unk_token", "<unk>"}, {"ignore_merges", false}};
  json doc = {{"model", model}, {"pre_tokenizer", nullptr}, {"decoder", nullptr}};
  auto ids = [&](const std::string& t) { return Tokenizer::from_json(doc.dump(), "u")->encode(t); };
  CHECK(ids("ab\xc3\xa9") == std::vector<int64_t>{3, 5, 6});  // é -> <0xC3> <0xA9>
  CHECK(ids("abz") == std::vector<int64_t>{3, 0});            // no <0x7A>: unk
  CHECK(ids("abab") == std::vector<int64_t>{3, 3});
  doc["model"]["ignore_merges"] = true;
  CHECK(ids("abab") == std::vector<int64_t>{4});  // whole word from the vocab
}
