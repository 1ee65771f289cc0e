#pragma once
// Helpers shared by the vision tests: temporary directories, files, the Python reference,
// synthetic images and encoders (TurboJPEG compress, PNG chunk crafting).
#include <turbojpeg.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/vision/image.h"

namespace shirg::vision::testing {

// A fresh directory removed at scope exit.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag) {
    path = std::filesystem::temp_directory_path() /
           ("shirg_vision_" + tag + "_" + std::to_string(::getpid()) + "_" +
            std::to_string(std::rand()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

// Runs tests/vision/vision_reference.py with Debian's Python; returns the exit code.
inline int run_reference(const std::string& args) {
  const std::string cmd = std::string(SHIRG_PYTHON) + " " + SHIRG_SOURCE_DIR +
                          "/tests/vision/vision_reference.py " + args;
  return std::system(cmd.c_str());
}

// Deterministic test picture: smooth gradients, a sharp-edged box and pseudo-random noise, so
// that both the low-pass and the ringing parts of the bicubic kernel matter.
inline RgbImage synthetic_image(int64_t w, int64_t h, uint32_t seed = 1) {
  RgbImage img;
  img.width = w;
  img.height = h;
  img.rgb.resize(static_cast<std::size_t>(w * h * 3));
  uint32_t s = seed * 2654435761u + 12345u;
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      s = s * 1664525u + 1013904223u;
      const int noise = static_cast<int>((s >> 24) % 41) - 20;
      const bool box = x > w / 3 && x < w / 2 && y > h / 4 && y < (2 * h) / 3;
      const int base[3] = {static_cast<int>(255 * x / (w > 1 ? w - 1 : 1)),
                           static_cast<int>(255 * y / (h > 1 ? h - 1 : 1)), box ? 240 : 30};
      for (int c = 0; c < 3; ++c) {
        const int v = base[c] + noise * (c + 1) / 2;
        img.rgb[static_cast<std::size_t>((y * w + x) * 3 + c)] =
            static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
      }
    }
  }
  return img;
}

// Baseline (or progressive) 4:2:0 JPEG of `img` via TurboJPEG.
inline std::string encode_jpeg(const RgbImage& img, int quality = 90, bool progressive = false) {
  tjhandle h = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  const int flags = progressive ? TJFLAG_PROGRESSIVE : 0;
  const int rc =
      tjCompress2(h, img.rgb.data(), static_cast<int>(img.width), 0, static_cast<int>(img.height),
                  TJPF_RGB, &buf, &size, TJSAMP_420, quality, flags);
  std::string out = rc == 0 ? std::string(reinterpret_cast<char*>(buf), size) : std::string();
  tjFree(buf);
  tjDestroy(h);
  if (rc != 0) throw std::runtime_error("tjCompress2 failed");
  return out;
}

inline uint32_t crc32(const std::string& bytes) {
  uint32_t table[256];
  for (uint32_t n = 0; n < 256; ++n) {
    uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[n] = c;
  }
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

inline std::string be32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}

// One PNG chunk with a correct CRC.
inline std::string png_chunk(const std::string& type, const std::string& data) {
  return be32(static_cast<uint32_t>(data.size())) + type + data + be32(crc32(type + data));
}

// Signature + IHDR (8-bit RGB) claiming width x height, then `rest`.
inline std::string png_with_header(uint32_t width, uint32_t height, const std::string& rest) {
  std::string ihdr = be32(width) + be32(height) + std::string("\x08\x02\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + rest;
}

}  // namespace shirg::vision::testing
