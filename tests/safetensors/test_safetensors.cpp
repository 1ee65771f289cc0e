// Safetensors reader: round trips and every malformed-input case (each must raise a clear
// SafetensorsError naming the file and the tensor or key).
#include "tests/common/catch.h"

#include <unistd.h>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "engine/safetensors/checkpoint.h"
#include "engine/safetensors/safetensors_file.h"
#include "engine/safetensors/safetensors_stream_writer.h"
#include "engine/safetensors/safetensors_writer.h"

namespace fs = std::filesystem;
using namespace shirg::st;
using Catch::Matchers::ContainsSubstring;

namespace {

std::string with_header(const std::string& json, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + json + data;
}

fs::path temp_dir(const std::string& name) {
  fs::path p =
      fs::temp_directory_path() / ("shirg_test_st_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const SafetensorsError& e) {
    return e.what();
  }
  return "<no error>";
}

// This process's resident file-backed memory (RssFile in /proc/self/status), bytes.
int64_t rss_file_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("RssFile:", 0) == 0) return std::stoll(line.substr(8)) * 1024;
  return -1;
}

}  // namespace

TEST_CASE("copied tensors give their mapped pages back and stay readable") {
  const auto dir = temp_dir("release");
  const std::size_t n = 4 << 20;  // 16 MiB of f32
  std::vector<float> values(n);
  for (std::size_t i = 0; i < n; ++i) values[i] = static_cast<float>(i % 1000) * 0.5f;
  const float small[3] = {1, 2, 3};
  SafetensorsWriter w;
  w.add("small", DType::F32, {3}, small, sizeof small);
  w.add("big", DType::F32, {static_cast<int64_t>(n)}, values.data(), n * sizeof(float));
  w.write((dir / "x.safetensors").string());

  auto f = SafetensorsFile::open((dir / "x.safetensors").string());
  const TensorView* big = f->find("big");
  REQUIRE(big);
  CHECK(big->file_mapped);
  volatile float sum = 0;
  for (std::size_t i = 0; i < n; i += 1024)
    sum = sum + reinterpret_cast<const float*>(big->data)[i];
  const int64_t touched = rss_file_bytes();
  const std::size_t released = release_mapped_pages(*big);
  // Whole pages inside the tensor only: all of it but at most one partial page at each end.
  CHECK(released + 2 * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) >= big->nbytes);
  CHECK(released <= big->nbytes);
  CHECK(rss_file_bytes() <= touched - static_cast<int64_t>(released) + (1 << 20));
  // The bytes are still there (faulted back in from the file), and the neighbour is untouched.
  CHECK(std::memcmp(big->data, values.data(), big->nbytes) == 0);
  CHECK(std::memcmp(f->find("small")->data, small, sizeof small) == 0);
  // A tensor smaller than a page has no whole page to give back.
  CHECK(release_mapped_pages(*f->find("small")) == 0);

  // Views over bytes in memory (from_bytes) are never released: that memory is the only copy.
  std::ifstream in(dir / "x.safetensors", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto m = SafetensorsFile::from_bytes(bytes, "in-memory");
  CHECK_FALSE(m->find("big")->file_mapped);
  CHECK(release_mapped_pages(*m->find("big")) == 0);
  CHECK(std::memcmp(m->find("big")->data, values.data(), big->nbytes) == 0);
}

