#include "engine/safetensors/safetensors_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

namespace shirg::st {
namespace {

// A header larger than this is rejected before parsing (real headers are < 1 MiB).
constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw SafetensorsError(file + ": " + what);
}

std::uint64_t read_le_u64(const std::byte* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<std::uint64_t>(p[i]);
  return v;
}

std::uint64_t to_u64(const nlohmann::json& j, const std::string& file, const std::string& what) {
  if (!j.is_number_integer() ||
      (j.is_number_integer() && !j.is_number_unsigned() && j.get<std::int64_t>() < 0))
    fail(file, what + " must be a non-negative integer, got " + j.dump());
  return j.get<std::uint64_t>();
}

}  // namespace

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<TensorView> parse_header(const std::string& json_text, std::size_t data_size,
                                     const std::string& file,
                                     std::map<std::string, std::string>* metadata) {
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    fail(file, std::string("malformed header JSON: ") + e.what());
  }
  if (!header.is_object()) fail(file, "header must be a JSON object");

  std::vector<TensorView> out;
  out.reserve(header.size());
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;  // (begin, end) per tensor
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) fail(file, "__metadata__ must be an object of strings");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string())
          fail(file, "__metadata__[\"" + m.key() + "\"] must be a string");
        if (metadata) (*metadata)[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "'";
    if (!entry.is_object()) fail(file, where + ": entry must be an object");
    if (!entry.contains("dtype") || !entry["dtype"].is_string())
      fail(file, where + ": missing string 'dtype'");
    if (!entry.contains("shape") || !entry["shape"].is_array())
      fail(file, where + ": missing array 'shape'");
    if (!entry.contains("data_offsets") || !entry["data_offsets"].is_array() ||
        entry["data_offsets"].size() != 2)
      fail(file, where + ": 'data_offsets' must be [begin, end]");

    TensorView v;
    v.name = name;
    const std::string dtype_str = entry["dtype"].get<std::string>();
    auto dt = parse_dtype(dtype_str);
    if (!dt) fail(file, where + ": unknown dtype '" + dtype_str + "'");
    v.dtype = *dt;

    // numel with overflow checks (a hostile shape must not wrap around).
    std::uint64_t numel = 1;
    for (const auto& d : entry["shape"]) {
      std::uint64_t dim = to_u64(d, file, where + " shape dimension");
      if (dim > static_cast<std::uint64_t>(std::numeric_limits<int64_t>::max()))
        fail(file, where + ": shape dimension too large");
      if (dim != 0 && numel > std::numeric_limits<std::uint64_t>::max() / dim / 8)
        fail(file, where + ": shape overflows");
      numel *= dim;
      v.shape.push_back(static_cast<int64_t>(dim));
    }
    const std::uint64_t begin = to_u64(entry["data_offsets"][0], file, where + " data_offsets[0]");
    const std::uint64_t end = to_u64(entry["data_offsets"][1], file, where + " data_offsets[1]");
    if (begin > end)
      fail(file, where + ": data_offsets begin " + std::to_string(begin) + " > end " +
                     std::to_string(end));
    if (end > data_size)
      fail(file, where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                     ") outside the data region of " + std::to_string(data_size) + " bytes");
    const std::uint64_t expected = numel * dtype_size(v.dtype);
    if (end - begin != expected)
      fail(file, where + ": byte count " + std::to_string(end - begin) +
                     " does not match shape and dtype " + dtype_str + " (expected " +
                     std::to_string(expected) + ")");
    v.nbytes = static_cast<std::size_t>(expected);
    v.data = reinterpret_cast<const std::byte*>(
        static_cast<std::uintptr_t>(begin));  // rebased by caller
    ranges.emplace_back(begin, end);
    out.push_back(std::move(v));
  }

  // Overlap check over non-empty ranges, sorted by start.
  std::vector<std::size_t> order(out.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return ranges[a] < ranges[b]; });
  for (std::size_t i = 1; i < order.size(); ++i) {
    const auto& prev = ranges[order[i - 1]];
    const auto& cur = ranges[order[i]];
    if (cur.first < prev.second && cur.first != cur.second && prev.first != prev.second)
      fail(file, "tensors '" + out[order[i - 1]].name + "' and '" + out[order[i]].name +
                     "' overlap in the data region");
  }
  return out;
}

std::shared_ptr<const SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    fail(path, std::string("cannot stat: ") + std::strerror(e));
  }
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size > 0) {
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      fail(path, std::string("mmap failed: ") + std::strerror(e));
    }
    f->map_ = m;
    f->map_size_ = size;
  }
  ::close(fd);
  f->index_and_validate(size);
  return f;
}

std::shared_ptr<const SafetensorsFile> SafetensorsFile::from_bytes(std::string bytes,
                                                                   const std::string& label) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = label;
  f->owned_ = std::move(bytes);
  f->index_and_validate(f->owned_.size());
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, map_size_);
}

void SafetensorsFile::index_and_validate(std::size_t file_size) {
  const auto* base = map_ ? static_cast<const std::byte*>(map_)
                          : reinterpret_cast<const std::byte*>(owned_.data());
  if (file_size < 8)
    fail(path_, "truncated file: " + std::to_string(file_size) +
                    " bytes, the 8-byte header length is missing");
  const std::uint64_t n = read_le_u64(base);
  if (n > kMaxHeaderBytes)
    fail(path_, "header length " + std::to_string(n) + " exceeds the 100 MiB limit");
  if (n > file_size - 8)
    fail(path_, "header length " + std::to_string(n) + " goes beyond the end of the file (" +
                    std::to_string(file_size) + " bytes)");
  const std::string json_text(reinterpret_cast<const char*>(base + 8), static_cast<std::size_t>(n));
  const std::size_t data_size = file_size - 8 - static_cast<std::size_t>(n);
  tensors_ = parse_header(json_text, data_size, path_, &metadata_);
  const std::byte* data = base + 8 + n;
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    tensors_[i].data = data + reinterpret_cast<std::uintptr_t>(tensors_[i].data);
    tensors_[i].file_mapped = map_ != nullptr;
    by_name_[tensors_[i].name] = i;
  }
}

std::size_t release_mapped_pages(const TensorView& v) {
  if (!v.file_mapped || v.nbytes == 0) return 0;
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto addr = reinterpret_cast<std::uintptr_t>(v.data);
  const std::uintptr_t begin = (addr + page - 1) / page * page;  // whole pages inside v only:
  const std::uintptr_t end = (addr + v.nbytes) / page * page;    // neighbours keep theirs
  if (end <= begin) return 0;
  // MADV_DONTNEED on a clean private file mapping: the pages are re-read from the file if used.
  if (::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED) != 0) return 0;
  return end - begin;
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace shirg::st
