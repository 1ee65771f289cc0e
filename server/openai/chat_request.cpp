#include "server/openai/chat_request.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "engine/api/request.h"

namespace shirg::rpc::openai {
namespace {

using json = nlohmann::json;

// Thrown inside the parser; turned into the returned ApiError.
struct Refusal {
  ApiError error;
};

[[noreturn]] void refuse(const std::string& param, const std::string& message) {
  throw Refusal{invalid_request(message, param)};
}

const char* type_name(const json& v) {
  return v.type_name();  // "null", "boolean", "number", "string", "array", "object"
}

int64_t get_int(const json& v, const std::string& name) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() &&
        v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      refuse(name, name + " is out of range, got " + v.dump());
    return v.get<int64_t>();
  }
  refuse(name, name + " must be an integer, got " + (v.is_number() ? v.dump() : type_name(v)));
}

double get_number(const json& v, const std::string& name) {
  if (!v.is_number()) refuse(name, name + " must be a number, got " + std::string(type_name(v)));
  return v.get<double>();
}

bool get_bool(const json& v, const std::string& name) {
  if (!v.is_boolean()) refuse(name, name + " must be true or false, got " + v.dump());
  return v.get<bool>();
}

const std::string& get_string(const json& v, const std::string& name) {
  if (!v.is_string()) refuse(name, name + " must be a string, got " + std::string(type_name(v)));
  return v.get_ref<const std::string&>();
}

// "low_confidence" -> REMASKING_LOW_CONFIDENCE etc.; the same names as shirg-client's flags.
v1::Remasking remasking_of(const std::string& s) {
  // "low-confidence" is shirg-client's spelling of the same value.
  if (s == "low_confidence" || s == "low-confidence") return v1::REMASKING_LOW_CONFIDENCE;
  if (s == "random") return v1::REMASKING_RANDOM;
  if (s == "entropy") return v1::REMASKING_ENTROPY;
  if (s == "margin") return v1::REMASKING_MARGIN;
  refuse("remasking",
         "remasking must be low_confidence, random, entropy or margin, got '" + s + "'");
}

v1::Schedule schedule_of(const std::string& s) {
  if (s == "uniform") return v1::SCHEDULE_UNIFORM;
  if (s == "shift") return v1::SCHEDULE_SHIFT;
  refuse("schedule", "schedule must be uniform or shift, got '" + s + "'");
}

std::string mode_names() {
  std::string all;
  for (SelectionMode m : kAllSelectionModes)
    all += (all.empty() ? "" : ", ") + std::string(selection_mode_name(m));
  return all;
}

// The image of a data: URL (base64 JPEG or PNG). http(s) URLs are refused: the server never
// fetches arbitrary URLs.
std::string image_from_url(const std::string& url, const std::string& param,
                           const EdgeLimits& lim) {
  auto starts = [&](const char* p) { return url.rfind(p, 0) == 0; };
  if (starts("http://") || starts("https://"))
    refuse(param,
           "image URLs are not fetched by this server: send the image inline as "
           "data:image/png;base64,... or data:image/jpeg;base64,...");
  if (!starts("data:"))
    refuse(param,
           "image_url must be a data: URL (data:image/png;base64,... or "
           "data:image/jpeg;base64,...)");
  const std::size_t comma = url.find(',');
  if (comma == std::string::npos) refuse(param, "image_url data: URL has no ',' before the data");
  const std::string meta = url.substr(5, comma - 5);  // "image/png;base64"
  const std::string b64 = ";base64";
  if (meta.size() < b64.size() || meta.compare(meta.size() - b64.size(), b64.size(), b64) != 0)
    refuse(param, "image_url data: URL must be base64-encoded (data:image/png;base64,...)");
  const std::string media = meta.substr(0, meta.size() - b64.size());
  if (media != "image/png" && media != "image/jpeg" && media != "image/jpg")
    refuse(param, "image_url media type must be image/png or image/jpeg, got '" + media + "'");
  // Refuse before decoding when even the decoded size is over the limit.
  const std::size_t encoded = url.size() - comma - 1;
  if (static_cast<int64_t>(encoded / 4 * 3) > lim.max_image_bytes + 3)
    throw Refusal{ApiError{413, grpc::StatusCode::INVALID_ARGUMENT,
                           "image is about " + std::to_string(encoded / 4 * 3) +
                               " bytes, the limit is " + std::to_string(lim.max_image_bytes),
                           param, "invalid_argument"}};
  std::string bytes;
  if (!base64_decode(url.substr(comma + 1), &bytes))
    refuse(param, "image_url data is not valid base64");
  if (static_cast<int64_t>(bytes.size()) > lim.max_image_bytes)
    throw Refusal{ApiError{413, grpc::StatusCode::INVALID_ARGUMENT,
                           "image is " + std::to_string(bytes.size()) + " bytes, the limit is " +
                               std::to_string(lim.max_image_bytes),
                           param, "invalid_argument"}};
  return bytes;
}

