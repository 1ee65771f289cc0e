#include "server/http/body_inflater.h"

#include <zlib.h>

#include <stdexcept>

namespace shirg::http {

struct BodyInflater::State {
  z_stream z{};
  Coding coding;
  bool in_stream = false;  // bytes of a stream were given and its end not seen yet
  bool ended = false;      // deflate: the one stream ended (more data is corrupt)
};

BodyInflater::BodyInflater(Coding coding) : s_(std::make_unique<State>()) {
  s_->coding = coding;
  // 15 + 16: a gzip wrapper; 15: a zlib wrapper. 32 KiB window either way.
  if (inflateInit2(&s_->z, coding == Coding::kGzip ? 15 + 16 : 15) != Z_OK)
    throw std::runtime_error("zlib inflateInit2 failed");
}

BodyInflater::~BodyInflater() {
  inflateEnd(&s_->z);
}

BodyInflater::Result BodyInflater::inflate(const char* data, std::size_t n, std::string* out,
                                           uint64_t max_out) {
  if (n == 0) return Result::kOk;
  if (s_->ended) return Result::kCorrupt;
  constexpr std::size_t kPiece = std::size_t{1} << 30;  // z_stream counts in 32 bits
  if (n > kPiece) {
    const Result r = inflate(data, kPiece, out, max_out);
    return r != Result::kOk ? r : inflate(data + kPiece, n - kPiece, out, max_out);
  }
  z_stream& z = s_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  z.avail_in = static_cast<uInt>(n);
  unsigned char buf[64 << 10];
  for (;;) {
    if (z.avail_in > 0) s_->in_stream = true;
    z.next_out = buf;
    z.avail_out = sizeof buf;
    const uInt in_before = z.avail_in;
    const int rc = ::inflate(&z, Z_NO_FLUSH);
    const std::size_t produced = sizeof buf - z.avail_out;
    if (produced > 0) {
      if (out->size() + produced > max_out) return Result::kTooLarge;
      out->append(reinterpret_cast<const char*>(buf), produced);
    }
    if (rc == Z_STREAM_END) {
      s_->in_stream = false;
      if (s_->coding == Coding::kDeflate) {
        s_->ended = true;
        return z.avail_in > 0 ? Result::kCorrupt : Result::kOk;
      }
      if (z.avail_in == 0) return Result::kOk;
      if (inflateReset(&z) != Z_OK) return Result::kCorrupt;  // the next gzip member
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) return Result::kCorrupt;
    // All input taken and the output not full: nothing more to produce until more input.
    if (z.avail_in == 0 && z.avail_out != 0) return Result::kOk;
    if (produced == 0 && z.avail_in == in_before) return Result::kCorrupt;  // no progress
  }
}

BodyInflater::Result BodyInflater::finish() const {
  return s_->in_stream ? Result::kCorrupt : Result::kOk;
}

}  // namespace shirg::http
