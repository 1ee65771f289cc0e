// Bad input, UTF-8 helpers, the streaming decoder and the trainer.
#include "tests/common/catch.h"

#include "engine/tokenizer/bpe_trainer.h"
#include "engine/tokenizer/regex.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode_util.h"
#include "tests/tokenizer/hf_reference.h"

using namespace shirg::tok;
using namespace shirg::tok::testing;
using nlohmann::json;

namespace {

std::string load_error(const json& doc) {
  try {
    Tokenizer::from_json(doc.dump(), "test.json");
  } catch (const TokenizerError& e) {
    return e.what();
  }
  return "";
}

json small_doc() {
  return make_bpe_doc({{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}});
}

}  // namespace

TEST_CASE("invalid UTF-8 is rejected with its byte offset") {
  const auto tok = Tokenizer::from_json(small_doc().dump(), "small");
  CHECK_THROWS_WITH(tok->encode("ab\xff"), "text is not valid UTF-8 (byte offset 2)");
  CHECK_THROWS_WITH(tok->encode("\xc3("), Catch::Matchers::ContainsSubstring("byte offset 0"));
  CHECK_THROWS_WITH(tok->encode("ok\xed\xa0\x80"),
                    Catch::Matchers::ContainsSubstring("byte offset 2"));  // surrogate
  CHECK_THROWS_WITH(tok->encode("x\xe0\x80\x80"),
                    Catch::Matchers::ContainsSubstring("byte offset 1"));  // overlong
  CHECK_THROWS_WITH(tok->encode("\xf4\x90\x80\x80"),
                    Catch::Matchers::ContainsSubstring("byte offset 0"));
  CHECK_NOTHROW(tok->encode("h\xc3\xa9llo \xf0\x9f\x99\x82"));
  CHECK(find_invalid_utf8("abc") == std::string_view::npos);
}

TEST_CASE("malformed tokenizer.json fails at load naming the field") {
  CHECK_THROWS_WITH(Tokenizer::from_json("{not json", "bad.json"),
                    Catch::Matchers::ContainsSubstring("bad.json: not valid JSON"));
  CHECK_THROWS_WITH(Tokenizer::from_file("/nonexistent/tokenizer.json"),
                    Catch::Matchers::ContainsSubstring("cannot open"));
  json d = small_doc();
  d.erase("model");
  CHECK_THAT(load_error(d), Catch::Matchers::ContainsSubstring("field 'model' is missing"));
  d = small_doc();
  d["model"]["merges"][2] = "only_one_part";
  CHECK_THAT(load_error(d), Catch::Matchers::ContainsSubstring("'model.merges[2]'"));
  d = small_doc();
  d["model"]["merges"].push_back("zz qq");
  CHECK_THAT(load_error(d), Catch::Matchers::ContainsSubstring("model.merges[4]") &&
                                Catch::Matchers::ContainsSubstring("not in model.vocab"));
  d = small_doc();
  d["model"]["vocab"]["x"] = "seven";
  CHECK_THAT(load_error(d), Catch::Matchers::ContainsSubstring("model.vocab[\"x\"]") &&
                                Catch::Matchers::ContainsSubstring("integer"));
  d = small_doc();
  d["added_tokens"] = json::array({{{"id", 3}, {"content", "<x>"}}});
  CHECK_THAT(load_error(d), Catch::Matchers::ContainsSubstring("added_tokens[0].id"));
  d = small_doc();
  d["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  CHECK_THAT(load_error(d), Catch::Matchers::ContainsSubstring("pre_tokenizer.pattern.Regex") &&
                                Catch::Matchers::ContainsSubstring("does not compile"));
  d = small_doc();
  d["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "a"}}}, {"behavior", "Sideways"}};
  CHECK_THAT(load_error(d), Catch::Matchers::ContainsSubstring("pre_tokenizer.behavior"));
  // A huge id is refused before any per-id table is allocated (it would need gigabytes).
  d = small_doc();
  d["model"]["vocab"]["huge"] = 50000000;
  CHECK_THAT(load_error(d),
             Catch::Matchers::ContainsSubstring("model.vocab[\"huge\"]") &&
                 Catch::Matchers::ContainsSubstring("must be a token id in [0, 16777216)"));
  d = small_doc();
  d["added_tokens"] = json::array({{{"id", 50000000}, {"content", "<big>"}}});
  CHECK_THAT(load_error(d),
             Catch::Matchers::ContainsSubstring("added_tokens[0].id") &&
                 Catch::Matchers::ContainsSubstring("must be a token id in [0, 16777216)"));
  d = small_doc();
  d["truncation"] = {{"max_length", 5}};
  CHECK_THAT(load_error(d), Catch::Matchers::ContainsSubstring("'truncation'"));
}

TEST_CASE("unsupported components are named at load") {
  json d = small_doc();
  d["normalizer"] = {{"type", "BertNormalizer"}};
  CHECK_THAT(load_error(d), Catch::Matchers::ContainsSubstring("normalizer.type") &&
                                Catch::Matchers::ContainsSubstring("BertNormalizer"));
  d = small_doc();
  d["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers", json::array({{{"type", "Metaspace"}}})}};
  CHECK_THAT(load_error(d),
             Catch::Matchers::ContainsSubstring("pre_tokenizer.pretokenizers[0].type") &&
                 Catch::Matchers::ContainsSubstring("Metaspace"));
  d = small_doc();
  d["model"]["type"] = "WordPiece";
  CHECK_THAT(load_error(d), Catch::Matchers::ContainsSubstring("model.type") &&
                                Catch::Matchers::ContainsSubstring("WordPiece"));
  d = small_doc();
  d["decoder"] = {{"type", "WordPiece"}};
  CHECK_THAT(load_error(d), Catch::Matchers::ContainsSubstring("decoder.type") &&
                                Catch::Matchers::ContainsSubstring("WordPiece"));
  d = small_doc();
  d["post_processor"] = {{"type", "Mystery"}};
  CHECK_THAT(load_error(d), Catch::Matchers::ContainsSubstring("post_processor.type") &&
                                Catch::Matchers::ContainsSubstring("Mystery"));
  d = small_doc();
  d["model"]["dropout"] = 0.1;
  CHECK_THAT(load_error(d), Catch::Matchers::ContainsSubstring("model.dropout"));
}

