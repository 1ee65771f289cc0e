#include "engine/safetensors/safetensors_writer.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace shirg::st {

void SafetensorsWriter::add(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                            const void* data, std::size_t nbytes) {
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) throw std::invalid_argument("safetensors writer: negative dimension in '" + name + "'");
    numel *= d;
  }
  if (static_cast<std::size_t>(numel) * dtype_size(dtype) != nbytes)
    throw std::invalid_argument("safetensors writer: '" + name + "' has " + std::to_string(nbytes) +
                                " bytes, shape and dtype need " +
                                std::to_string(static_cast<std::size_t>(numel) * dtype_size(dtype)));
  if (entries_.count(name)) throw std::invalid_argument("safetensors writer: duplicate tensor '" + name + "'");
  entries_[name] = Entry{dtype, shape, std::string(static_cast<const char*>(data), nbytes)};
}

void SafetensorsWriter::add_metadata(const std::string& key, const std::string& value) {
  metadata_[key] = value;
}

std::size_t SafetensorsWriter::data_bytes() const {
  std::size_t n = 0;
  for (const auto& [k, e] : entries_) n += e.bytes.size();
  return n;
}

void SafetensorsWriter::write(const std::string& path) const {
  nlohmann::ordered_json header;
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::size_t offset = 0;
  for (const auto& [name, e] : entries_) {
    header[name] = {{"dtype", std::string(dtype_name(e.dtype))},
                    {"shape", e.shape},
                    {"data_offsets", {offset, offset + e.bytes.size()}}};
    offset += e.bytes.size();
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');  // align the data region
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path);
  std::uint64_t n = text.size();
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out.write(len, 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& [name, e] : entries_) out.write(e.bytes.data(), static_cast<std::streamsize>(e.bytes.size()));
  if (!out) throw std::runtime_error("write failed: " + path);
}

}  // namespace shirg::st