TEST_CASE("writer and reader round-trip every dtype through a mapped file") {
  const auto dir = temp_dir("roundtrip");
  SafetensorsWriter w;
  const float f32[6] = {1, -2, 3.5f, 0, 1e-3f, 7};
  const uint16_t bf16[2] = {0x3f80, 0xc000};  // 1.0, -2.0
  const uint16_t f16[2] = {0x3c00, 0xc000};
  const int64_t i64[3] = {-1, 0, 1LL << 40};
  const int32_t i32[1] = {42};
  const uint8_t u8[4] = {1, 2, 3, 255};
  w.add("a.f32", DType::F32, {2, 3}, f32, sizeof f32);
  w.add("b.bf16", DType::BF16, {2}, bf16, sizeof bf16);
  w.add("c.f16", DType::F16, {2}, f16, sizeof f16);
  w.add("d.i64", DType::I64, {3}, i64, sizeof i64);
  w.add("e.i32", DType::I32, {1}, i32, sizeof i32);
  w.add("f.u8", DType::U8, {2, 2}, u8, sizeof u8);
  w.add("g.empty", DType::F32, {0, 4}, nullptr, 0);
  w.add_metadata("format", "pt");
  w.write((dir / "x.safetensors").string());

  auto f = SafetensorsFile::open((dir / "x.safetensors").string());
  REQUIRE(f->tensors().size() == 7);
  REQUIRE(f->metadata().at("format") == "pt");
  const TensorView* a = f->find("a.f32");
  REQUIRE(a);
  CHECK(a->dtype == DType::F32);
  CHECK(a->shape == std::vector<int64_t>{2, 3});
  CHECK(a->numel() == 6);
  CHECK(std::memcmp(a->data, f32, sizeof f32) == 0);
  CHECK(std::memcmp(f->find("b.bf16")->data, bf16, sizeof bf16) == 0);
  CHECK(std::memcmp(f->find("d.i64")->data, i64, sizeof i64) == 0);
  CHECK(f->find("g.empty")->nbytes == 0);
  CHECK(f->find("nope") == nullptr);
  // Data region is 8-byte aligned (header padded).
  std::ifstream in(dir / "x.safetensors", std::ios::binary);
  unsigned char len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
  CHECK((8 + n) % 8 == 0);
}

TEST_CASE("sharded checkpoint through model.safetensors.index.json") {
  const auto dir = temp_dir("sharded");
  const float x[2] = {1, 2}, y[3] = {3, 4, 5};
  SafetensorsWriter w1, w2;
  w1.add("x", DType::F32, {2}, x, sizeof x);
  w2.add("y", DType::F32, {3}, y, sizeof y);
  w1.write((dir / "model-00001-of-00002.safetensors").string());
  w2.write((dir / "model-00002-of-00002.safetensors").string());
  write_bytes(
      dir / "model.safetensors.index.json",
      R"({"metadata": {"total_size": 20}, "weight_map": {"x": "model-00001-of-00002.safetensors",
                 "y": "model-00002-of-00002.safetensors"}})");
  auto c = Checkpoint::open_dir(dir.string());
  CHECK(c.names() == std::vector<std::string>{"x", "y"});
  CHECK(c.files().size() == 2);
  CHECK(c.total_bytes() == 20);
  CHECK(reinterpret_cast<const float*>(c.find("y")->data)[2] == 5.0f);
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_CASE(
    "the stream writer, fed in header order and in chunks, writes the same bytes as the writer") {
  const auto dir = temp_dir("stream");
  const float a[6] = {1, 2, 3, 4, 5, 6};
  const uint16_t b[3] = {0x3f80, 0xc000, 0x4000};
  SafetensorsWriter w;
  w.add("z.b", DType::BF16, {3}, b, sizeof b);
  w.add("a.a", DType::F32, {2, 3}, a, sizeof a);
  w.add("m.empty", DType::F32, {0}, nullptr, 0);
  w.add_metadata("format", "pt");
  w.write((dir / "whole.safetensors").string());

  // Declared out of order: the stream writer sorts by name and asks for the data in that order.
  SafetensorsStreamWriter s(
      (dir / "stream.safetensors").string(),
      {{"z.b", DType::BF16, {3}}, {"m.empty", DType::F32, {0}}, {"a.a", DType::F32, {2, 3}}},
      {{"format", "pt"}});
  REQUIRE(s.order().size() == 3);
  CHECK(s.order()[0].name == "a.a");
  CHECK(s.order()[1].name == "m.empty");
  CHECK(s.order()[2].name == "z.b");
  s.append(a, 2 * sizeof(float));
  CHECK(s.next_index() == 0);
  s.append(a + 2, 4 * sizeof(float));
  CHECK(s.next_index() == 2);  // the empty tensor needs no data
  s.append(b, sizeof b);
  CHECK(s.next_index() == 3);
  s.finish();
  CHECK(s.data_bytes() == sizeof a + sizeof b);
  CHECK(read_all(dir / "stream.safetensors") == read_all(dir / "whole.safetensors"));
  auto f = SafetensorsFile::open((dir / "stream.safetensors").string());
  CHECK(std::memcmp(f->find("a.a")->data, a, sizeof a) == 0);
}

