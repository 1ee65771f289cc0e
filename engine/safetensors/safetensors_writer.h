#pragma once
// Writes .safetensors files (used by the model writer and the tensor dumps).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/safetensors/dtype.h"

namespace shirg::st {

class SafetensorsWriter {
 public:
  // Copies `nbytes` bytes (little-endian element data). nbytes must equal numel * dtype_size.
  void add(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
           const void* data, std::size_t nbytes);
  void add_metadata(const std::string& key, const std::string& value);
  // Writes header (sorted by name, 8-byte aligned) and data. Throws std::runtime_error on I/O.
  void write(const std::string& path) const;
  std::size_t data_bytes() const;
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    DType dtype;
    std::vector<int64_t> shape;
    std::string bytes;
  };
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace shirg::st
