#pragma once
// LLaDA's chat template (the Jinja text of its tokenizer_config.json "chat_template") and
// LaViDa's system message. render_chat() in chat.h renders the template natively.

namespace shirg::tok {

// bos_token, then per message '<|start_header_id|>' + role + '<|end_header_id|>\n\n' +
// content|trim + '<|eot_id|>', then ALWAYS '<|start_header_id|>assistant<|end_header_id|>\n\n'
// (LLaDA-8B-Instruct's template appends it whatever add_generation_prompt says). (\n is a
// backslash escape in the Jinja text.)
inline constexpr const char* kLladaChatTemplate =
    "{% set loop_messages = messages %}"
    "{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
    "message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}"
    "{% endfor %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}";

inline constexpr const char* kLavidaSystemMessage =
    "You are a helpful language and vision assistant. You are able to understand the visual "
    "content that the user provides, and assist the user with a variety of tasks using natural "
    "language.";

}  // namespace shirg::tok