TEST_CASE("the stream writer's zeros: holes that read back as zeros, also at the file's end") {
  const auto dir = temp_dir("stream_zeros");
  const float a[4] = {1, 2, 3, 4};
  SafetensorsWriter w;
  const float zero4[4] = {0, 0, 0, 0};
  w.add("a", DType::F32, {4}, a, sizeof a);
  w.add("b", DType::F32, {4}, zero4, sizeof zero4);
  w.add("c", DType::F32, {4}, zero4, sizeof zero4);
  w.write((dir / "whole.safetensors").string());

  SafetensorsStreamWriter s(
      (dir / "zeros.safetensors").string(),
      {{"a", DType::F32, {4}}, {"b", DType::F32, {4}}, {"c", DType::F32, {4}}});
  s.append(a, sizeof a);
  s.append_zeros(2 * sizeof(float));  // b in two pieces
  s.append_zeros(2 * sizeof(float));
  s.append_zeros(4 * sizeof(float));  // c: the file ends in a hole
  CHECK_THROWS_AS(s.append_zeros(1), std::logic_error);
  s.finish();
  CHECK(read_all(dir / "zeros.safetensors") == read_all(dir / "whole.safetensors"));
  auto f = SafetensorsFile::open((dir / "zeros.safetensors").string());
  CHECK(reinterpret_cast<const float*>(f->find("c")->data)[3] == 0.0f);
}

TEST_CASE("the stream writer rejects duplicates, overruns, extra data and an incomplete file") {
  const auto dir = temp_dir("stream_bad");
  const std::string path = (dir / "x.safetensors").string();
  const float a[4] = {1, 2, 3, 4};
  CHECK_THROWS_AS(SafetensorsStreamWriter(path, {{"x", DType::F32, {1}}, {"x", DType::F32, {1}}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(SafetensorsStreamWriter(path, {{"x", DType::F32, {-1}}}), std::invalid_argument);
  SafetensorsStreamWriter over(path, {{"x", DType::F32, {2}}, {"y", DType::F32, {1}}});
  CHECK_THROWS_AS(over.append(a, 3 * sizeof(float)), std::logic_error);  // crosses into "y"
  SafetensorsStreamWriter extra(path, {{"x", DType::F32, {1}}});
  extra.append(a, sizeof(float));
  CHECK_THROWS_AS(extra.append(a, sizeof(float)), std::logic_error);
  SafetensorsStreamWriter partial(path, {{"x", DType::F32, {4}}});
  partial.append(a, sizeof(float));
  CHECK_THROWS_WITH(partial.finish(), ContainsSubstring("'x' incomplete (4 of 16 bytes)"));
}

TEST_CASE("truncated file is rejected") {
  auto msg = error_of(
      [] { SafetensorsFile::from_bytes(std::string("\x10\x00\x00", 3), "trunc.safetensors"); });
  CHECK_THAT(msg, ContainsSubstring("trunc.safetensors") && ContainsSubstring("truncated"));
}

TEST_CASE("header length beyond the file is rejected") {
  std::string bytes = with_header("{}", "");
  bytes[0] = static_cast<char>(200);  // claims 200 header bytes, file has 2
  auto msg = error_of([&] { SafetensorsFile::from_bytes(bytes, "big.safetensors"); });
  CHECK_THAT(
      msg, ContainsSubstring("big.safetensors") && ContainsSubstring("beyond the end of the file"));
}

TEST_CASE("huge header length is rejected before reading it") {
  std::string bytes = with_header("{}", "");
  bytes[7] = 0x7f;  // ~9e18 bytes
  auto msg = error_of([&] { SafetensorsFile::from_bytes(bytes, "h.safetensors"); });
  CHECK_THAT(msg, ContainsSubstring("exceeds"));
}

TEST_CASE("malformed header JSON is rejected") {
  auto msg = error_of(
      [] { SafetensorsFile::from_bytes(with_header("{\"a\": [1, 2", ""), "bad.safetensors"); });
  CHECK_THAT(msg,
             ContainsSubstring("bad.safetensors") && ContainsSubstring("malformed header JSON"));
  auto msg2 =
      error_of([] { SafetensorsFile::from_bytes(with_header("[1,2]", ""), "arr.safetensors"); });
  CHECK_THAT(msg2, ContainsSubstring("must be a JSON object"));
}

TEST_CASE("data offsets outside the data region are rejected") {
  const std::string h = R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})";
  auto msg = error_of(
      [&] { SafetensorsFile::from_bytes(with_header(h, std::string(8, '\0')), "o.safetensors"); });
  CHECK_THAT(msg, ContainsSubstring("tensor 'w'") && ContainsSubstring("outside the data region"));
}

TEST_CASE("overlapping data offsets are rejected") {
  const std::string h = R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                           "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})";
  auto msg = error_of([&] {
    SafetensorsFile::from_bytes(with_header(h, std::string(12, '\0')), "ov.safetensors");
  });
  CHECK_THAT(msg,
             ContainsSubstring("overlap") && ContainsSubstring("'a'") && ContainsSubstring("'b'"));
}

TEST_CASE("unknown dtype is rejected") {
  const std::string h = R"({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}})";
  auto msg = error_of(
      [&] { SafetensorsFile::from_bytes(with_header(h, std::string(2, '\0')), "d.safetensors"); });
  CHECK_THAT(msg, ContainsSubstring("tensor 'w'") && ContainsSubstring("unknown dtype 'F8_E4M3'"));
}

TEST_CASE("byte count not matching the shape is rejected") {
  const std::string h = R"({"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 8]}})";
  auto msg = error_of(
      [&] { SafetensorsFile::from_bytes(with_header(h, std::string(8, '\0')), "n.safetensors"); });
  CHECK_THAT(msg, ContainsSubstring("tensor 'w'") && ContainsSubstring("does not match shape") &&
                      ContainsSubstring("expected 6"));
}