// Refuses a key of object `v` (at JSON path `path`) that is not in `known`: a misspelt field
// inside a message never passes silently, as at the top level.
void check_keys(const json& v, const std::string& path, std::initializer_list<const char*> known) {
  for (auto it = v.begin(); it != v.end(); ++it) {
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (!ok) refuse(path + "." + it.key(), "unknown field '" + it.key() + "' in " + path);
  }
}

const char* kOneTurn =
    "this server answers one question about one image: messages must hold exactly one user "
    "message (no system prompt or conversation history) whose content has one image_url part "
    "and text";

void parse_messages(const json& msgs, const EdgeLimits& lim, ChatRequest* out) {
  if (!msgs.is_array() || msgs.empty()) refuse("messages", "messages must be a non-empty array");
  if (msgs.size() != 1) refuse("messages", kOneTurn);
  const json& m = msgs[0];
  if (!m.is_object()) refuse("messages[0]", "messages[0] must be an object");
  check_keys(m, "messages[0]", {"role", "content", "name"});  // name: accepted, ignored
  auto role = m.find("role");
  if (role == m.end()) refuse("messages[0].role", "messages[0].role is required");
  if (get_string(*role, "messages[0].role") != "user") refuse("messages[0].role", kOneTurn);
  auto content = m.find("content");
  if (content == m.end() || content->is_string())
    refuse("messages[0].content",
           "messages[0].content must be an array of parts with one image_url part (the model "
           "answers questions about an image)");
  if (!content->is_array()) refuse("messages[0].content", "messages[0].content must be an array");
  std::string question;
  bool have_image = false;
  bool have_text = false;
  for (std::size_t i = 0; i < content->size(); ++i) {
    const json& part = (*content)[i];
    const std::string p = "messages[0].content[" + std::to_string(i) + "]";
    if (!part.is_object()) refuse(p, p + " must be an object");
    auto type = part.find("type");
    if (type == part.end()) refuse(p + ".type", p + ".type is required");
    const std::string t = get_string(*type, p + ".type");  // by value (GCC 14 -Wdangling-reference)
    if (t == "text") {
      check_keys(part, p, {"type", "text"});
      auto text = part.find("text");
      if (text == part.end()) refuse(p + ".text", p + ".text is required");
      if (have_text) question += "\n";
      question += get_string(*text, p + ".text");
      if (!have_text) out->text_param = p + ".text";
      have_text = true;
    } else if (t == "image_url") {
      if (have_image) refuse(p, "only one image per request is supported");
      check_keys(part, p, {"type", "image_url"});
      auto iu = part.find("image_url");
      if (iu == part.end()) refuse(p + ".image_url", p + ".image_url is required");
      std::string url_param = p + ".image_url";
      const json* url = &*iu;
      if (iu->is_object()) {
        check_keys(*iu, p + ".image_url", {"url", "detail"});  // detail: accepted, ignored
        auto u = iu->find("url");
        if (u == iu->end()) refuse(p + ".image_url.url", p + ".image_url.url is required");
        url = &*u;
        url_param += ".url";
      }
      out->image_param = url_param;
      out->proto.set_image(image_from_url(get_string(*url, url_param), url_param, lim));
      have_image = true;
    } else {
      refuse(p + ".type", p + ".type must be text or image_url, got '" + t + "'");
    }
  }
  if (!have_image) refuse("messages[0].content", "the user message needs one image_url part");
  if (!have_text)
    refuse("messages[0].content", "the user message needs a text part (the question)");
  out->proto.set_question(question);
}

