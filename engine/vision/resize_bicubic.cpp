// Pillow's ImagingResample (Resample.c) for 8-bit RGB with the BICUBIC filter, reproduced
// bit for bit: double-precision coefficients normalised per output pixel, converted to 22-bit
// fixed point, horizontal pass into an intermediate 8-bit image, then the vertical pass.
#include <algorithm>
#include <cmath>
#include <string>

#include "engine/vision/image.h"

namespace shirg::vision {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// Coefficients of one axis: for output index i, taps [bounds[2i], bounds[2i] + bounds[2i+1]).
struct Coeffs {
  int ksize = 0;
  std::vector<int> bounds;  // (xmin, count) per output pixel
  std::vector<int32_t> kk;  // fixed point, ksize per output pixel
};

Coeffs precompute(int in_size, int out_size) {
  const double in0 = 0.0, in1 = in_size;
  double scale = (in1 - in0) / out_size;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 2.0 * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(static_cast<std::size_t>(out_size) * 2);
  c.kk.assign(static_cast<std::size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = bicubic_filter((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x) {
      if (ww != 0.0) k[x] /= ww;
    }
    int32_t* dst = &c.kk[static_cast<std::size_t>(xx) * c.ksize];
    for (int x = 0; x < xmax; ++x) {
      const double v = k[x] * (1 << kPrecisionBits);
      dst[x] = static_cast<int32_t>(v < 0 ? -0.5 + v : 0.5 + v);
    }
    c.bounds[xx * 2] = xmin;
    c.bounds[xx * 2 + 1] = xmax;
  }
  return c;
}

inline uint8_t clip8(int32_t in) {
  if (in >= (1 << kPrecisionBits << 8)) return 255;
  if (in <= 0) return 0;
  return static_cast<uint8_t>(in >> kPrecisionBits);
}

// Rows [row0, row0 + out.height) of `in` resized horizontally into `out` (same height).
void horizontal(const RgbImage& in, int64_t row0, const Coeffs& c, RgbImage& out) {
  for (int64_t yy = 0; yy < out.height; ++yy) {
    const uint8_t* src = &in.rgb[static_cast<std::size_t>((yy + row0) * in.width * 3)];
    uint8_t* dst = &out.rgb[static_cast<std::size_t>(yy * out.width * 3)];
    for (int64_t xx = 0; xx < out.width; ++xx) {
      const int xmin = c.bounds[xx * 2], xmax = c.bounds[xx * 2 + 1];
      const int32_t* k = &c.kk[static_cast<std::size_t>(xx) * c.ksize];
      int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int x = 0; x < xmax; ++x) {
        const uint8_t* p = src + (x + xmin) * 3;
        s0 += p[0] * k[x];
        s1 += p[1] * k[x];
        s2 += p[2] * k[x];
      }
      dst[xx * 3 + 0] = clip8(s0);
      dst[xx * 3 + 1] = clip8(s1);
      dst[xx * 3 + 2] = clip8(s2);
    }
  }
}

// Vertical pass; bounds are relative to row 0 of `in`.
void vertical(const RgbImage& in, const Coeffs& c, int row_shift, RgbImage& out) {
  const std::size_t stride = static_cast<std::size_t>(in.width) * 3;
  std::vector<int32_t> acc(stride);
  for (int64_t yy = 0; yy < out.height; ++yy) {
    const int ymin = c.bounds[yy * 2] - row_shift, ymax = c.bounds[yy * 2 + 1];
    const int32_t* k = &c.kk[static_cast<std::size_t>(yy) * c.ksize];
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int y = 0; y < ymax; ++y) {
      const uint8_t* src = &in.rgb[(y + ymin) * stride];
      const int32_t w = k[y];
      for (std::size_t i = 0; i < stride; ++i) acc[i] += src[i] * w;
    }
    uint8_t* dst = &out.rgb[yy * stride];
    for (std::size_t i = 0; i < stride; ++i) dst[i] = clip8(acc[i]);
  }
}

}  // namespace

RgbImage resize_bicubic(const RgbImage& img, int64_t width, int64_t height) {
  if (img.width <= 0 || img.height <= 0 ||
      img.rgb.size() != static_cast<std::size_t>(img.width * img.height * 3))
    throw ImageError("resize: the source image is empty or inconsistent");
  if (width <= 0 || height <= 0 || width > (1 << 20) || height > (1 << 20))
    throw ImageError("resize: invalid target size " + std::to_string(width) + "x" +
                     std::to_string(height));
  const bool need_h = width != img.width, need_v = height != img.height;
  if (!need_h && !need_v) return img;

  const Coeffs ch = precompute(static_cast<int>(img.width), static_cast<int>(width));
  const Coeffs cv = precompute(static_cast<int>(img.height), static_cast<int>(height));
  const RgbImage* src = &img;
  RgbImage tmp;
  int row_shift = 0;
  if (need_h) {
    // Only the source rows the vertical pass will read.
    const int first = cv.bounds[0];
    const int last = cv.bounds[(height - 1) * 2] + cv.bounds[(height - 1) * 2 + 1];
    tmp.width = width;
    tmp.height = last - first;
    tmp.rgb.resize(static_cast<std::size_t>(tmp.width * tmp.height * 3));
    horizontal(img, first, ch, tmp);
    src = &tmp;
    row_shift = first;
  }
  if (!need_v) return tmp;
  RgbImage out;
  out.width = width;
  out.height = height;
  out.rgb.resize(static_cast<std::size_t>(width * height * 3));
  vertical(*src, cv, row_shift, out);
  return out;
}

}  // namespace shirg::vision
