// shirg_image: decoding against PIL, PIL-exact bicubic resize, anyres geometry, and every
// bad-input case of issue 4 (clear ImageError, no crash, no large allocation).
#include "tests/common/catch.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "engine/vision/anyres.h"
#include "engine/vision/image.h"
#include "tests/vision/test_support.h"

using namespace shirg::vision;
using namespace shirg::vision::testing;
using Catch::Matchers::ContainsSubstring;

namespace {

RgbImage decode(const std::string& bytes, const DecodeLimits& limits = {}) {
  return decode_image(bytes.data(), bytes.size(), limits);
}

int max_abs_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  REQUIRE(a.size() == b.size());
  int m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(int(a[i]) - int(b[i])));
  return m;
}

// Offset of the first JPEG marker `code` (0xFF code), or npos.
std::size_t find_marker(const std::string& jpeg, unsigned char code) {
  for (std::size_t i = 2; i + 1 < jpeg.size(); ++i)
    if (static_cast<unsigned char>(jpeg[i]) == 0xFF &&
        static_cast<unsigned char>(jpeg[i + 1]) == code)
      return i;
  return std::string::npos;
}

}  // namespace

TEST_CASE("decode matches PIL's convert(\"RGB\") for every supported PNG and JPEG mode",
          "[image][reference]") {
  TempDir dir("formats");
  REQUIRE(run_reference("formats " + dir.path.string()) == 0);
  std::istringstream manifest(read_file(dir.file("manifest.txt")));
  std::string name;
  int64_t w = 0, h = 0;
  int count = 0;
  while (manifest >> name >> w >> h) {
    INFO(name);
    const RgbImage img = decode(read_file(dir.file(name)));
    const std::string expected = read_file(dir.file(name + ".rgb"));
    CHECK(img.width == w);
    CHECK(img.height == h);
    REQUIRE(img.rgb.size() == expected.size());
    CHECK(max_abs_diff(img.rgb, std::vector<uint8_t>(expected.begin(), expected.end())) == 0);
    ++count;
  }
  CHECK(count == 13);
}

TEST_CASE("resize_bicubic is bit-exact with PIL Image.resize(BICUBIC)", "[image][reference]") {
  TempDir dir("resize");
  const RgbImage src = synthetic_image(517, 389, 3);
  write_file(dir.file("src.png"), encode_png(src));
  const std::vector<std::pair<int64_t, int64_t>> sizes = {{384, 384}, {672, 672},  {100, 80},
                                                          {1, 1},     {1000, 3},   {17, 389},
                                                          {517, 50},  {1200, 900}, {53, 700}};
  std::string args = "resize " + dir.file("src.png") + " " + dir.file("out.bin");
  for (auto [w, h] : sizes) args += " " + std::to_string(w) + "x" + std::to_string(h);
  REQUIRE(run_reference(args) == 0);
  const std::string all = read_file(dir.file("out.bin"));
  std::size_t off = 0;
  for (auto [w, h] : sizes) {
    INFO(w << "x" << h);
    const RgbImage out = resize_bicubic(src, w, h);
    REQUIRE(out.width == w);
    REQUIRE(out.height == h);
    const std::size_t n = static_cast<std::size_t>(w * h * 3);
    REQUIRE(off + n <= all.size());
    std::vector<uint8_t> expected(all.begin() + off, all.begin() + off + n);
    off += n;
    CHECK(max_abs_diff(out.rgb, expected) == 0);
  }
  CHECK(off == all.size());
}

TEST_CASE("encode_png round-trips through decode_image", "[image]") {
  const RgbImage img = synthetic_image(31, 7, 9);
  const RgbImage back = decode(encode_png(img));
  CHECK(back.width == 31);
  CHECK(back.height == 7);
  CHECK(back.rgb == img.rgb);
  CHECK_THROWS_AS(encode_png(RgbImage{}), ImageError);
}

TEST_CASE("resize rejects empty sources and non-positive targets", "[image]") {
  CHECK_THROWS_AS(resize_bicubic(RgbImage{}, 10, 10), ImageError);
  const RgbImage img = synthetic_image(4, 4);
  CHECK_THROWS_AS(resize_bicubic(img, 0, 10), ImageError);
  CHECK_THROWS_AS(resize_bicubic(img, 10, -1), ImageError);
  CHECK(resize_bicubic(img, 4, 4).rgb == img.rgb);
}

// ------------------------------------------------------------------------------ bad input
TEST_CASE("bad input: empty bytes", "[image][bad]") {
  CHECK_THROWS_WITH(decode_image(nullptr, 0), ContainsSubstring("empty"));
  const std::string none;
  CHECK_THROWS_AS(decode(none), ImageError);
}

