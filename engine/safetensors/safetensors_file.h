#pragma once
// Memory-mapped reader for one .safetensors file.
//
// Format: u64 little-endian header length N, then N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data region; offsets are relative to the data region.
// Every structural problem raises SafetensorsError naming the file and, where known, the tensor.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/safetensors/dtype.h"

namespace shirg::st {

class SafetensorsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A tensor inside a mapping. `data` points into the mapping owned by the file object: it stays
// valid as long as that SafetensorsFile (held by shared_ptr) lives. Bytes are little-endian.
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;
  std::size_t nbytes = 0;
  bool file_mapped = false;  // data lies in a read-only file mapping (SafetensorsFile::open)
  int64_t numel() const;
};

// Once a tensor's bytes have been copied (the loader converts every weight into its own
// storage), drops this process's mapped pages that lie wholly inside `v`, so that resident
// memory holds the copy, not the copy plus the mapping (the kernel's page cache keeps the file).
// `v.data` stays readable: a later read faults the pages back in from the file. No-op for views
// that are not file-mapped (from_bytes). Returns the bytes released.
std::size_t release_mapped_pages(const TensorView& v);

// Parses and validates a header (the JSON text, `data_size` = bytes after the header).
// Exposed separately for tests and the fuzzer. `file` only labels error messages.
std::vector<TensorView> parse_header(const std::string& json_text, std::size_t data_size,
                                     const std::string& file,
                                     std::map<std::string, std::string>* metadata);

class SafetensorsFile {
 public:
  // Maps `path` read-only and validates the header. Throws SafetensorsError.
  static std::shared_ptr<const SafetensorsFile> open(const std::string& path);
  // Same validation over bytes already in memory (copied; used by tests and the fuzzer).
  static std::shared_ptr<const SafetensorsFile> from_bytes(std::string bytes,
                                                           const std::string& label);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // nullptr when absent.
  const TensorView* find(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  void index_and_validate(std::size_t file_size);
  std::string path_;
  void* map_ = nullptr;  // mmap'd region (or nullptr when backed by owned_)
  std::size_t map_size_ = 0;
  std::string owned_;  // from_bytes storage
  std::vector<TensorView> tensors_;
  std::map<std::string, std::size_t> by_name_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace shirg::st
