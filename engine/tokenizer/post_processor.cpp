#include "engine/tokenizer/post_processor.h"

#include <utility>

namespace shirg::tok {
namespace {

class Identity : public PostProcessor {
 public:
  void add_special_tokens(std::vector<int64_t>&) const override {}
};

// A template: a list of items, each either the sequence itself or fixed ids.
class Template : public PostProcessor {
 public:
  struct Item {
    bool is_sequence;
    std::vector<int64_t> ids;
  };
  explicit Template(std::vector<Item> items) : items_(std::move(items)) {}
  void add_special_tokens(std::vector<int64_t>& ids) const override {
    std::vector<int64_t> out;
    for (const auto& it : items_) {
      if (it.is_sequence) {
        out.insert(out.end(), ids.begin(), ids.end());
      } else {
        out.insert(out.end(), it.ids.begin(), it.ids.end());
      }
    }
    ids = std::move(out);
  }

 private:
  std::vector<Item> items_;
};

class Sequence : public PostProcessor {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PostProcessor>> steps) : steps_(std::move(steps)) {}
  void add_special_tokens(std::vector<int64_t>& ids) const override {
    for (const auto& s : steps_) s->add_special_tokens(ids);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

// ["<s>", 0] -> 0
int64_t token_pair_id(const nlohmann::json& j, const std::string& path, const JsonCtx& ctx) {
  if (!j.is_array() || j.size() != 2) ctx.fail(path, "must be a pair [token, id]");
  return ctx.integer(j[1], path + "[1]");
}

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const nlohmann::json& j, const std::string& path,
                                                   const JsonCtx& ctx) {
  if (j.is_null()) return nullptr;
  const std::string type = ctx.str(j, path, "type");
  if (type == "ByteLevel") return std::make_unique<Identity>();
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    const int64_t cls = token_pair_id(ctx.field(j, path, "cls"), path + ".cls", ctx);
    const int64_t sep = token_pair_id(ctx.field(j, path, "sep"), path + ".sep", ctx);
    return std::make_unique<Template>(
        std::vector<Template::Item>{{false, {cls}}, {true, {}}, {false, {sep}}});
  }
  if (type == "TemplateProcessing") {
    const auto& single = ctx.field(j, path, "single");
    if (!single.is_array()) ctx.fail(path + ".single", "must be an array");
    const auto& specials = ctx.field(j, path, "special_tokens");
    std::vector<Template::Item> items;
    for (size_t i = 0; i < single.size(); ++i) {
      const std::string ip = path + ".single[" + std::to_string(i) + "]";
      if (const auto* seq = ctx.opt(single[i], "Sequence")) {
        const std::string id = ctx.str(*seq, ip + ".Sequence", "id");
        if (id != "A") ctx.fail(ip + ".Sequence.id", "must be \"A\" in a single template");
        items.push_back({true, {}});
      } else if (const auto* sp = ctx.opt(single[i], "SpecialToken")) {
        const std::string name = ctx.str(*sp, ip + ".SpecialToken", "id");
        const std::string sp_path = path + ".special_tokens[\"" + name + "\"]";
        const auto* entry = ctx.opt(specials, name.c_str());
        if (!entry) ctx.fail(sp_path, "is missing (used by " + ip + ")");
        const auto& ids = ctx.field(*entry, sp_path, "ids");
        if (!ids.is_array()) ctx.fail(sp_path + ".ids", "must be an array");
        Template::Item item{false, {}};
        for (size_t k = 0; k < ids.size(); ++k) {
          item.ids.push_back(ctx.integer(ids[k], sp_path + ".ids[" + std::to_string(k) + "]"));
        }
        items.push_back(std::move(item));
      } else {
        ctx.fail(ip, "must hold \"Sequence\" or \"SpecialToken\"");
      }
    }
    return std::make_unique<Template>(std::move(items));
  }
  if (type == "Sequence") {
    const auto& list = ctx.field(j, path, "processors");
    if (!list.is_array()) ctx.fail(path + ".processors", "must be an array");
    std::vector<std::unique_ptr<PostProcessor>> steps;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_post_processor(list[i], path + ".processors[" + std::to_string(i) + "]", ctx);
      if (p) steps.push_back(std::move(p));
    }
    return std::make_unique<Sequence>(std::move(steps));
  }
  ctx.fail(path + ".type", "names the post-processor '" + type +
                               "', which is not supported (supported: ByteLevel, "
                               "TemplateProcessing, BertProcessing, RobertaProcessing, Sequence)");
}

}  // namespace shirg::tok
