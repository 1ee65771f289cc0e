#include "engine/safetensors/safetensors_writer.h"

#include <stdexcept>

#include "engine/safetensors/safetensors_stream_writer.h"

namespace shirg::st {

void SafetensorsWriter::add(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                            const void* data, std::size_t nbytes) {
  const std::size_t need = TensorSpec{name, dtype, shape}.nbytes();  // refuses negative dims
  if (need != nbytes)
    throw std::invalid_argument("safetensors writer: '" + name + "' has " + std::to_string(nbytes) +
                                " bytes, shape and dtype need " + std::to_string(need));
  if (entries_.count(name))
    throw std::invalid_argument("safetensors writer: duplicate tensor '" + name + "'");
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
  std::vector<TensorSpec> specs;
  specs.reserve(entries_.size());
  for (const auto& [name, e] : entries_) specs.push_back(TensorSpec{name, e.dtype, e.shape});
  SafetensorsStreamWriter out(path, std::move(specs), metadata_);
  for (const auto& [name, e] : entries_)
    out.append(e.bytes.data(), e.bytes.size());  // map order == sorted
  out.finish();
}

}  // namespace shirg::st
