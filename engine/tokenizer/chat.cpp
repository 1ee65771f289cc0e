#include "engine/tokenizer/chat.h"

#include "engine/tokenizer/unicode_util.h"

namespace shirg::tok {

namespace {

constexpr const char* kAssistantHeader = "<|start_header_id|>assistant<|end_header_id|>\n\n";

void check_utf8(const std::string& s, const std::string& what) {
  const size_t bad = find_invalid_utf8(s);
  if (bad != std::string::npos)
    throw TokenizerError(what + " is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
}

// The messages without the final assistant header.
std::string render_turns(const std::vector<ChatMessage>& messages, const std::string& bos_token) {
  check_utf8(bos_token, "bos_token");
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string n = std::to_string(i);
    check_utf8(messages[i].role, "chat message " + n + " role");
    check_utf8(messages[i].content, "chat message " + n + " content");
    if (i == 0) out += bos_token;
    out += "<|start_header_id|>";
    out += messages[i].role;
    out += "<|end_header_id|>\n\n";
    out += python_strip(messages[i].content);
    out += "<|eot_id|>";
  }
  return out;
}

}  // namespace

std::string render_chat(const std::vector<ChatMessage>& messages, const std::string& bos_token) {
  return render_turns(messages, bos_token) + kAssistantHeader;
}

LavidaPrompt build_lavida_prompt(const Tokenizer& tok, const std::string& question,
                                 const std::string& bos_token, const std::string& system_message) {
  for (const auto* s : {&question, &bos_token, &system_message}) {
    const size_t bad = find_invalid_utf8(*s);
    if (bad != std::string::npos) {
      const char* what = s == &question    ? "question"
                         : s == &bos_token ? "bos_token"
                                           : "system message";
      throw TokenizerError(std::string(what) + " is not valid UTF-8 (byte offset " +
                           std::to_string(bad) + ")");
    }
  }
  LavidaPrompt p;
  // Render with a marker-free split: everything before the user content is fixed text, so the
  // placeholder is the first "<image>" after the user header.
  const std::vector<ChatMessage> messages = {
      {"system", system_message}, {"user", std::string(kImagePlaceholder) + "\n" + question}};
  p.text = render_chat(messages, bos_token);
  const std::string head =
      render_turns({messages[0]}, bos_token) + "<|start_header_id|>user<|end_header_id|>\n\n";
  // The user content starts with "<image>" (strip() keeps it: '<' is not whitespace).
  const size_t at = head.size();
  const std::string before = p.text.substr(0, at);
  const std::string after = p.text.substr(at + std::char_traits<char>::length(kImagePlaceholder));
  p.ids = tok.encode(before, false);
  p.image_pos = static_cast<int64_t>(p.ids.size());
  const auto rest = tok.encode(after, false);
  p.ids.insert(p.ids.end(), rest.begin(), rest.end());
  return p;
}

}  // namespace shirg::tok
