// shirg-tokenize-qa: tokenizes VQA examples exactly as the server builds its prompt, for training.
//   shirg-tokenize-qa --model-dir DIR < in.jsonl > out.jsonl
// Each input line is a JSON object with "question" and "answer"; each output line is the same
// object plus "prompt_ids" (the LaViDa prompt without the <image> placeholder), "image_pos" (the
// index in prompt_ids where the visual tokens go) and "answer_ids" (the answer text encoded, then
// <|eot_id|>). Special ids (mask, eos, eot) are printed once to stderr as JSON.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <string>

#include "engine/config/model_config.h"
#include "engine/tokenizer/chat.h"
#include "engine/tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  std::string dir;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--model-dir" && i + 1 < argc) {
      dir = argv[++i];
    } else {
      std::fprintf(stderr, "usage: shirg-tokenize-qa --model-dir DIR < in.jsonl > out.jsonl\n");
      return 2;
    }
  }
  if (dir.empty()) {
    std::fprintf(stderr, "usage: shirg-tokenize-qa --model-dir DIR < in.jsonl > out.jsonl\n");
    return 2;
  }
  try {
    const auto tok = shirg::tok::Tokenizer::from_file(dir + "/tokenizer.json");
    const auto tcfg = shirg::load_tokenizer_config(dir + "/tokenizer_config.json");
    const std::string bos = tcfg.bos_token.value_or("<|startoftext|>");
    const auto eot = tok->token_to_id("<|eot_id|>");
    if (!eot) throw std::runtime_error("tokenizer has no <|eot_id|>");
    std::string line;
    int64_t n = 0;
    while (std::getline(std::cin, line)) {
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line);
      const auto prompt =
          shirg::tok::build_lavida_prompt(*tok, j.at("question").get<std::string>(), bos);
      auto answer = tok->encode(j.at("answer").get<std::string>());
      answer.push_back(*eot);
      j["prompt_ids"] = prompt.ids;
      j["image_pos"] = prompt.image_pos;
      j["answer_ids"] = answer;
      std::cout << j.dump() << '\n';
      ++n;
    }
    std::fprintf(stderr, "tokenized %lld examples\n", static_cast<long long>(n));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
