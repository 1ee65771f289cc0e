#pragma once
// JSON bodies of the OpenAI-compatible API: chat.completion, chat.completion.chunk (SSE), the
// model list. Besides OpenAI's fields each object carries a "shirg" object with what the
// gRPC API also returns (request id, steps, visual tokens, timings); OpenAI clients ignore it.
#include <cstdint>
#include <optional>
#include <string>

#include "engine/api/request.h"

namespace shirg::rpc::openai {

// What every response object of one request shares.
struct CompletionIds {
  std::string id;       // "chatcmpl-<request id>"
  int64_t created = 0;  // Unix seconds
  std::string model;    // the served model id
  std::string request_id;
};

// "stop" when the model emitted its stop token, "length" when max_tokens ran out.
const char* finish_reason_of(StopReason r);

// The non-streaming response (object "chat.completion"). usage.prompt_tokens counts the whole
// prefix (chat template, visual tokens, question), completion_tokens the answer tokens.
std::string completion_json(const CompletionIds& ids, const GenerateResult& r);

// One SSE chunk (object "chat.completion.chunk"). `content`: the delta text (absent: no
// content key); `role`: "assistant" on the first chunk; `finish_reason`: on the last one; `step`:
// the denoising step this chunk reports (shirg.step / total_steps / partial_answer / committed).
std::string chunk_json(const CompletionIds& ids, const std::optional<std::string>& content,
                       bool role, const char* finish_reason, const StepEvent* step);
// The usage chunk (stream_options.include_usage): empty choices, usage filled.
std::string usage_chunk_json(const CompletionIds& ids, const GenerateResult& r);
// "data: <json>\n\n".
std::string sse_event(const std::string& json);
inline constexpr const char* kSseDone = "data: [DONE]\n\n";

// GET /v1/models (object "list" of one model).
std::string models_json(const std::string& model_id, int64_t created);
std::string model_json(const std::string& model_id, int64_t created);

// Turns the engine's per-step partial answers (masked positions as kMaskGlyph) into append-only
// deltas. Tokens, once committed, never change, so the text before the first masked position
// only grows; it is emitted as it grows (without the leading '!' the engine strips from
// answers, and without a trailing U+FFFD that may be half a character). `finish` returns the
// rest of the final answer.
class StreamText {
 public:
  // The new text of this step ("" when the committed prefix did not grow).
  std::string next(const std::string& partial_answer);
  // The remainder of the final answer. When the final answer does not extend what was sent (it
  // always does for byte-level BPE; a guard against a tokenizer that changes earlier text),
  // returns nullopt and the caller reports the mismatch.
  std::optional<std::string> finish(const std::string& answer);
  const std::string& sent() const { return sent_; }

  // The text before the first mask glyph, leading '!' and a trailing U+FFFD removed.
  static std::string stable_prefix(const std::string& partial_answer);

 private:
  std::string sent_;
};

}  // namespace shirg::rpc::openai
