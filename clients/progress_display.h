// The live progress of a streamed generation on stderr: a redrawn bar over the denoising steps
// with the partial answer when stderr is a terminal, plain lines otherwise.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace shirg::clients {

// Cuts a UTF-8 string to at most max_chars code points (never inside a code point) and replaces
// control characters (newlines, tabs, ...) by spaces so it fits on one terminal line.
std::string one_line(const std::string& utf8, std::size_t max_chars);
// "[#####-----]" of width cells with done/total filled; total <= 0 shows an empty bar.
std::string progress_bar(int64_t done, int64_t total, int width);

class ProgressDisplay {
 public:
  // live: redraw one line with \r (a terminal); else one plain line per event.
  ProgressDisplay(std::FILE* out, bool live);
  void queued(const std::string& request_id);
  void prefix_ready(int64_t prefix_tokens, int64_t visual_tokens, double elapsed_ms);
  void step(int64_t step, int64_t total, int64_t committed, const std::string& partial);
  // Ends the live line (so the answer starts on a fresh line).
  void finish();

 private:
  int columns() const;
  std::FILE* out_;
  bool live_;
  bool line_open_ = false;
};

}  // namespace shirg::clients
