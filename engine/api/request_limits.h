#pragma once
// The bounds every request is checked against: ONE type shared by the RPC edge (server/), the
// executor and the pipeline, built once from the server's flags. Defaults are the flags'
// defaults (docs/server.md). Model-dependent bounds (the selection's K range, the context
// length) come from the loaded model's config, not from here.
#include <cstdint>

namespace shirg {

struct RequestLimits {
  int64_t max_image_bytes = 32 << 20;     // encoded image (--max-image-mib)
  int64_t max_image_pixels = 50'000'000;  // decoded width x height (--max-image-pixels)
  int64_t max_question_bytes = 8192;      // UTF-8 bytes (--max-question-bytes)
  int64_t max_question_tokens = 512;      // tokens (--max-question-tokens)
  int64_t max_gen_length = 1024;          // generation.gen_length (--max-gen-length)
  int64_t max_steps = 1024;               // generation.steps (--max-steps)
};

}  // namespace shirg
