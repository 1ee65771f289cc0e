#include "engine/safetensors/safetensors_stream_writer.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

namespace shirg::st {

std::size_t TensorSpec::nbytes() const {
  std::size_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0)
      throw std::invalid_argument("safetensors writer: negative dimension in '" + name + "'");
    numel *= static_cast<std::size_t>(d);
  }
  return numel * dtype_size(dtype);
}

SafetensorsStreamWriter::SafetensorsStreamWriter(const std::string& path,
                                                 std::vector<TensorSpec> specs,
                                                 const std::map<std::string, std::string>& metadata)
    : path_(path), specs_(std::move(specs)) {
  std::sort(specs_.begin(), specs_.end(),
            [](const TensorSpec& a, const TensorSpec& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < specs_.size(); ++i)
    if (specs_[i].name == specs_[i - 1].name)
      throw std::invalid_argument("safetensors writer: duplicate tensor '" + specs_[i].name + "'");
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::size_t offset = 0;
  for (const auto& s : specs_) {
    const std::size_t n = s.nbytes();
    header[s.name] = {{"dtype", std::string(dtype_name(s.dtype))},
                      {"shape", s.shape},
                      {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');  // align the data region
  out_.open(path, std::ios::binary | std::ios::trunc);
  if (!out_) throw std::runtime_error("cannot write " + path);
  const std::uint64_t n = text.size();
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out_.write(len, 8);
  out_.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out_) throw std::runtime_error("write failed: " + path);
  data_start_ = 8 + text.size();
  skip_empty();
}

void SafetensorsStreamWriter::skip_empty() {
  while (current_ < specs_.size() && written_in_current_ == specs_[current_].nbytes()) {
    ++current_;
    written_in_current_ = 0;
  }
}

void SafetensorsStreamWriter::advance(std::size_t nbytes) {
  if (current_ >= specs_.size())
    throw std::logic_error("safetensors writer: " + std::to_string(nbytes) +
                           " bytes after the last tensor of " + path_);
  const TensorSpec& s = specs_[current_];
  if (written_in_current_ + nbytes > s.nbytes())
    throw std::logic_error("safetensors writer: '" + s.name + "' needs " +
                           std::to_string(s.nbytes()) + " bytes, got " +
                           std::to_string(written_in_current_ + nbytes));
}

void SafetensorsStreamWriter::append(const void* data, std::size_t nbytes) {
  if (nbytes == 0) return;  // e.g. an empty tensor's data: nothing to place
  advance(nbytes);
  out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(nbytes));
  if (!out_) throw std::runtime_error("write failed: " + path_);
  written_in_current_ += nbytes;
  total_ += nbytes;
  skip_empty();
}

void SafetensorsStreamWriter::append_zeros(std::size_t nbytes) {
  if (nbytes == 0) return;
  advance(nbytes);
  out_.seekp(static_cast<std::streamoff>(nbytes), std::ios::cur);
  if (!out_) throw std::runtime_error("seek failed: " + path_);
  written_in_current_ += nbytes;
  total_ += nbytes;
  skip_empty();
}

void SafetensorsStreamWriter::finish() {
  if (current_ < specs_.size())
    throw std::logic_error("safetensors writer: '" + specs_[current_].name + "' incomplete (" +
                           std::to_string(written_in_current_) + " of " +
                           std::to_string(specs_[current_].nbytes()) + " bytes) in " + path_);
  out_.close();
  if (!out_) throw std::runtime_error("write failed: " + path_);
  // A trailing run of append_zeros() is a seek past the end: give the file its full size.
  std::error_code ec;
  if (std::filesystem::file_size(path_, ec) < data_start_ + total_) {
    std::filesystem::resize_file(path_, data_start_ + total_, ec);
    if (ec) throw std::runtime_error("cannot extend " + path_ + ": " + ec.message());
  }
}

}  // namespace shirg::st