TEST_CASE("negative or non-integer shapes and offsets are rejected") {
  const std::string h1 = R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}})";
  CHECK_THAT(error_of([&] { SafetensorsFile::from_bytes(with_header(h1, ""), "s.safetensors"); }),
             ContainsSubstring("non-negative integer"));
  const std::string h2 = R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}})";
  CHECK_THAT(error_of([&] {
               SafetensorsFile::from_bytes(with_header(h2, std::string(4, '\0')), "s.safetensors");
             }),
             ContainsSubstring("begin 4 > end 0"));
  const std::string h3 =
      R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 0]}})";
  CHECK_THAT(error_of([&] { SafetensorsFile::from_bytes(with_header(h3, ""), "s.safetensors"); }),
             ContainsSubstring("overflow"));
}

TEST_CASE("a shard named in the index but missing is rejected") {
  const auto dir = temp_dir("missing_shard");
  const float x[1] = {1};
  SafetensorsWriter w;
  w.add("x", DType::F32, {1}, x, sizeof x);
  w.write((dir / "model-00001-of-00002.safetensors").string());
  write_bytes(
      dir / "model.safetensors.index.json",
      R"({"weight_map": {"x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}})");
  auto msg = error_of([&] { Checkpoint::open_dir(dir.string()); });
  CHECK_THAT(msg, ContainsSubstring("model-00002-of-00002.safetensors") &&
                      ContainsSubstring("missing") && ContainsSubstring("'y'"));
}

TEST_CASE("a tensor listed in the index but absent from its shard is rejected") {
  const auto dir = temp_dir("absent_tensor");
  const float x[1] = {1};
  SafetensorsWriter w;
  w.add("x", DType::F32, {1}, x, sizeof x);
  w.write((dir / "a.safetensors").string());
  write_bytes(dir / "model.safetensors.index.json",
              R"({"weight_map": {"x": "a.safetensors", "z": "a.safetensors"}})");
  CHECK_THAT(error_of([&] { Checkpoint::open_dir(dir.string()); }),
             ContainsSubstring("'z'") && ContainsSubstring("absent"));
}

TEST_CASE("a directory without weights is rejected") {
  const auto dir = temp_dir("empty");
  CHECK_THAT(error_of([&] { Checkpoint::open_dir(dir.string()); }),
             ContainsSubstring("model.safetensors"));
}
