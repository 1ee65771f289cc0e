#pragma once
// The one exception type of the tokenizer module. Load errors name the JSON field or component.
#include <stdexcept>
#include <string>

namespace shirg::tok {

class TokenizerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace shirg::tok
