#include "clients/progress_display.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

namespace shirg::clients {

std::string one_line(const std::string& utf8, std::size_t max_chars) {
  std::string out;
  std::size_t chars = 0;
  for (std::size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    std::size_t len = 1;
    if (c >= 0xF0)
      len = 4;
    else if (c >= 0xE0)
      len = 3;
    else if (c >= 0xC0)
      len = 2;
    len = std::min(len, utf8.size() - i);
    if (chars == max_chars) break;
    if (len == 1 && (c < 0x20 || c == 0x7F))
      out += ' ';
    else
      out.append(utf8, i, len);
    ++chars;
    i += len;
  }
  return out;
}

std::string progress_bar(int64_t done, int64_t total, int width) {
  int filled = 0;
  if (total > 0) {
    filled = static_cast<int>(std::clamp<int64_t>(done, 0, total) * width / total);
  }
  return "[" + std::string(static_cast<std::size_t>(filled), '#') +
         std::string(static_cast<std::size_t>(width - filled), '-') + "]";
}

ProgressDisplay::ProgressDisplay(std::FILE* out, bool live) : out_(out), live_(live) {}

int ProgressDisplay::columns() const {
  winsize ws{};
  if (ioctl(fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

void ProgressDisplay::queued(const std::string& request_id) {
  if (live_) {
    std::fprintf(out_, "\r\033[Kqueued %s", request_id.c_str());
    line_open_ = true;
  } else {
    std::fprintf(out_, "queued %s\n", request_id.c_str());
  }
  std::fflush(out_);
}

void ProgressDisplay::prefix_ready(int64_t prefix_tokens, int64_t visual_tokens,
                                   double elapsed_ms) {
  if (live_) {
    std::fprintf(out_, "\r\033[Kprefix ready: %lld tokens (%lld visual), %.1f ms",
                 static_cast<long long>(prefix_tokens), static_cast<long long>(visual_tokens),
                 elapsed_ms);
    line_open_ = true;
  } else {
    std::fprintf(out_, "prefix ready: %lld tokens (%lld visual), %.1f ms\n",
                 static_cast<long long>(prefix_tokens), static_cast<long long>(visual_tokens),
                 elapsed_ms);
  }
  std::fflush(out_);
}

void ProgressDisplay::step(int64_t step, int64_t total, int64_t committed,
                           const std::string& partial) {
  if (live_) {
    const std::string head = progress_bar(step, total, 20) + " " + std::to_string(step) + "/" +
                             std::to_string(total) + "  ";
    const int room = std::max(0, columns() - 1 - static_cast<int>(head.size()));
    std::fprintf(out_, "\r\033[K%s%s", head.c_str(),
                 one_line(partial, static_cast<std::size_t>(room)).c_str());
    line_open_ = true;
  } else {
    std::fprintf(out_, "step %lld/%lld committed=%lld: %s\n", static_cast<long long>(step),
                 static_cast<long long>(total), static_cast<long long>(committed),
                 one_line(partial, 4096).c_str());
  }
  std::fflush(out_);
}

void ProgressDisplay::finish() {
  if (live_ && line_open_) {
    std::fputs("\n", out_);
    std::fflush(out_);
  }
  line_open_ = false;
}

}  // namespace shirg::clients
