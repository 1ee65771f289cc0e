#pragma once
// Writes one .safetensors file tensor by tensor, so a writer never holds more than the tensor
// (or chunk) it is writing. Every tensor's name, dtype and shape is declared up front (the header
// holds all offsets), then the data is appended in header order: tensors sorted by name, the
// same layout SafetensorsWriter produces.
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "engine/safetensors/dtype.h"

namespace shirg::st {

struct TensorSpec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::size_t nbytes() const;  // numel * dtype_size; throws std::invalid_argument on a negative dim
};

class SafetensorsStreamWriter {
 public:
  // Validates the specs (unique names, non-negative dims), opens `path` and writes the header
  // (8-byte little-endian length, JSON padded with spaces to an 8-byte data start).
  // Throws std::invalid_argument (bad specs) or std::runtime_error (I/O).
  SafetensorsStreamWriter(const std::string& path, std::vector<TensorSpec> specs,
                          const std::map<std::string, std::string>& metadata = {});

  // The tensors in the order their data must be appended (sorted by name).
  const std::vector<TensorSpec>& order() const { return specs_; }
  // Index into order() of the tensor the next append() belongs to (== order().size() when done).
  std::size_t next_index() const { return current_; }

  // Appends `nbytes` bytes of the current tensor; a tensor may arrive in several chunks and the
  // writer moves on once it is complete. Throws std::logic_error if the bytes overrun the current
  // tensor or all tensors are complete, std::runtime_error on I/O. Zero bytes are a no-op.
  void append(const void* data, std::size_t nbytes);
  // Appends `nbytes` zero bytes of the current tensor without writing them: the file gets a hole
  // (sparse where the filesystem supports it), so a checkpoint of zeros takes neither disk nor
  // time. Same rules as append().
  void append_zeros(std::size_t nbytes);
  // Checks every tensor is complete, flushes and closes. Throws std::logic_error / runtime_error.
  void finish();

  std::size_t data_bytes() const { return total_; }

 private:
  void skip_empty();
  void advance(std::size_t nbytes);  // checks and counts nbytes of the current tensor
  std::string path_;
  std::vector<TensorSpec> specs_;
  std::ofstream out_;
  std::size_t current_ = 0;
  std::size_t written_in_current_ = 0;
  std::size_t total_ = 0;
  std::size_t data_start_ = 0;  // header bytes before the data region
};

}  // namespace shirg::st
