#include "clients/eval_data.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <unordered_set>

namespace shirg::clients {

namespace {

std::string answer_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();  // 765 -> "765"
  throw std::invalid_argument("\"answer\" must be a string, a number or a list of them");
}

Example parse_line(const std::string& line, const std::string& base_dir) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& e) {
    throw std::invalid_argument(std::string("not JSON (") + e.what() + ")");
  }
  if (!j.is_object()) throw std::invalid_argument("not a JSON object");
  Example ex;
  if (!j.contains("question") || !j["question"].is_string() ||
      j["question"].get<std::string>().empty()) {
    throw std::invalid_argument("\"question\" must be a non-empty string");
  }
  ex.question = j["question"].get<std::string>();
  if (!j.contains("answer")) throw std::invalid_argument("\"answer\" is missing");
  if (j["answer"].is_array()) {
    for (const auto& a : j["answer"]) ex.answers.push_back(answer_text(a));
    if (ex.answers.empty()) throw std::invalid_argument("\"answer\" list is empty");
  } else {
    ex.answers.push_back(answer_text(j["answer"]));
  }
  if (!j.contains("image") || !j["image"].is_string() || j["image"].get<std::string>().empty()) {
    throw std::invalid_argument("\"image\" must be a non-empty string (a path)");
  }
  const std::filesystem::path img = j["image"].get<std::string>();
  ex.image = img.is_absolute() ? img.string() : (std::filesystem::path(base_dir) / img).string();
  if (j.contains("family") && !j["family"].is_null()) {
    if (!j["family"].is_string() || j["family"].get<std::string>().empty()) {
      throw std::invalid_argument("\"family\" must be a non-empty string");
    }
    ex.family = j["family"].get<std::string>();
  }
  if (j.contains("evidence_box") && !j["evidence_box"].is_null()) {
    const auto& b = j["evidence_box"];
    if (!b.is_array() || b.size() != 4 ||
        !std::all_of(b.begin(), b.end(), [](const auto& v) { return v.is_number(); })) {
      throw std::invalid_argument("\"evidence_box\" must be [x0, y0, x1, y1] (numbers)");
    }
    std::array<double, 4> box{b[0].get<double>(), b[1].get<double>(), b[2].get<double>(),
                              b[3].get<double>()};
    if (!(box[0] >= 0 && box[1] >= 0 && box[2] > box[0] && box[3] > box[1])) {
      throw std::invalid_argument("\"evidence_box\" needs 0 <= x0 < x1 and 0 <= y0 < y1");
    }
    ex.evidence_box = box;
  }
  return ex;
}

uint32_t be16(const std::string& b, std::size_t i) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(b[i])) << 8) |
         static_cast<unsigned char>(b[i + 1]);
}

uint32_t be32(const std::string& b, std::size_t i) {
  return (be16(b, i) << 16) | be16(b, i + 2);
}

}  // namespace

std::vector<Example> parse_examples(const std::string& text, const std::string& base_dir,
                                    const std::string& source) {
  std::vector<Example> out;
  std::istringstream in(text);
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      out.push_back(parse_line(line, base_dir));
    } catch (const std::exception& e) {
      throw DataError(source + ":" + std::to_string(n) + ": " + e.what());
    }
    out.back().line = n;
  }
  if (out.empty()) throw DataError(source + ": no examples");
  return out;
}

std::vector<Example> load_examples(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw DataError("cannot read " + path);
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return parse_examples(text, dir.empty() ? "." : dir, path);
}

std::array<int64_t, 2> image_size(const std::string& b) {
  if (b.size() >= 24 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0 &&
      b.compare(12, 4, "IHDR") == 0) {
    return {be32(b, 16), be32(b, 20)};
  }
  if (b.size() >= 4 && static_cast<unsigned char>(b[0]) == 0xFF &&
      static_cast<unsigned char>(b[1]) == 0xD8) {
    std::size_t i = 2;
    while (i + 4 <= b.size()) {
      if (static_cast<unsigned char>(b[i]) != 0xFF) break;
      const auto m = static_cast<unsigned char>(b[i + 1]);
      if (m == 0xFF) {  // fill byte
        ++i;
        continue;
      }
      if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {  // markers without a length
        i += 2;
        continue;
      }
      const std::size_t len = be16(b, i + 2);
      const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
      if (sof && i + 9 <= b.size()) return {be16(b, i + 7), be16(b, i + 5)};
      if (len < 2) break;
      i += 2 + len;
    }
    throw DataError("JPEG without a frame header (SOF)");
  }
  throw DataError("not a PNG or JPEG image");
}

std::vector<int64_t> evidence_cells(const std::array<double, 4>& box, int64_t width, int64_t height,
                                    int64_t grid) {
  if (width <= 0 || height <= 0 || grid <= 0) {
    throw DataError("evidence cells need a positive image size and grid");
  }
  const double sx = static_cast<double>(grid) / width, sy = static_cast<double>(grid) / height;
  // Cell c covers [c, c+1) in grid units; it overlaps [a, b) when c < b and c + 1 > a.
  auto range = [grid](double a, double b) {
    const int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(std::floor(a)));
    const int64_t hi = std::min<int64_t>(grid, static_cast<int64_t>(std::ceil(b)));
    return std::pair<int64_t, int64_t>{lo, hi};  // [lo, hi)
  };
  const auto [c0, c1] = range(box[0] * sx, box[2] * sx);
  const auto [r0, r1] = range(box[1] * sy, box[3] * sy);
  if (c0 >= c1 || r0 >= r1) {
    std::ostringstream m;
    m << "evidence_box [" << box[0] << ", " << box[1] << ", " << box[2] << ", " << box[3]
      << "] lies outside the " << width << "x" << height << " image";
    throw DataError(m.str());
  }
  std::vector<int64_t> cells;
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t c = c0; c < c1; ++c) cells.push_back(r * grid + c);
  }
  return cells;
}

double evidence_recall(const std::vector<int64_t>& cells, const std::vector<int64_t>& kept) {
  if (cells.empty()) throw std::invalid_argument("evidence_recall: no evidence cells");
  const std::unordered_set<int64_t> k(kept.begin(), kept.end());
  std::size_t hit = 0;
  for (int64_t c : cells) hit += k.count(c);
  return static_cast<double>(hit) / cells.size();
}

double score_recall(const std::vector<int64_t>& cells, const std::vector<float>& scores,
                    int64_t k) {
  if (cells.empty()) throw std::invalid_argument("score_recall: no evidence cells");
  std::vector<int64_t> order(scores.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  const auto top = static_cast<std::size_t>(std::clamp<int64_t>(k, 0, order.size()));
  std::partial_sort(order.begin(), order.begin() + top, order.end(), [&](int64_t a, int64_t b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  });
  const std::unordered_set<int64_t> best(order.begin(), order.begin() + top);
  std::size_t hit = 0;
  for (int64_t c : cells) {
    if (c < 0 || static_cast<std::size_t>(c) >= scores.size()) {
      throw std::invalid_argument("score_recall: cell outside the scores");
    }
    hit += best.count(c);
  }
  return static_cast<double>(hit) / cells.size();
}

}  // namespace shirg::clients
