// Every supported tokenizer.json component, alone and combined, checked against Hugging Face
// tokenizers (node) on probe strings plus a slice of the conformance corpus.
#include <cstdio>
#include <iostream>

#include "tests/common/catch.h"

#include "engine/tokenizer/tokenizer.h"
#include "tests/tokenizer/hf_reference.h"

using namespace shirg::tok;
using namespace shirg::tok::testing;
using nlohmann::json;

namespace {

std::vector<std::string> probes() {
  std::vector<std::string> p = {"",
                                " ",
                                "hello world",
                                "hello  world  ",
                                "  hello",
                                "a-b--c---d",
                                "x - y -- z",
                                "2024-05-17 12:30",
                                "abc123def4567",
                                "١٢٣ and ¾ and 42",
                                "e\u0301te\u0301",
                                "cafe\u0301 café",
                                "[MARK]",
                                "a[MARK]b",
                                " [MARK] ",
                                "x  [MARK]  y",
                                "[MARK][MARK]",
                                "word[MARK]word",
                                "<s>hello</s>",
                                " <s> hi </s> ",
                                "hi<s>",
                                "ab abc abcab",
                                "hello hellohello",
                                "日本語 テキスト",
                                "👨‍👩‍👧 ok",
                                "tab\there\nnew line\r\n",
                                "\u00a0nbsp\u3000ideo",
                                "ǅ ſ K",
                                "don't I'LL we'VE",
                                "<|eot_id|>text<|eot_id|>",
                                "é\u0301",
                                "Ae\u0301\u0323",
                                "[mark]",
                                "the [MARK]s",
                                "_[MARK]_",
                                "é[MARK]é"};
  const auto corpus = read_jsonl_corpus(make_conformance_corpus(20000));
  for (size_t i = 0; i < corpus.size(); i += 97) p.push_back(corpus[i]);
  return p;
}

// Merges that build a few whole words so ids differ visibly between splits.
json base_doc() {
  return make_bpe_doc({{"h", "e"},     {"l", "l"}, {"he", "ll"}, {"hell", "o"},
                       {" ", "w"},     {"o", "r"}, {" w", "or"}, {" wor", "l"},
                       {" worl", "d"}, {"a", "b"}, {"ab", "c"},  {"1", "2"},
                       {"12", "3"},    {" ", " "}, {"  ", " "},  {"\xc3", "\xa9"},
                       {"-", "-"},     {"w", "o"}, {"wo", "r"},  {"wor", "d"}});
}

void check_doc(const json& doc, const std::string& name, const std::vector<std::string>& texts) {
  const std::string path = scratch_dir() + "/component_" + name + ".tokenizer.json";
  write_file(path, doc.dump());
  const auto ref = hf_encode(path, texts);
  const auto tok = Tokenizer::from_file(path);
  const auto st = compare_with_hf(*tok, texts, ref, name);
  INFO("component variant " << name);
  CHECK(st.id_mismatches == 0);
  CHECK(st.decode_mismatches == 0);
  CHECK(st.roundtrip_failures == 0);
  CHECK(st.stream_mismatches == 0);
}

json byte_level_no_regex() {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", false},
          {"trim_offsets", true},
          {"use_regex", false}};
}

}  // namespace

TEST_CASE("components vs HF: Split behaviors with invert and String or Regex patterns") {
  require_node_refs();
  const auto texts = probes();
  const std::vector<std::string> behaviors = {"Removed", "Isolated", "MergedWithPrevious",
                                              "MergedWithNext", "Contiguous"};
  for (const auto& b : behaviors) {
    for (const bool invert : {false, true}) {
      for (const bool regex : {true, false}) {
        json doc = base_doc();
        json pattern = regex ? json{{"Regex", "\\s+|\\p{N}{1,2}"}} : json{{"String", "-"}};
        doc["pre_tokenizer"] = {
            {"type", "Sequence"},
            {"pretokenizers",
             json::array(
                 {{{"type", "Split"}, {"pattern", pattern}, {"behavior", b}, {"invert", invert}},
                  byte_level_no_regex()})}};
        check_doc(doc, "split_" + b + (invert ? "_inv" : "") + (regex ? "_re" : "_str"), texts);
      }
    }
  }
}

TEST_CASE("components vs HF: Digits and ByteLevel prefix space and normalizers") {
  require_node_refs();
  const auto texts = probes();
  for (const bool individual : {false, true}) {
    json doc = base_doc();
    doc["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", individual}},
                                       byte_level_no_regex()})}};
    check_doc(doc, individual ? "digits_individual" : "digits_contiguous", texts);
  }
  {
    json doc = base_doc();
    doc["pre_tokenizer"]["add_prefix_space"] = true;
    add_token(doc, "[MARK]", true);
    check_doc(doc, "bytelevel_prefix_space", texts);
  }
  for (const char* form : {"NFC", "NFD", "NFKC", "NFKD"}) {
    json doc = base_doc();
    doc["normalizer"] = {{"type", form}};
    check_doc(doc, std::string("normalizer_") + form, texts);
  }
  {
    json doc = base_doc();
    doc["normalizer"] = {
        {"type", "Sequence"},
        {"normalizers",
         json::array({{{"type", "NFC"}},
                      {{"type", "Replace"}, {"pattern", {{"String", "ab"}}}, {"content", "X"}},
                      {{"type", "Replace"}, {"pattern", {{"Regex", "\\d+"}}}, {"content", "#"}},
                      {{"type", "Prepend"}, {"prepend", "_"}}})}};
    check_doc(doc, "normalizer_sequence", texts);
  }
}

