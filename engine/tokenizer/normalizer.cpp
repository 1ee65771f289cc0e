#include "engine/tokenizer/normalizer.h"

#include <utility>
#include <vector>

#include "engine/tokenizer/pattern.h"
#include "engine/tokenizer/unicode_util.h"

namespace shirg::tok {
namespace {

class UnicodeForm : public Normalizer {
 public:
  explicit UnicodeForm(std::string (*fn)(std::string_view)) : fn_(fn) {}
  void normalize(std::string& s) const override { s = fn_(s); }

 private:
  std::string (*fn_)(std::string_view);
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string p) : prepend_(std::move(p)) {}
  void normalize(std::string& s) const override {
    if (!s.empty()) s.insert(0, prepend_);
  }

 private:
  std::string prepend_;
};

class Replace : public Normalizer {
 public:
  Replace(std::unique_ptr<Regex> re, std::string content)
      : re_(std::move(re)), content_(std::move(content)) {}
  void normalize(std::string& s) const override {
    std::vector<std::pair<size_t, size_t>> m;
    re_->find_all(s, m);
    if (m.empty()) return;
    std::string out;
    size_t pos = 0;
    for (const auto& [b, e] : m) {
      out.append(s, pos, b - pos);
      out += content_;
      pos = e;
    }
    out.append(s, pos, std::string::npos);
    s = std::move(out);
  }

 private:
  std::unique_ptr<Regex> re_;
  std::string content_;
};

class Sequence : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  void normalize(std::string& s) const override {
    for (const auto& p : parts_) p->normalize(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j, const std::string& path,
                                            const JsonCtx& ctx) {
  if (j.is_null()) return nullptr;
  const std::string type = ctx.str(j, path, "type");
  if (type == "NFC") return std::make_unique<UnicodeForm>(&nfc);
  if (type == "NFD") return std::make_unique<UnicodeForm>(&nfd);
  if (type == "NFKC") return std::make_unique<UnicodeForm>(&nfkc);
  if (type == "NFKD") return std::make_unique<UnicodeForm>(&nfkd);
  if (type == "Prepend") return std::make_unique<Prepend>(ctx.str(j, path, "prepend"));
  if (type == "Replace") {
    return std::make_unique<Replace>(
        make_pattern(ctx.field(j, path, "pattern"), path + ".pattern", ctx),
        ctx.str(j, path, "content"));
  }
  if (type == "Sequence") {
    const auto& list = ctx.field(j, path, "normalizers");
    if (!list.is_array()) ctx.fail(path + ".normalizers", "must be an array");
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto n = make_normalizer(list[i], path + ".normalizers[" + std::to_string(i) + "]", ctx);
      if (n) parts.push_back(std::move(n));
    }
    return std::make_unique<Sequence>(std::move(parts));
  }
  ctx.fail(path + ".type", "names the normalizer '" + type +
                               "', which is not supported (supported: NFC, NFD, NFKC, NFKD, "
                               "Prepend, Replace, Sequence)");
}

}  // namespace shirg::tok