// OpenAI fields accepted only with their neutral value (what the SDKs send by default).
void check_neutral(const std::string& key, const json& v) {
  if (v.is_null()) return;
  if (key == "n") {
    if (get_int(v, "n") != 1) refuse("n", "n must be 1 (one answer per request), got " + v.dump());
  } else if (key == "top_p") {
    if (get_number(v, "top_p") != 1.0)
      refuse("top_p", "top_p is not supported (use temperature); only 1 is accepted");
  } else if (key == "frequency_penalty" || key == "presence_penalty") {
    if (get_number(v, key) != 0.0) refuse(key, key + " is not supported; only 0 is accepted");
  } else if (key == "logprobs") {
    if (get_bool(v, key)) refuse(key, "logprobs are not supported");
  } else if (key == "stop") {
    if (!(v.is_array() && v.empty()))
      refuse(key, "stop sequences are not supported (the answer ends at the model's stop token)");
  } else if (key == "response_format") {
    if (!v.is_object() || v.value("type", std::string()) != "text")
      refuse(key, "response_format: only {\"type\": \"text\"} is supported");
  } else if (key == "logit_bias") {
    if (!(v.is_object() && v.empty())) refuse(key, "logit_bias is not supported");
  } else {
    refuse(key, key + " is not supported by this server");
  }
}

void parse_body(const json& body, const EdgeLimits& lim, ChatRequest* out) {
  if (!body.is_object()) refuse("", "the request body must be a JSON object");
  if (body.find("messages") == body.end()) refuse("messages", "messages is required");
  v1::GenerationOptions* g = out->proto.mutable_generation();
  v1::SelectionOptions* s = out->proto.mutable_selection();
  std::optional<int64_t> max_tokens;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "messages") {
      parse_messages(v, lim, out);
    } else if (key == "model") {
      out->model = get_string(v, key);
    } else if (key == "max_tokens" || key == "max_completion_tokens") {
      if (v.is_null()) continue;
      const int64_t n = get_int(v, key);
      if (max_tokens && *max_tokens != n)
        refuse(key, "max_tokens and max_completion_tokens differ");
      max_tokens = n;
      g->set_gen_length(n);
    } else if (key == "temperature") {
      if (!v.is_null()) g->set_temperature(get_number(v, key));
    } else if (key == "seed") {
      if (v.is_null()) continue;
      if (v.is_number_unsigned())
        g->set_seed(v.get<uint64_t>());
      else if (v.is_number_integer())
        refuse(key, "seed must be in [0, 18446744073709551615], got " + v.dump());
      else
        refuse(key, "seed must be an integer, got " + v.dump());
    } else if (key == "stream") {
      if (!v.is_null()) out->stream = get_bool(v, key);
    } else if (key == "stream_options") {
      if (v.is_null()) continue;
      if (!v.is_object()) refuse(key, "stream_options must be an object");
      for (auto o = v.begin(); o != v.end(); ++o) {
        if (o.key() != "include_usage")
          refuse("stream_options." + o.key(), "stream_options." + o.key() + " is not supported");
        out->include_usage = get_bool(o.value(), "stream_options.include_usage");
      }
    } else if (key == "timeout_ms") {
      const int64_t t = get_int(v, key);
      if (t < 1 || t > kMaxTimeoutMs)
        refuse(key, "timeout_ms must be in [1, " + std::to_string(kMaxTimeoutMs) + "], got " +
                        std::to_string(t));
      out->timeout_ms = t;
    } else if (key == "steps") {
      g->set_steps(get_int(v, key));
    } else if (key == "block_length") {
      g->set_block_length(get_int(v, key));
    } else if (key == "step_ratio") {
      g->set_step_ratio(get_number(v, key));
    } else if (key == "steps_per_block") {
      g->set_steps_per_block(get_int(v, key));
    } else if (key == "shift") {
      g->set_shift(get_number(v, key));
    } else if (key == "remasking") {
      g->set_remasking(remasking_of(get_string(v, key)));
    } else if (key == "schedule") {
      g->set_schedule(schedule_of(get_string(v, key)));
    } else if (key == "mode") {
      const std::string& name = get_string(v, key);
      const auto m = parse_selection_mode(name);
      if (!m) refuse(key, "mode must be one of " + mode_names() + ", got '" + name + "'");
      s->set_mode(to_proto(*m));
    } else if (key == "k") {
      s->set_k(get_int(v, key));
    } else if (key == "k_min") {
      s->set_k_min(get_int(v, key));
    } else if (key == "k_max") {
      s->set_k_max(get_int(v, key));
    } else if (key == "adaptive_k") {
      s->set_adaptive_k(get_bool(v, key));
    } else if (key == "query_aware") {
      s->set_query_aware(get_bool(v, key));
    } else if (key == "user" || key == "store" || key == "metadata" || key == "service_tier" ||
               key == "parallel_tool_calls") {
      // Accepted and ignored (bookkeeping fields of the OpenAI API).
    } else if (key == "n" || key == "top_p" || key == "frequency_penalty" ||
               key == "presence_penalty" || key == "logprobs" || key == "stop" ||
               key == "response_format" || key == "logit_bias" || key == "top_logprobs" ||
               key == "tools" || key == "tool_choice" || key == "functions" ||
               key == "function_call") {
      check_neutral(key, v);
    } else {
      refuse(key, "unknown field '" + key + "'");
    }
  }
  if (out->include_usage && !out->stream)
    refuse("stream_options", "stream_options is only allowed with stream: true");
}

}  // namespace

