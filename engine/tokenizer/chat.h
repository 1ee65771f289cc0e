#pragma once
// The LLaDA chat prompt rendered natively (no Jinja engine) and the LaViDa prompt with its
// image placeholder.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"

namespace shirg::tok {

struct ChatMessage {
  std::string role, content;
};

// Renders kLladaChatTemplate exactly as Jinja2 does: for each message
// [bos_token if first] '<|start_header_id|>' + role + '<|end_header_id|>\n\n' +
// content|trim (Python str.strip()) + '<|eot_id|>'; then always
// '<|start_header_id|>assistant<|end_header_id|>\n\n' (No messages: no bos_token.)
// Invalid UTF-8 in a role, a content or bos_token -> TokenizerError naming the message and
// the byte offset.
std::string render_chat(const std::vector<ChatMessage>& messages, const std::string& bos_token);

// The LaViDa prompt: `text` is render_chat([system, user("<image>\n" + question)], bos).
// The text is cut at its first "<image>" (the one this function puts in the user turn; an
// "<image>" typed inside the question stays ordinary text) and each side is encoded separately
// without post-processor specials, as LLaVA's tokenizer_image_token does; `ids` is the
// concatenation and `image_pos` the index in `ids` where the visual tokens go (before
// ids[image_pos]). Decision: no token is dropped. LaViDa's own splitting removes the first id
// of every chunk after the first (meant for a BOS the LLaDA tokenizer never adds), which
// silently deletes the "\n" token after <image>; we keep it, so the model sees exactly the
// rendered template.
// Invalid UTF-8 in `question` -> TokenizerError("question is not valid UTF-8 (byte offset N)").
struct LavidaPrompt {
  std::string text;
  std::vector<int64_t> ids;  // excludes the "<image>" placeholder
  int64_t image_pos = 0;
};
LavidaPrompt build_lavida_prompt(const Tokenizer& tok, const std::string& question,
                                 const std::string& bos_token,
                                 const std::string& system_message = kLavidaSystemMessage);

inline constexpr const char* kImagePlaceholder = "<image>";

}  // namespace shirg::tok
