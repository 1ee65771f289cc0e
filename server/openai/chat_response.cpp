#include "server/openai/chat_response.h"

#include <nlohmann/json.hpp>

namespace shirg::rpc::openai {
namespace {

// Keys in the order OpenAI documents them (id, object, created, model, choices, usage).
using json = nlohmann::ordered_json;

json base(const CompletionIds& ids, const char* object) {
  return json{{"id", ids.id}, {"object", object}, {"created", ids.created}, {"model", ids.model}};
}

json usage(const GenerateResult& r) {
  const auto completion = static_cast<int64_t>(r.answer_ids.size());
  return json{{"prompt_tokens", r.prefix_tokens},
              {"completion_tokens", completion},
              {"total_tokens", r.prefix_tokens + completion}};
}

json shirg_result(const CompletionIds& ids, const GenerateResult& r) {
  const StageTimings& t = r.timings;
  return json{{"request_id", ids.request_id},
              {"steps", r.steps_run},
              {"prefix_tokens", r.prefix_tokens},
              {"visual_tokens", r.selection.visual_tokens},
              {"cache_bytes", r.cache_bytes},
              {"timings_ms",
               {{"queue", t.queue_ms},
                {"decode", t.decode_ms},
                {"vision", t.vision_ms},
                {"selection", t.selection_ms},
                {"projector", t.projector_ms},
                {"prefill", t.prefill_ms},
                {"steps", t.steps_ms},
                {"total", t.total_ms}}}};
}

// json::dump throws on invalid UTF-8 by default; answers are decoded text and should be valid,
// but a random-weights model can produce anything: replace rather than fail.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

const char* finish_reason_of(StopReason r) {
  return r == StopReason::kStopToken ? "stop" : "length";
}

std::string completion_json(const CompletionIds& ids, const GenerateResult& r) {
  json j = base(ids, "chat.completion");
  j["choices"] = json::array({json{{"index", 0},
                                   {"message", {{"role", "assistant"}, {"content", r.answer}}},
                                   {"logprobs", nullptr},
                                   {"finish_reason", finish_reason_of(r.stop_reason)}}});
  j["usage"] = usage(r);
  j["shirg"] = shirg_result(ids, r);
  return dump(j);
}

std::string chunk_json(const CompletionIds& ids, const std::optional<std::string>& content,
                       bool role, const char* finish_reason, const StepEvent* step) {
  json j = base(ids, "chat.completion.chunk");
  json delta = json::object();
  if (role) delta["role"] = "assistant";
  if (content) delta["content"] = *content;
  j["choices"] =
      json::array({json{{"index", 0},
                        {"delta", delta},
                        {"logprobs", nullptr},
                        {"finish_reason", finish_reason ? json(finish_reason) : json()}}});
  if (step)
    j["shirg"] = json{{"step", step->step},
                      {"total_steps", step->total_steps},
                      {"committed_tokens", step->committed},
                      {"partial_answer", step->partial_answer}};
  return dump(j);
}

std::string usage_chunk_json(const CompletionIds& ids, const GenerateResult& r) {
  json j = base(ids, "chat.completion.chunk");
  j["choices"] = json::array();
  j["usage"] = usage(r);
  j["shirg"] = shirg_result(ids, r);
  return dump(j);
}

std::string sse_event(const std::string& json_text) {
  return "data: " + json_text + "\n\n";
}

std::string model_json(const std::string& model_id, int64_t created) {
  return json{{"id", model_id}, {"object", "model"}, {"created", created}, {"owned_by", "shirg"}}
      .dump();
}

std::string models_json(const std::string& model_id, int64_t created) {
  return json{{"object", "list"},
              {"data", json::array({json::parse(model_json(model_id, created))})}}
      .dump();
}

std::string StreamText::stable_prefix(const std::string& partial) {
  std::string s = partial.substr(0, partial.find(kMaskGlyph));
  const std::size_t first = s.find_first_not_of('!');
  s = first == std::string::npos ? std::string() : s.substr(first);
  static const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  while (s.size() >= kReplacement.size() &&
         s.compare(s.size() - kReplacement.size(), kReplacement.size(), kReplacement) == 0)
    s.resize(s.size() - kReplacement.size());
  return s;
}

std::string StreamText::next(const std::string& partial_answer) {
  const std::string stable = stable_prefix(partial_answer);
  if (stable.size() <= sent_.size() || stable.compare(0, sent_.size(), sent_) != 0) return "";
  std::string delta = stable.substr(sent_.size());
  sent_ = stable;
  return delta;
}

std::optional<std::string> StreamText::finish(const std::string& answer) {
  if (answer.compare(0, sent_.size(), sent_) != 0) return std::nullopt;
  std::string rest = answer.substr(sent_.size());
  sent_ = answer;
  return rest;
}

}  // namespace shirg::rpc::openai
