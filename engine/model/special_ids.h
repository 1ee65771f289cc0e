#pragma once
// Resolves the token ids the engine needs from the tokenizer and config (never constants).
#include "engine/config/model_config.h"
#include "engine/model/model.h"

namespace shirg {

// LLaDA's special-token strings; their ids are looked up in tokenizer.json.
inline constexpr const char* kMaskToken = "<|mdm_mask|>";
inline constexpr const char* kEosToken = "<|endoftext|>";
inline constexpr const char* kBosToken = "<|startoftext|>";
inline constexpr const char* kEotToken = "<|eot_id|>";
inline constexpr const char* kStartHeaderToken = "<|start_header_id|>";
inline constexpr const char* kEndHeaderToken = "<|end_header_id|>";

// Throws ConfigError naming the token that could not be resolved, or a conflict between
// config.json's id and the tokenizer's.
SpecialIds resolve_special_ids(const tok::Tokenizer& tokenizer, const ModelConfig& config,
                               const TokenizerConfigFile& tokenizer_config);

}  // namespace shirg
