// config.json / generation_config.json / tokenizer_config.json parsing.
#include "tests/common/catch.h"

#include <nlohmann/json.hpp>

#include "engine/config/model_config.h"

using namespace shirg;
using Catch::Matchers::ContainsSubstring;
using nlohmann::json;

namespace {

// A LaViDa-style config.json as the real checkpoint has it: no vision_config block.
json lavida_config() {
  return json{{"model_type", "llava_llada"},
              {"d_model", 4096},
              {"n_layers", 32},
              {"n_heads", 32},
              {"n_kv_heads", 32},
              {"mlp_hidden_size", 12288},
              {"vocab_size", 126464},
              {"embedding_size", 126464},
              {"rope_theta", 500000.0},
              {"rms_norm_eps", 1e-5},
              {"mask_token_id", 126336},
              {"mm_vision_tower", "google/siglip-so400m-patch14-384"},
              {"mm_projector_type", "mlp2x_gelu"},
              {"mm_hidden_size", 1152},
              {"mm_vision_select_layer", -2},
              {"image_grid_pinpoints", "[(384, 768), (768, 384), (768, 768), (1152, 384), (384, 1152)]"},
              {"some_future_key", {{"ignored", true}}}};
}

std::string error_of(const json& j) {
  try {
    parse_model_config(j.dump(), "config.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST_CASE("a real-style LaViDa config parses with the so400m defaults") {
  const ModelConfig c = parse_model_config(lavida_config().dump(), "config.json");
  CHECK(c.model_type == "llava_llada");
  CHECK(c.llm.d_model == 4096);
  CHECK(c.llm.head_dim() == 128);
  CHECK(c.llm.rope_theta == 500000.0);
  CHECK(c.llm.mask_token_id == 126336);
  CHECK(c.vision.hidden_size == 1152);
  CHECK(c.vision.intermediate_size == 4304);
  CHECK(c.vision.num_hidden_layers == 27);
  CHECK(c.vision.layers_used == 26);  // select layer -2: the last layer is dropped
  CHECK(c.vision.grid() == 27);
  CHECK(c.vision.hidden_act == "gelu_pytorch_tanh");
  REQUIRE(c.mm.grid_pinpoints.size() == 5);
  CHECK(c.mm.grid_pinpoints[0] == std::pair<int64_t, int64_t>{384, 768});
  CHECK(c.mm.patch_merge_type == "spatial_unpad");
}

TEST_CASE("a vision_config block overrides the tower defaults") {
  json j = lavida_config();
  j["vision_config"] = {{"hidden_size", 64}, {"intermediate_size", 128}, {"num_hidden_layers", 3},
                        {"num_attention_heads", 4}};
  j["mm_hidden_size"] = 64;
  const ModelConfig c = parse_model_config(j.dump(), "config.json");
  CHECK(c.vision.hidden_size == 64);
  CHECK(c.vision.layers_used == 2);
  CHECK(c.vision.image_size == 384);  // not in the block: the tower's default
}

TEST_CASE("a missing required key is an error naming it") {
  for (const char* key : {"d_model", "n_layers", "n_heads", "mlp_hidden_size", "vocab_size", "model_type"}) {
    json j = lavida_config();
    j.erase(key);
    CHECK_THAT(error_of(j),
               ContainsSubstring(std::string("'") + key + "'") && ContainsSubstring("config.json"));
  }
}

TEST_CASE("wrong types are errors naming the key") {
  json j = lavida_config();
  j["d_model"] = "4096";
  CHECK_THAT(error_of(j), ContainsSubstring("'d_model'") && ContainsSubstring("integer"));
  j = lavida_config();
  j["rope_theta"] = "big";
  CHECK_THAT(error_of(j), ContainsSubstring("'rope_theta'") && ContainsSubstring("number"));
  j = lavida_config();
  j["weight_tying"] = 1;
  CHECK_THAT(error_of(j), ContainsSubstring("'weight_tying'"));
  j = lavida_config();
  j["vision_config"] = {{"hidden_size", 1.5}};
  CHECK_THAT(error_of(j), ContainsSubstring("'vision_config.hidden_size'"));
  j = lavida_config();
  j["image_grid_pinpoints"] = json::array({json::array({1, 2, 3})});
  CHECK_THAT(error_of(j), ContainsSubstring("image_grid_pinpoints"));
}

TEST_CASE("unsupported or inconsistent settings are refused clearly") {
  json j = lavida_config();
  j["mm_vision_tower"] = "openai/clip-vit-large-patch14";
  CHECK_THAT(error_of(j), ContainsSubstring("unknown vision tower"));
  j = lavida_config();
  j["n_kv_heads"] = 8;
  CHECK_THAT(error_of(j), ContainsSubstring("n_kv_heads"));
  j = lavida_config();
  j["model_type"] = "llama";
  CHECK_THAT(error_of(j), ContainsSubstring("llama"));
  j = lavida_config();
  j["mm_hidden_size"] = 1024;
  CHECK_THAT(error_of(j), ContainsSubstring("mm_hidden_size"));
  CHECK_THAT(
      [] {
        try {
          parse_model_config("{not json", "config.json");
        } catch (const ConfigError& e) {
          return std::string(e.what());
        }
        return std::string();
      }(),
      ContainsSubstring("malformed JSON"));
}

TEST_CASE("tokenizer_config.json: template, tokens and added_tokens_decoder") {
  json t = {{"chat_template", "{{ bos_token }}"},
            {"bos_token", "<|startoftext|>"},
            {"eos_token", {{"content", "<|endoftext|>"}, {"lstrip", false}}},
            {"model_max_length", 1e30},
            {"added_tokens_decoder", {{"126336", {{"content", "<|mdm_mask|>"}}}}}};
  const TokenizerConfigFile c = parse_tokenizer_config(t.dump(), "tokenizer_config.json");
  CHECK(c.chat_template == "{{ bos_token }}");
  CHECK(c.bos_token == "<|startoftext|>");
  CHECK(c.eos_token == "<|endoftext|>");
  CHECK(c.model_max_length == 0);
  CHECK(c.added_tokens_decoder.at(126336) == "<|mdm_mask|>");
  t["added_tokens_decoder"] = {{"abc", {{"content", "x"}}}};
  CHECK_THROWS_WITH(parse_tokenizer_config(t.dump(), "tokenizer_config.json"),
                    ContainsSubstring("non-numeric id 'abc'"));
}
