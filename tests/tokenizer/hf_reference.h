#pragma once
// Test helpers: run Hugging Face tokenizers (node + @anush008/tokenizers from tools/npm) on a
// list of texts and compare our Tokenizer with it. Missing node or npm packages FAIL the test
// (never skip): install them with scripts/install-npm-refs.sh.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace shirg::tok::testing {

struct RefLine {
  std::vector<int64_t> ids;
  std::string dec, dec_skip;  // HF decode(ids, false) / decode(ids, true)
};

// Directory for this test's scratch files (created).
std::string scratch_dir();
// FAILs (Catch2) with instructions when node or the npm reference packages are missing.
void require_node_refs();
// Writes `texts` next to `tokenizer_json`, runs tools/npm/encode_corpus.js, parses its output.
std::vector<RefLine> hf_encode(const std::string& tokenizer_json,
                               const std::vector<std::string>& texts);
// Reads a corpus written by gen_corpus.py conformance (one JSON string per line).
std::vector<std::string> read_jsonl_corpus(const std::string& path);
// Generates the conformance corpus (tests/tokenizer/gen_corpus.py) into the scratch dir.
std::string make_conformance_corpus(int lines);

struct CompareStats {
  size_t lines = 0, id_mismatches = 0, decode_mismatches = 0, roundtrip_checked = 0,
         roundtrip_failures = 0, stream_mismatches = 0;
};
// Compares ids, decode (both skip modes), decode(encode(x)) == x where HF round-trips, and the
// IncrementalDecoder. Prints the first mismatches.
CompareStats compare_with_hf(const Tokenizer& tok, const std::vector<std::string>& texts,
                             const std::vector<RefLine>& ref, const std::string& name);

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& text);

}  // namespace shirg::tok::testing

#include <nlohmann/json.hpp>

namespace shirg::tok::testing {
// A byte-level BPE tokenizer.json: ids 0..255 = bytes, then one id per merge result in order.
// `merges` are raw-text pairs "left right" (split at the LAST space; mapped with GPT-2's byte
// table). Normalizer/pre-tokenizer: none / ByteLevel(add_prefix_space false, use_regex true).
nlohmann::json make_bpe_doc(const std::vector<std::pair<std::string, std::string>>& merges);
// Appends an added token (id: its model-vocab id, else the next free one) and returns the id.
int64_t add_token(nlohmann::json& doc, const std::string& content, bool special,
                  bool lstrip = false, bool rstrip = false, bool single_word = false,
                  bool normalized = false);
// Token texts (decoded bytes) of ids: one string per id.
std::vector<std::string> pieces(const Tokenizer& tok, const std::vector<int64_t>& ids);
}  // namespace shirg::tok::testing