TEST_CASE("utf8_lossy and the incomplete tail follow Rust's from_utf8_lossy") {
  CHECK(utf8_lossy("abc") == "abc");
  CHECK(utf8_lossy("a\xff"
                   "b") ==
        "a\xEF\xBF\xBD"
        "b");
  CHECK(utf8_lossy("\xe2\x82") == "\xEF\xBF\xBD");  // one maximal subpart
  CHECK(utf8_lossy("\xe2\x82z") == "\xEF\xBF\xBDz");
  CHECK(utf8_lossy("\xe0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // E0 80 is not a prefix
  CHECK(utf8_lossy("\xf0\x9f\x99") == "\xEF\xBF\xBD");
  CHECK(incomplete_utf8_tail("ab\xf0\x9f\x99") == 3);
  CHECK(incomplete_utf8_tail("ab\xf0\x9f") == 2);
  CHECK(incomplete_utf8_tail("ab\xc3") == 1);
  CHECK(incomplete_utf8_tail("ab\xc3\xa9") == 0);
  CHECK(incomplete_utf8_tail("ab\xe0\x80") == 0);  // already invalid: emit now
}

TEST_CASE("IncrementalDecoder never emits half a character and equals decode()") {
  const auto tok = Tokenizer::from_json(small_doc().dump(), "small");
  const std::string text = "hello \xf0\x9f\x99\x82 caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac";
  const auto ids = tok->encode(text);
  IncrementalDecoder inc(*tok, false);
  std::string all;
  for (const int64_t id : ids) {
    const std::string piece = inc.push(id);
    CHECK(find_invalid_utf8(piece) == std::string_view::npos);
    all += piece;
  }
  all += inc.flush();
  CHECK(all == text);
  CHECK(all == tok->decode(ids, false));
  // A dangling lead byte is flushed as U+FFFD, like decode().
  IncrementalDecoder inc2(*tok, false);
  const int64_t f0 = *tok->token_to_id("\xc3\xb0");  // byte 0xF0 in GPT-2's mapping ("ð")
  CHECK(inc2.push(f0).empty());
  CHECK(inc2.flush() == "\xEF\xBF\xBD");
  CHECK(tok->decode({f0}, false) == "\xEF\xBF\xBD");
  // Unknown ids are dropped, as in HF.
  CHECK(tok->decode({ids[0], 999999, ids[1]}, false) == tok->decode({ids[0], ids[1]}, false));
}

TEST_CASE("Oniguruma whitespace and word classes are translated to their Unicode definitions") {
  CHECK(translate_onig_pattern("\\s+(?!\\S)") ==
        "[\\t-\\r\\x{85}\\p{Z}]+(?![^\\t-\\r\\x{85}\\p{Z}])");
  CHECK(translate_onig_pattern("[^\\s\\p{L}]") == "[^\\t-\\r\\x{85}\\p{Z}\\p{L}]");
  const Regex re("\\s+");
  std::vector<std::pair<size_t, size_t>> m;
  re.find_all("a\u180eb\u3000c", m);  // U+180E is not White_Space any more; U+3000 is
  REQUIRE(m.size() == 1);
  CHECK(m[0].first == 5);  // 'a' + 3-byte U+180E + 'b'
}

TEST_CASE("train_byte_level_bpe is deterministic and well-formed") {
  const std::string corpus =
      "the cat sat on the mat. the cat ate the rat. <|eot_id|> 12345 12345 caf\xc3\xa9 "
      "caf\xc3\xa9\n";
  const auto a = train_byte_level_bpe(corpus, 300, {"<|eot_id|>", "<|mdm_mask|>"});
  const auto b = train_byte_level_bpe(corpus, 300, {"<|eot_id|>", "<|mdm_mask|>"});
  CHECK(a.dump() == b.dump());
  CHECK(a["model"]["vocab"].size() + a["added_tokens"].size() <= 300);
  CHECK(a["model"]["vocab"].size() > 256);
  CHECK(a["added_tokens"][0]["content"] == "<|eot_id|>");
  CHECK(a["added_tokens"][0]["id"] == a["model"]["vocab"].size());
  CHECK(a["model"]["vocab"]["\xc4\xa0"] == 32);  // "Ġ" (space) is byte 32 -> id 32
  // The special string in the corpus was not learned as merges.
  CHECK_FALSE(a["model"]["vocab"].contains("<|"));
  const auto tok = Tokenizer::from_json(a.dump(), "trained");
  CHECK(tok->vocab_size() == static_cast<int64_t>(a["model"]["vocab"].size()) + 2);
  CHECK(tok->is_special(*tok->token_to_id("<|eot_id|>")));
  CHECK(tok->decode(tok->encode(corpus), false) == corpus);
  CHECK(tok->encode("the cat").size() < 7);  // merges were learned
  CHECK_THROWS_AS(train_byte_level_bpe(corpus, 100, {}), TokenizerError);
  CHECK_THROWS_AS(train_byte_level_bpe("ok\xff", 300, {}), TokenizerError);
  CHECK_THROWS_AS(train_byte_level_bpe(corpus, 300, {"<a>", "<a>"}), TokenizerError);
}
