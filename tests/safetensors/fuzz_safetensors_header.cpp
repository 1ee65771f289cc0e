// libFuzzer: any bytes given to the safetensors reader either parse or raise SafetensorsError.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/safetensors/safetensors_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = shirg::st::SafetensorsFile::from_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    for (const auto& t : f->tensors()) {
      volatile std::byte sink{};
      if (t.nbytes) sink = t.data[t.nbytes - 1];  // every view must lie inside the buffer
      (void)sink;
    }
  } catch (const shirg::st::SafetensorsError&) {
  }
  return 0;
}
