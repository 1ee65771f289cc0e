#include "engine/model/special_ids.h"

#include "engine/tokenizer/tokenizer.h"

namespace shirg {
namespace {

int64_t lookup(const tok::Tokenizer& t, const std::string& token,
               const std::optional<int64_t>& from_config, const char* config_key) {
  auto id = t.token_to_id(token);
  if (from_config) {
    if (id && *id != *from_config)
      throw ConfigError("config.json: key '" + std::string(config_key) + "' is " +
                        std::to_string(*from_config) + " but tokenizer.json gives " + token +
                        " the id " + std::to_string(*id));
    return *from_config;
  }
  if (!id) throw ConfigError("tokenizer.json: special token " + token + " is missing");
  return *id;
}

}  // namespace

SpecialIds resolve_special_ids(const tok::Tokenizer& tokenizer, const ModelConfig& config,
                               const TokenizerConfigFile& tc) {
  SpecialIds ids;
  const auto& l = config.llm;
  ids.mask =
      lookup(tokenizer, tc.mask_token.value_or(kMaskToken), l.mask_token_id, "mask_token_id");
  ids.eos = lookup(tokenizer, tc.eos_token.value_or(kEosToken), l.eos_token_id, "eos_token_id");
  ids.bos = lookup(tokenizer, tc.bos_token.value_or(kBosToken), l.bos_token_id, "bos_token_id");
  ids.eot = lookup(tokenizer, kEotToken, std::nullopt, "");
  ids.start_header = lookup(tokenizer, kStartHeaderToken, std::nullopt, "");
  ids.end_header = lookup(tokenizer, kEndHeaderToken, std::nullopt, "");
  ids.stop = {ids.eot, ids.eos};
  for (int64_t id : {ids.mask, ids.eos, ids.bos, ids.eot, ids.start_header, ids.end_header})
    if (id < 0 || id >= l.embedding_size)
      throw ConfigError("special token id " + std::to_string(id) +
                        " is outside the embedding table (" + std::to_string(l.embedding_size) +
                        " rows)");
  return ids;
}

}  // namespace shirg
