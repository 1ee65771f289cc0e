// The native LLaDA chat rendering equals Jinja2's rendering of kLladaChatTemplate, and the
// LaViDa prompt splits around <image> without dropping tokens.
#include <cstdlib>

#include <nlohmann/json.hpp>
#include "tests/common/catch.h"

#include "engine/tokenizer/bpe_trainer.h"
#include "engine/tokenizer/chat.h"
#include "tests/tokenizer/hf_reference.h"

using namespace shirg::tok;
using namespace shirg::tok::testing;
using nlohmann::json;

namespace {

// Renders with Debian's python3-jinja2, as transformers' apply_chat_template does
// (trim_blocks and lstrip_blocks on, like transformers' environment).
std::string jinja_render(const std::vector<ChatMessage>& msgs, bool gen, const std::string& bos) {
  const std::string dir = scratch_dir();
  json in = {
      {"template", kLladaChatTemplate}, {"bos", bos}, {"gen", gen}, {"messages", json::array()}};
  for (const auto& m : msgs) in["messages"].push_back({{"role", m.role}, {"content", m.content}});
  write_file(dir + "/jinja_in.json", in.dump());
  write_file(dir + "/jinja_render.py",
             "import json, sys, jinja2\n"
             "d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
             "env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)\n"
             "t = env.from_string(d['template'])\n"
             "out = t.render(messages=d['messages'], bos_token=d['bos'], "
             "add_generation_prompt=d['gen'])\n"
             "open(sys.argv[2], 'w', encoding='utf-8', newline='').write(out)\n");
  const std::string cmd = std::string(SHIRG_PYTHON) + " " + dir + "/jinja_render.py " + dir +
                          "/jinja_in.json " + dir + "/jinja_out.txt";
  REQUIRE(std::system(cmd.c_str()) == 0);
  return read_file(dir + "/jinja_out.txt");
}

}  // namespace

TEST_CASE("render_chat equals Jinja2's rendering of LLaDA's chat template") {
  const std::vector<std::string> questions = {
      "What is in the image?",
      "  leading and trailing spaces  ",
      "\n\ttabs and newlines\n\n",
      "\u3000ideographic space and nbsp\u00a0",
      "\x1c\x1finformation separators\x1e",
      "",
      "   ",
      "multi\nline\n\nquestion with <|eot_id|> inside",
      "unicode: caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82",
      "<image>\nalready has a placeholder"};
  for (const auto& q : questions) {
    for (const bool gen : {true, false}) {
      const std::vector<ChatMessage> msgs = {{"system", kLavidaSystemMessage},
                                             {"user", "<image>\n" + q}};
      INFO("question " << json(q).dump() << " add_generation_prompt " << gen);
      // LLaDA-8B-Instruct's template appends the assistant header either way.
      CHECK(render_chat(msgs, "<|startoftext|>") == jinja_render(msgs, gen, "<|startoftext|>"));
    }
  }
  const std::vector<ChatMessage> multi = {
      {"user", " hi "}, {"assistant", "hello\n"}, {"user", "x"}};
  CHECK(render_chat(multi, "<s>") == jinja_render(multi, true, "<s>"));
  CHECK(render_chat({}, "<s>") == jinja_render({}, false, "<s>"));
  const std::string header = "<|start_header_id|>assistant<|end_header_id|>\n\n";
  const std::string r = render_chat(multi, "<s>");
  CHECK(r.substr(r.size() - header.size()) == header);
  CHECK(jinja_render(multi, false, "<s>").substr(r.size() - header.size()) == header);
}

TEST_CASE("render_chat refuses invalid UTF-8 with a clear error") {
  CHECK_THROWS_WITH(render_chat({{"system", "ok"}, {"user", "bad \xc3\x28"}}, "<s>"),
                    "chat message 1 content is not valid UTF-8 (byte offset 4)");
  CHECK_THROWS_WITH(render_chat({{"us\xff"
                                  "er",
                                  "x"}},
                                "<s>"),
                    Catch::Matchers::ContainsSubstring("chat message 0 role is not valid UTF-8"));
  CHECK_THROWS_WITH(render_chat({{"user", "x"}}, "\xff"),
                    Catch::Matchers::ContainsSubstring("bos_token is not valid UTF-8"));
  CHECK_THROWS_AS(render_chat({{"user", "\xe2\x82"}}, "<s>"), TokenizerError);
}

TEST_CASE("build_lavida_prompt splits at <image> and drops nothing") {
  const std::vector<std::string> specials = {"<|startoftext|>",   "<|endoftext|>",
                                             "<|mdm_mask|>",      "<|start_header_id|>",
                                             "<|end_header_id|>", "<|eot_id|>"};
  const auto doc = train_byte_level_bpe(
      read_file(std::string(SHIRG_SOURCE_DIR) + "/tools/model_writer/corpus.txt"), 1024, specials);
  const auto tok = Tokenizer::from_json(doc.dump(), "trained");
  const auto p = build_lavida_prompt(*tok, "What is the title?  \n", "<|startoftext|>");
  const std::string expected_text =
      std::string("<|startoftext|><|start_header_id|>system<|end_header_id|>\n\n") +
      kLavidaSystemMessage +
      "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n<image>\nWhat is the title?"
      "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
  CHECK(p.text == expected_text);
  const size_t at = expected_text.find("<image>");
  const auto before = tok->encode(expected_text.substr(0, at));
  const auto after = tok->encode(expected_text.substr(at + 7));
  CHECK(p.image_pos == static_cast<int64_t>(before.size()));
  std::vector<int64_t> joined = before;
  joined.insert(joined.end(), after.begin(), after.end());
  CHECK(p.ids == joined);
  // Special tokens are single ids; the first id is BOS; "\n" follows the image.
  CHECK(p.ids.front() == *tok->token_to_id("<|startoftext|>"));
  CHECK(p.ids[p.image_pos - 1] == tok->encode("\n\n").back());
  CHECK(tok->decode({p.ids[p.image_pos]}, false).front() == '\n');
  CHECK(tok->decode(p.ids, false) == expected_text.substr(0, at) + expected_text.substr(at + 7));
  CHECK_THROWS_WITH(build_lavida_prompt(*tok, "bad \xff", "<|startoftext|>"),
                    "question is not valid UTF-8 (byte offset 4)");
  // An "<image>" typed in the question stays text.
  const auto q = build_lavida_prompt(*tok, "<image> twice", "<|startoftext|>");
  CHECK(q.image_pos == p.image_pos);
}