TEST_CASE("components vs HF: added tokens with lstrip rstrip single_word normalized special") {
  require_node_refs();
  const auto texts = probes();
  struct Flags {
    const char* name;
    bool special, lstrip, rstrip, single_word, normalized;
  };
  const Flags variants[] = {{"plain", true, false, false, false, false},
                            {"nonspecial", false, false, false, false, false},
                            {"lstrip", true, true, false, false, false},
                            {"rstrip", true, false, true, false, false},
                            {"lrstrip", false, true, true, false, false},
                            {"single_word", true, false, false, true, false},
                            {"normalized", false, false, false, false, true},
                            {"normalized_special", true, true, true, false, true}};
  for (const auto& f : variants) {
    json doc = base_doc();
    doc["normalizer"] = {{"type", "NFC"}};
    add_token(doc, "[MARK]", f.special, f.lstrip, f.rstrip, f.single_word, f.normalized);
    add_token(doc, "<s>", true);
    add_token(doc, "</s>", false, false, false, false, true);
    add_token(doc, "e\u0301t", false, false, false, false, true);  // normalized form "ét"
    add_token(doc, "hello", false);  // also reachable by merges: the added token must win
    check_doc(doc, std::string("added_") + f.name, texts);
  }
}

TEST_CASE("components vs HF: byte_fallback unk fuse_unk ignore_merges and subword affixes") {
  require_node_refs();
  const auto texts = probes();
  // A character-level (not byte-level) BPE with <0xXX> byte tokens.
  json vocab = json::object();
  int64_t id = 0;
  vocab["<unk>"] = id++;
  for (int b = 0; b < 256; ++b) {
    char code[8];
    std::snprintf(code, sizeof(code), "<0x%02X>", b);
    vocab[code] = id++;
  }
  for (const char* s :
       {"a", "b", "c", "h", "e", "l", "o", "ab", "abc", "he", "ll", "hell", "hello", "é", "日"}) {
    vocab[s] = id++;
  }
  const json merges = json::array({"a b", "ab c", "h e", "l l", "he ll", "hell o"});
  json model = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", true},
                {"ignore_merges", false},
                {"vocab", vocab},
                {"merges", merges}};
  json doc = {{"version", "1.0"},
              {"truncation", nullptr},
              {"padding", nullptr},
              {"added_tokens", json::array()},
              {"normalizer", nullptr},
              {"pre_tokenizer",
               {{"type", "Split"},
                {"pattern", {{"Regex", "\\s+"}}},
                {"behavior", "Removed"},
                {"invert", false}}},
              {"post_processor", nullptr},
              {"decoder", nullptr},
              {"model", model}};
  check_doc(doc, "byte_fallback", texts);

  doc["model"]["byte_fallback"] = false;
  doc["model"]["unk_token"] = "<unk>";
  check_doc(doc, "unk", texts);
  doc["model"]["fuse_unk"] = true;
  check_doc(doc, "fuse_unk", texts);

  // ignore_merges: "abcab" is in the vocab but unreachable by merges.
  doc["model"]["vocab"]["abcab"] = id++;
  doc["model"]["vocab"]["hellohello"] = id++;
  for (const bool ignore : {false, true}) {
    doc["model"]["ignore_merges"] = ignore;
    check_doc(doc, ignore ? "ignore_merges_on" : "ignore_merges_off", texts);
  }

  // continuing_subword_prefix / end_of_word_suffix with a WordPiece-like vocab.
  json v2 = json::object();
  int64_t k = 0;
  v2["<unk>"] = k++;
  for (const char* s : {"h", "##e", "##l", "##o", "##ll", "##ello", "w", "##o</w>", "h</w>", "e",
                        "##e</w>", "##l</w>", "##o</w>"}) {
    if (!v2.contains(s)) v2[s] = k++;
  }
  v2["##ll"] = v2["##ll"];
  json m2 = doc["model"];
  m2["vocab"] = v2;
  m2["merges"] = json::array({"##l ##l"});
  m2["continuing_subword_prefix"] = "##";
  m2["end_of_word_suffix"] = "</w>";
  m2["byte_fallback"] = false;
  m2["ignore_merges"] = false;
  json doc2 = doc;
  doc2["model"] = m2;
  check_doc(doc2, "subword_affixes", texts);
}