bool base64_decode(const std::string& in, std::string* out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::size_t n = in.size();
  while (n > 0 && in[n - 1] == '=' && in.size() - n < 2) --n;
  if (n % 4 == 1) return false;
  std::string bytes;
  bytes.reserve(n / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const int v = value(in[i]);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  *out = std::move(bytes);
  return true;
}

int json_depth(const std::string& text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

std::optional<ApiError> parse_chat_request(const std::string& body, const EdgeLimits& lim,
                                           ChatRequest* out) {
  if (json_depth(body, kMaxJsonDepth) > kMaxJsonDepth)
    return invalid_request("the request body nests deeper than " + std::to_string(kMaxJsonDepth) +
                           " levels");
  const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded())
    return invalid_request(
        "the request body is not valid JSON (expected a chat completion "
        "request object)");
  ChatRequest r;
  try {
    parse_body(parsed, lim, &r);
  } catch (const Refusal& e) {
    return e.error;
  } catch (const json::exception& e) {
    return invalid_request(std::string("malformed request: ") + e.what());
  }
  *out = std::move(r);
  return std::nullopt;
}

ApiError edge_error(const Status& s, const ChatRequest& req) {
  std::string msg = s.message;
  std::string param;
  auto replace_prefix = [&](const std::string& from, const std::string& to) {
    if (msg.rfind(from, 0) != 0) return false;
    msg = to + msg.substr(from.size());
    return true;
  };
  if (replace_prefix("generation.gen_length", "max_tokens")) {
    param = "max_tokens";
  } else if (replace_prefix("generation.", "") || replace_prefix("selection.", "")) {
    param = msg.substr(0, msg.find_first_of(" :("));
  } else if (msg.rfind("image", 0) == 0) {
    param = req.image_param;
  } else if (msg.rfind("question", 0) == 0) {
    param = req.text_param;
  }
  // Mentions later in the message ("must divide gen_length") keep the gRPC field names, which
  // are the same words as the extra fields here.
  return api_error(grpc::Status(to_grpc(s).error_code(), msg), param);
}

}  // namespace shirg::rpc::openai
