#include "server/prometheus.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace shirg::prom {
namespace {

void atomic_add(std::atomic<double>& a, double v) {
  double cur = a.load();
  while (!a.compare_exchange_weak(cur, cur + v)) {
  }
}

}  // namespace

void Counter::inc(double v) {
  if (!(v >= 0)) throw std::invalid_argument("a counter can only increase");
  atomic_add(value_, v);
}

void Counter::advance_to(double total) {
  double cur = value_.load();
  while (total > cur && !value_.compare_exchange_weak(cur, total)) {
  }
}

void Gauge::inc(double v) {
  atomic_add(value_, v);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i])) throw std::invalid_argument("histogram bounds must be finite");
    if (i > 0 && !(bounds_[i] > bounds_[i - 1]))
      throw std::invalid_argument("histogram bounds must be strictly increasing");
  }
}

void Histogram::observe(double v) {
  // Bucket i counts v <= bounds[i]; NaN lands in +Inf only.
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  const std::size_t idx =
      std::isnan(v) ? bounds_.size() : static_cast<std::size_t>(it - bounds_.begin());
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[idx];
  sum_ += v;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t acc = 0;
  for (uint64_t c : counts_) {
    acc += c;
    s.cumulative.push_back(acc);
  }
  s.sum = sum_;
  s.count = count_;
  return s;
}

std::string escape_label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string escape_help(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {  // integers without an exponent
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

bool valid_metric_name(const std::string& name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool valid_label_name(const std::string& name) {
  if (name.empty() || name.rfind("__", 0) == 0) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

FamilyBase::FamilyBase(std::string name, std::string help, std::string type,
                       std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(std::move(type)),
      label_names_(std::move(label_names)) {}

void FamilyBase::check_arity(const LabelValues& values) const {
  if (values.size() != label_names_.size())
    throw std::invalid_argument(name_ + " takes " + std::to_string(label_names_.size()) +
                                " label values, got " + std::to_string(values.size()));
}

std::string FamilyBase::labels_text(const LabelValues& values, const std::string& extra) const {
  if (values.empty() && extra.empty()) return "";
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += label_names_[i] + "=\"" + escape_label_value(values[i]) + "\"";
  }
  if (!extra.empty()) {
    if (!values.empty()) out += ',';
    out += extra;
  }
  out += '}';
  return out;
}

namespace {
void header(std::string& out, const std::string& name, const std::string& help,
            const std::string& type) {
  out += "# HELP " + name + " " + escape_help(help) + "\n";
  out += "# TYPE " + name + " " + type + "\n";
}
}  // namespace

template <>
void Family<Counter>::render(std::string& out) const {
  header(out, name_, help_, type_);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, c] : children_)
    out += name_ + labels_text(values) + " " + format_value(c->value()) + "\n";
}

template <>
void Family<Gauge>::render(std::string& out) const {
  header(out, name_, help_, type_);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, g] : children_)
    out += name_ + labels_text(values) + " " + format_value(g->value()) + "\n";
}

template <>
void Family<Histogram>::render(std::string& out) const {
  header(out, name_, help_, type_);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, h] : children_) {
    const Histogram::Snapshot s = h->snapshot();
    for (std::size_t i = 0; i < s.cumulative.size(); ++i) {
      const std::string le = i < s.bounds.size() ? format_value(s.bounds[i]) : "+Inf";
      out += name_ + "_bucket" + labels_text(values, "le=\"" + le + "\"") + " " +
             std::to_string(s.cumulative[i]) + "\n";
    }
    out += name_ + "_sum" + labels_text(values) + " " + format_value(s.sum) + "\n";
    out += name_ + "_count" + labels_text(values) + " " + std::to_string(s.count) + "\n";
  }
}

template <>
std::unique_ptr<Counter> Family<Counter>::make() const {
  return std::make_unique<Counter>();
}
template <>
std::unique_ptr<Gauge> Family<Gauge>::make() const {
  return std::make_unique<Gauge>();
}
template <>
std::unique_ptr<Histogram> Family<Histogram>::make() const {
  return std::make_unique<Histogram>(bounds);
}

void Registry::check_new_name(const std::string& name, const std::vector<std::string>& label_names,
                              bool histogram) {
  if (!valid_metric_name(name)) throw std::invalid_argument("invalid metric name '" + name + "'");
  for (const auto& l : label_names) {
    if (!valid_label_name(l))
      throw std::invalid_argument(name + ": invalid label name '" + l + "'");
    if (histogram && l == "le")
      throw std::invalid_argument(name + ": 'le' is reserved in histograms");
  }
  for (const auto& f : families_)
    if (f->name() == name) throw std::invalid_argument("metric '" + name + "' registered twice");
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   const std::vector<std::string>& label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  check_new_name(name, label_names, false);
  auto f = std::make_unique<Family<Counter>>(name, help, "counter", label_names);
  auto& ref = *f;
  families_.push_back(std::move(f));
  if (label_names.empty()) ref.with();
  return ref;
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               const std::vector<std::string>& label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  check_new_name(name, label_names, false);
  auto f = std::make_unique<Family<Gauge>>(name, help, "gauge", label_names);
  auto& ref = *f;
  families_.push_back(std::move(f));
  if (label_names.empty()) ref.with();
  return ref;
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       const std::vector<std::string>& label_names,
                                       std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  check_new_name(name, label_names, true);
  Histogram probe(bounds);  // validates the bounds once, here
  auto f = std::make_unique<Family<Histogram>>(name, help, "histogram", label_names);
  f->bounds = std::move(bounds);
  auto& ref = *f;
  families_.push_back(std::move(f));
  if (label_names.empty()) ref.with();
  return ref;
}

void Registry::add_collector(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.push_back(std::move(fn));
}

std::string Registry::render() const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    collectors = collectors_;
  }
  for (auto& c : collectors) c();
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& f : families_) f->render(out);
  return out;
}

}  // namespace shirg::prom