TEST_CASE("bad input: unknown format", "[image][bad]") {
  CHECK_THROWS_WITH(decode("GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
                    ContainsSubstring("unsupported image format"));
  CHECK_THROWS_WITH(decode("hello, world"), ContainsSubstring("unsupported image format"));
  CHECK_THROWS_AS(decode(std::string("\x89PN", 3)), ImageError);
}

TEST_CASE("bad input: over the byte limit", "[image][bad]") {
  const std::string png = encode_png(synthetic_image(64, 64));
  DecodeLimits limits;
  limits.max_bytes = png.size() - 1;
  CHECK_THROWS_WITH(decode(png, limits), ContainsSubstring("bytes, more than the limit"));
}

TEST_CASE("bad input: truncated JPEG", "[image][bad]") {
  const std::string jpeg = encode_jpeg(synthetic_image(96, 64));
  REQUIRE_NOTHROW(decode(jpeg));
  CHECK_THROWS_WITH(decode(jpeg.substr(0, jpeg.size() / 2)), ContainsSubstring("truncated"));
  CHECK_THROWS_AS(decode(jpeg.substr(0, 20)), ImageError);  // cut inside the header
  const std::string progressive = encode_jpeg(synthetic_image(96, 64), 90, true);
  REQUIRE_NOTHROW(decode(progressive));
  CHECK_THROWS_AS(decode(progressive.substr(0, progressive.size() * 2 / 3)), ImageError);
}

TEST_CASE("bad input: truncated PNG", "[image][bad]") {
  const std::string png = encode_png(synthetic_image(96, 64));
  CHECK_THROWS_AS(decode(png.substr(0, png.size() - 30)), ImageError);  // inside IDAT
  CHECK_THROWS_AS(decode(png.substr(0, 20)), ImageError);               // inside IHDR
  // Only IEND missing: every pixel is present, so it decodes (as PIL does).
  CHECK(decode(png.substr(0, png.size() - 12)).rgb == synthetic_image(96, 64).rgb);
}

TEST_CASE("bad input: header claiming 100000x100000 pixels", "[image][bad]") {
  // A valid IHDR and nothing else: must be rejected from the header alone, before allocating.
  const std::string png = png_with_header(100000, 100000, "");
  CHECK_THROWS_WITH(decode(png), ContainsSubstring("100000x100000"));
  DecodeLimits wide;
  wide.max_side = 200000;  // now the pixel-count limit must catch it
  CHECK_THROWS_WITH(decode(png, wide), ContainsSubstring("more than the limit of 50000000 pixels"));
  // JPEG: patch the frame header of a real file to 65000x65000.
  std::string jpeg = encode_jpeg(synthetic_image(16, 16));
  const std::size_t sof = find_marker(jpeg, 0xC0);
  REQUIRE(sof != std::string::npos);
  jpeg[sof + 5] = jpeg[sof + 7] = static_cast<char>(0xFD);
  jpeg[sof + 6] = jpeg[sof + 8] = static_cast<char>(0xE8);
  CHECK_THROWS_WITH(decode(jpeg), ContainsSubstring("65000x65000"));
}

TEST_CASE("bad input: zero width or height", "[image][bad]") {
  CHECK_THROWS_WITH(decode(png_with_header(0, 10, "")), ContainsSubstring("empty size"));
  CHECK_THROWS_WITH(decode(png_with_header(10, 0, "")), ContainsSubstring("empty size"));
  std::string jpeg = encode_jpeg(synthetic_image(16, 16));
  const std::size_t sof = find_marker(jpeg, 0xC0);
  REQUIRE(sof != std::string::npos);
  jpeg[sof + 5] = jpeg[sof + 6] = 0;  // height 0
  CHECK_THROWS_AS(decode(jpeg), ImageError);
}

TEST_CASE("bad input: corrupt PNG chunks and CRCs", "[image][bad]") {
  const std::string png = encode_png(synthetic_image(40, 30));
  // IHDR CRC (bytes 29..32).
  std::string bad_ihdr = png;
  bad_ihdr[30] = static_cast<char>(bad_ihdr[30] ^ 0x5A);
  CHECK_THROWS_AS(decode(bad_ihdr), ImageError);
  // A byte inside IDAT's data: CRC mismatch.
  const std::size_t idat = png.find("IDAT");
  REQUIRE(idat != std::string::npos);
  std::string bad_idat = png;
  bad_idat[idat + 10] = static_cast<char>(bad_idat[idat + 10] ^ 0xFF);
  CHECK_THROWS_AS(decode(bad_idat), ImageError);
  // A chunk length pointing far past the end of the data.
  std::string bad_len = png;
  bad_len.replace(idat - 4, 4, be32(0x7FFFFFF0u));
  CHECK_THROWS_AS(decode(bad_len), ImageError);
  // Valid CRCs but a corrupt zlib stream.
  const std::string garbage = png_chunk("IDAT", std::string("\x78\x9c\xff\xff\xff\xff\x00\x01", 8));
  CHECK_THROWS_AS(decode(png_with_header(40, 30, garbage + png_chunk("IEND", ""))), ImageError);
}

TEST_CASE("bad input: JPEG with an invalid Huffman table", "[image][bad]") {
  std::string jpeg = encode_jpeg(synthetic_image(32, 32));
  const std::size_t dht = find_marker(jpeg, 0xC4);
  REQUIRE(dht != std::string::npos);
  for (int i = 0; i < 16; ++i)
    jpeg[dht + 5 + i] = static_cast<char>(0xFF);  // code counts sum far above 256
  CHECK_THROWS_WITH(decode(jpeg), ContainsSubstring("Huffman"));
}

TEST_CASE("edge input: a 1x1 image", "[image][bad]") {
  RgbImage one;
  one.width = one.height = 1;
  one.rgb = {200, 100, 50};
  const RgbImage png = decode(encode_png(one));
  CHECK(png.rgb == one.rgb);
  const RgbImage jpg = decode(encode_jpeg(one, 100));
  CHECK(jpg.width == 1);
  CHECK(jpg.height == 1);
  CHECK(max_abs_diff(jpg.rgb, one.rgb) <= 3);
  const RgbImage up = resize_bicubic(png, 384, 384);
  CHECK(up.rgb.size() == 384u * 384u * 3u);
  CHECK(std::all_of(up.rgb.begin(), up.rgb.end(),
                    [](uint8_t v) { return v == 200 || v == 100 || v == 50; }));
}

TEST_CASE("edge input: a very wide 10000x10 image", "[image][bad]") {
  const RgbImage wide = synthetic_image(10000, 10, 5);
  const RgbImage png = decode(encode_png(wide));
  CHECK(png.rgb == wide.rgb);
  const RgbImage jpg = decode(encode_jpeg(wide));
  CHECK(jpg.width == 10000);
  CHECK(jpg.height == 10);
  const RgbImage sq = resize_bicubic(png, 384, 384);
  CHECK(sq.width == 384);
  const auto best = select_best_resolution(10000, 10, default_grid_pinpoints());
  CHECK(best == Resolution{1152, 384});
  const RgbImage padded = resize_and_pad(png, best);
  CHECK(padded.width == 1152);
  CHECK(padded.height == 384);
  // The resized strip is 1152x2 (ceil), centred: everything else is black padding.
  CHECK(padded.rgb[0] == 0);
  CHECK(padded.rgb[(191 * 1152 + 500) * 3 + 0] != 0);
  DecodeLimits narrow;
  narrow.max_side = 9999;
  CHECK_THROWS_WITH(decode(encode_png(wide), narrow), ContainsSubstring("per side"));
}

// ------------------------------------------------------------------------------ anyres geometry
TEST_CASE("anyres pinpoint choice, padding, tiles and unpad", "[image][anyres]") {
  const auto pins = default_grid_pinpoints();
  CHECK(select_best_resolution(768, 768, pins) == Resolution{768, 768});
  CHECK(select_best_resolution(1000, 500, pins) == Resolution{768, 384});
  CHECK(select_best_resolution(300, 900, pins) == Resolution{384, 1152});
  CHECK(select_best_resolution(200, 200, pins) ==
        Resolution{384, 768});  // all fit fully: least waste, first
  CHECK_THROWS_AS(select_best_resolution(10, 10, {}), ImageError);

  const RgbImage img = synthetic_image(500, 300);
  const RgbImage padded = resize_and_pad(img, {768, 384});
  REQUIRE(padded.width == 768);
  // 500x300 scaled by 384/300 -> 640x384, pasted at x = 64.
  CHECK(padded.rgb[(10 * 768 + 63) * 3 + 2] == 0);
  CHECK(padded.rgb[(10 * 768 + 64) * 3 + 2] != 0);
  const auto tiles = divide_to_tiles(padded, 384);
  REQUIRE(tiles.size() == 2);
  CHECK(std::memcmp(&tiles[1].rgb[0], &padded.rgb[384 * 3], 384 * 3) == 0);
  CHECK_THROWS_AS(divide_to_tiles(img, 384), ImageError);

  const UnpadBox square = unpad_box(28, 28, 768, 768);
  CHECK((square.row0 == 0 && square.row1 == 28 && square.col0 == 0 && square.col1 == 28));
  const UnpadBox wide =
      unpad_box(14, 28, 500, 300);  // 500x300 in a 768x384 canvas: 640 of 768 used
  CHECK((wide.row0 == 0 && wide.row1 == 14 && wide.col0 == 2 && wide.col1 == 26));
  const UnpadBox tall = unpad_box(28, 14, 384, 200);  // landscape in a portrait canvas
  CHECK((tall.row0 == 10 && tall.row1 == 18 && tall.col0 == 0 && tall.col1 == 14));
}
