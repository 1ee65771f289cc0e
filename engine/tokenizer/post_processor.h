#pragma once
// tokenizer.json "post_processor", applied when encode(..., add_special_tokens = true):
// ByteLevel (ids unchanged), TemplateProcessing (its "single" template), BertProcessing and
// RobertaProcessing (cls + ids + sep), Sequence of those. Other types are a load error.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/json_fields.h"

namespace shirg::tok {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual void add_special_tokens(std::vector<int64_t>& ids) const = 0;
};

// Null JSON -> nullptr (nothing added).
std::unique_ptr<PostProcessor> make_post_processor(const nlohmann::json& j, const std::string& path,
                                                   const JsonCtx& ctx);

}  // namespace shirg::tok
