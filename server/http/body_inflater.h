#pragma once
// Bounded decoding of a request body's Content-Encoding (gzip or deflate, RFC 9110 8.4.1):
// output is produced in 64 KiB pieces and refused as soon as it would pass the limit, so a
// small compressed body can never expand past the body limit in memory.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace shirg::http {

class BodyInflater {
 public:
  enum class Coding { kGzip, kDeflate };  // deflate: the zlib format (RFC 1950), as HTTP means it
  enum class Result { kOk, kCorrupt, kTooLarge };

  explicit BodyInflater(Coding coding);
  ~BodyInflater();
  BodyInflater(const BodyInflater&) = delete;
  BodyInflater& operator=(const BodyInflater&) = delete;

  // Decodes `n` more bytes, appending to *out; kTooLarge as soon as *out would pass `max_out`
  // bytes (nothing past the limit is appended), kCorrupt for data that is not of the coding.
  // gzip: several members in a row decode to their concatenation (RFC 1952).
  Result inflate(const char* data, std::size_t n, std::string* out, uint64_t max_out);
  // At the end of the body: kOk when the last stream was complete (or no byte came at all).
  Result finish() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace shirg::http
