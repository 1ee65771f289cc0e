#include "clients/workload.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace fs = std::filesystem;

namespace shirg::clients {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::vector<Image> load_images(const std::string& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) throw WorkloadError("cannot read image directory " + dir + ": " + ec.message());
  std::vector<fs::path> paths;
  for (const auto& entry : it) {
    const std::string ext = lower(entry.path().extension().string());
    if (entry.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png")) {
      paths.push_back(entry.path());
    }
  }
  if (paths.empty()) throw WorkloadError("no .jpg/.jpeg/.png image in " + dir);
  std::sort(paths.begin(), paths.end());
  std::vector<Image> images;
  for (const auto& p : paths) {
    std::ifstream f(p, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (!f.good() && !f.eof()) throw WorkloadError("cannot read " + p.string());
    images.push_back(
        {p.filename().string(), std::make_shared<const std::string>(std::move(bytes))});
  }
  return images;
}

std::vector<Question> load_questions(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw WorkloadError("cannot read questions file " + path);
  const bool jsonl = lower(fs::path(path).extension().string()) == ".jsonl";
  std::vector<Question> out;
  std::string line;
  for (int lineno = 1; std::getline(f, line); ++lineno) {
    const std::string t = trim(line);
    if (t.empty() || (!jsonl && t[0] == '#')) continue;
    if (!jsonl) {
      out.push_back({t, ""});
      continue;
    }
    const std::string where = path + ":" + std::to_string(lineno);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(t);
    } catch (const nlohmann::json::exception& e) {
      throw WorkloadError(where + ": not JSON (" + e.what() + ")");
    }
    if (!j.is_object() || !j.contains("question") || !j["question"].is_string()) {
      throw WorkloadError(where + ": needs an object with a string \"question\"");
    }
    Question q{j["question"].get<std::string>(), ""};
    if (j.contains("image")) {
      if (!j["image"].is_string()) throw WorkloadError(where + ": \"image\" must be a string");
      q.image = j["image"].get<std::string>();
    }
    out.push_back(std::move(q));
  }
  if (out.empty()) throw WorkloadError("no question in " + path);
  return out;
}

Workload make_workload(std::vector<Image> images, const std::vector<Question>& questions) {
  if (images.empty()) throw WorkloadError("the workload needs at least one image");
  if (questions.empty()) throw WorkloadError("the workload needs at least one question");
  Workload w;
  w.images = std::move(images);
  const bool any_named = std::any_of(questions.begin(), questions.end(),
                                     [](const Question& q) { return !q.image.empty(); });
  const std::size_t n = any_named ? questions.size() : std::max(w.images.size(), questions.size());
  std::size_t rr = 0;  // round-robin cursor over the images for unnamed questions
  for (std::size_t i = 0; i < n; ++i) {
    const Question& q = questions[i % questions.size()];
    std::size_t img = 0;
    if (!q.image.empty()) {
      const auto it = std::find_if(w.images.begin(), w.images.end(),
                                   [&](const Image& im) { return im.name == q.image; });
      if (it == w.images.end()) {
        throw WorkloadError("question names image '" + q.image + "', not in the set");
      }
      img = static_cast<std::size_t>(it - w.images.begin());
    } else {
      img = rr++ % w.images.size();
    }
    w.items.push_back({img, q.text});
  }
  return w;
}

std::string bundled_samples_dir() {
  std::error_code ec;
  if (const char* env = std::getenv("SHIRG_SAMPLES_DIR")) {
    if (fs::is_directory(env, ec)) return env;
  }
#ifdef SHIRG_SAMPLES_DIR
  if (fs::is_directory(SHIRG_SAMPLES_DIR, ec)) return SHIRG_SAMPLES_DIR;
#endif
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / "share" / "shirg" / "samples";
    if (fs::is_directory(installed, ec)) return installed.string();
  }
  return "";
}

}  // namespace shirg::clients
