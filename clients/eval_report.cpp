#include "clients/eval_report.h"

#include <cstdio>
#include <set>
#include <sstream>
#include <stdexcept>

#include "clients/svg_plot.h"

namespace shirg::clients {

namespace {

void add(Score& s, const Outcome& o) {
  ++s.n;
  s.em += o.em;
  s.anls += o.anls;
  s.relaxed += o.relaxed;
}

void finish(Score& s) {
  if (s.n == 0) return;
  s.em /= s.n;
  s.anls /= s.n;
  s.relaxed /= s.n;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string cell(const std::optional<double>& v, int digits, double scale = 1) {
  return v ? fixed(*v * scale, digits) : "-";
}

std::optional<double> family_value(const ModeReport& r, const std::string& fam, double Score::*f) {
  const auto it = r.families.find(fam);
  if (it == r.families.end()) return std::nullopt;
  return it->second.*f;
}

std::optional<double> overall_value(const ModeReport& r, double Score::*f) {
  if (r.overall.n == 0) return std::nullopt;
  return r.overall.*f;
}

nlohmann::json opt(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json score_json(const Score& s) {
  return {{"n", s.n}, {"em", s.em}, {"anls", s.anls}, {"relaxed", s.relaxed}};
}

}  // namespace

ModeReport make_mode_report(const std::string& mode, std::vector<Outcome> outcomes) {
  ModeReport r;
  r.mode = mode;
  r.examples = outcomes.size();
  double tokens = 0, recall = 0, score_recall = 0, cache = 0;
  std::size_t token_n = 0, score_n = 0;
  std::array<double, 5> stages{};
  for (const Outcome& o : outcomes) {
    if (!o.error.empty()) {
      ++r.errors;
      if (r.first_error.empty()) r.first_error = o.error;
    }
    if (o.visual_tokens >= 0) {
      tokens += static_cast<double>(o.visual_tokens);
      ++token_n;
    }
    if (o.recall) {
      recall += *o.recall;
      ++r.recall_n;
    }
    if (o.score_recall) {
      score_recall += *o.score_recall;
      ++score_n;
    }
    if (!o.answered) continue;
    ++r.answered;
    add(r.families[o.family], o);
    add(r.overall, o);
    for (std::size_t i = 0; i < stages.size(); ++i) stages[i] += o.stage_ms[i];
    cache += static_cast<double>(o.cache_bytes);
  }
  for (auto& [name, s] : r.families) finish(s);
  finish(r.overall);
  if (token_n > 0) r.visual_tokens = tokens / token_n;
  if (r.recall_n > 0) r.recall = recall / r.recall_n;
  if (score_n > 0) r.score_recall = score_recall / score_n;
  if (r.answered > 0) {
    for (double& s : stages) s /= r.answered;
    r.stage_mean_ms = stages;
    r.cache_mib = cache / r.answered / (1024.0 * 1024.0);
  }
  r.outcomes = std::move(outcomes);
  return r;
}

std::vector<std::string> report_families(const std::vector<ModeReport>& reports) {
  std::set<std::string> fams;
  for (const ModeReport& r : reports) {
    for (const Outcome& o : r.outcomes) fams.insert(o.family);
  }
  return {fams.begin(), fams.end()};
}

std::string format_markdown(const std::vector<ModeReport>& reports) {
  const std::vector<std::string> fams = report_families(reports);
  std::ostringstream o;
  o << "| mode |";
  for (const std::string& f : fams) o << " " << f << " EM % | " << f << " relaxed % |";
  o << " overall EM % | overall relaxed % | ANLS % | visual tokens | evidence recall % |"
    << " score recall % |";
  for (const char* s : kEvalStages) o << " " << s << " ms |";
  o << " cache MiB | errors |\n|---|";
  for (std::size_t i = 0; i < 2 * fams.size() + 13; ++i) o << "---:|";
  o << "\n";
  for (const ModeReport& r : reports) {
    o << "| " << r.mode << " |";
    for (const std::string& f : fams) {
      o << " " << cell(family_value(r, f, &Score::em), 1, 100) << " | "
        << cell(family_value(r, f, &Score::relaxed), 1, 100) << " |";
    }
    o << " " << cell(overall_value(r, &Score::em), 1, 100) << " | "
      << cell(overall_value(r, &Score::relaxed), 1, 100) << " | "
      << cell(overall_value(r, &Score::anls), 1, 100) << " | " << cell(r.visual_tokens, 0) << " | "
      << cell(r.recall, 1, 100) << " | " << cell(r.score_recall, 1, 100) << " |";
    for (std::size_t i = 0; i < kEvalStages.size(); ++i) {
      o << " "
        << cell(r.stage_mean_ms ? std::optional<double>((*r.stage_mean_ms)[i]) : std::nullopt, 1)
        << " |";
    }
    o << " " << cell(r.cache_mib, 1) << " | " << r.errors << " |\n";
  }
  return o.str();
}

std::string format_recall_markdown(const std::vector<ModeReport>& reports) {
  std::ostringstream o;
  o << "| mode | visual tokens | evidence recall % | score recall % | examples with a box | "
       "errors |\n"
    << "|---|---:|---:|---:|---:|---:|\n";
  for (const ModeReport& r : reports) {
    o << "| " << r.mode << " | " << cell(r.visual_tokens, 0) << " | " << cell(r.recall, 1, 100)
      << " | " << cell(r.score_recall, 1, 100) << " | " << r.recall_n << " | " << r.errors
      << " |\n";
  }
  return o.str();
}

nlohmann::json eval_json(const std::vector<ModeReport>& reports, const nlohmann::json& config) {
  nlohmann::json modes = nlohmann::json::array();
  for (const ModeReport& r : reports) {
    nlohmann::json fams = nlohmann::json::object();
    for (const auto& [name, s] : r.families) fams[name] = score_json(s);
    nlohmann::json stages = nullptr;
    if (r.stage_mean_ms) {
      stages = nlohmann::json::object();
      for (std::size_t i = 0; i < kEvalStages.size(); ++i) {
        stages[kEvalStages[i]] = (*r.stage_mean_ms)[i];
      }
    }
    nlohmann::json outs = nlohmann::json::array();
    for (const Outcome& o : r.outcomes) {
      nlohmann::json j = {{"line", o.line},
                          {"family", o.family},
                          {"answered", o.answered},
                          {"visual_tokens", o.visual_tokens >= 0 ? nlohmann::json(o.visual_tokens)
                                                                 : nlohmann::json(nullptr)},
                          {"recall", opt(o.recall)},
                          {"score_recall", opt(o.score_recall)}};
      if (o.answered) {
        j["prediction"] = o.prediction;
        j["em"] = o.em;
        j["anls"] = o.anls;
        j["relaxed"] = o.relaxed;
        j["total_ms"] = o.stage_ms[4];
      }
      if (!o.error.empty()) j["error"] = o.error;
      outs.push_back(std::move(j));
    }
    modes.push_back({{"mode", r.mode},
                     {"examples", r.examples},
                     {"answered", r.answered},
                     {"errors", r.errors},
                     {"families", fams},
                     {"overall", r.overall.n ? score_json(r.overall) : nlohmann::json(nullptr)},
                     {"visual_tokens", opt(r.visual_tokens)},
                     {"recall", opt(r.recall)},
                     {"recall_n", r.recall_n},
                     {"score_recall", opt(r.score_recall)},
                     {"stage_mean_ms", stages},
                     {"cache_mib", opt(r.cache_mib)},
                     {"outcomes", outs}});
  }
  return {{"config", config}, {"modes", modes}};
}

std::string eval_csv(const std::vector<ModeReport>& reports) {
  const std::vector<std::string> fams = report_families(reports);
  auto v = [](const std::optional<double>& x) { return x ? fixed(*x, 6) : std::string(); };
  std::ostringstream o;
  o << "mode,examples,answered,errors";
  for (const std::string& f : fams) o << "," << f << "_em," << f << "_relaxed," << f << "_anls";
  o << ",overall_em,overall_relaxed,overall_anls,visual_tokens,recall,score_recall";
  for (const char* s : kEvalStages) o << "," << s << "_ms";
  o << ",cache_mib\n";
  for (const ModeReport& r : reports) {
    o << r.mode << "," << r.examples << "," << r.answered << "," << r.errors;
    for (const std::string& f : fams) {
      o << "," << v(family_value(r, f, &Score::em)) << "," << v(family_value(r, f, &Score::relaxed))
        << "," << v(family_value(r, f, &Score::anls));
    }
    o << "," << v(overall_value(r, &Score::em)) << "," << v(overall_value(r, &Score::relaxed))
      << "," << v(overall_value(r, &Score::anls)) << "," << v(r.visual_tokens) << "," << v(r.recall)
      << "," << v(r.score_recall);
    for (std::size_t i = 0; i < kEvalStages.size(); ++i) {
      o << "," << v(r.stage_mean_ms ? std::optional<double>((*r.stage_mean_ms)[i]) : std::nullopt);
    }
    o << "," << v(r.cache_mib) << "\n";
  }
  return o.str();
}

std::string eval_svg(const std::vector<ModeReport>& reports, const std::string& title) {
  ScatterPanel tokens{
      "accuracy vs visual tokens", "visual tokens", "relaxed accuracy (%)", 100, {}};
  ScatterPanel latency{
      "accuracy vs latency", "mean total latency (ms)", "relaxed accuracy (%)", 100, {}};
  for (const ModeReport& r : reports) {
    if (r.overall.n == 0) continue;
    const double acc = 100 * r.overall.relaxed;
    if (r.visual_tokens) tokens.points.push_back({r.mode, *r.visual_tokens, acc});
    if (r.stage_mean_ms) latency.points.push_back({r.mode, (*r.stage_mean_ms)[4], acc});
  }
  if (tokens.points.empty() || latency.points.empty()) {
    throw std::invalid_argument("no mode has an answered example to plot");
  }
  return scatter_svg(title, {tokens, latency});
}

}  // namespace shirg::clients
