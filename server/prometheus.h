#pragma once
// A small Prometheus client: counters, gauges and histograms in labelled families, rendered in
// the text exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
// Thread-safe: metrics may be updated from any thread while render() runs.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace shirg::prom {

using LabelValues = std::vector<std::string>;

// Monotonic counter. inc() with a negative value throws std::invalid_argument.
class Counter {
 public:
  void inc(double v = 1.0);
  // Raises the value to `total` when it is larger (never lowers it): a counter that mirrors a
  // running total kept elsewhere, set from a collector (concurrent scrapes cannot count twice).
  void advance_to(double total);
  double value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v); }
  void inc(double v = 1.0);
  void dec(double v = 1.0) { inc(-v); }
  double value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0.0};
};

// Cumulative histogram over fixed upper bounds (+Inf is implicit).
class Histogram {
 public:
  // `bounds`: finite, strictly increasing; throws std::invalid_argument otherwise.
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // one per bound, then the +Inf bucket (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative), last = +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::string type,
             std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  // Appends "# HELP", "# TYPE" and one line per sample.
  virtual void render(std::string& out) const = 0;

 protected:
  std::string labels_text(const LabelValues& values, const std::string& extra = "") const;
  void check_arity(const LabelValues& values) const;
  std::string name_, help_, type_;
  std::vector<std::string> label_names_;
};

// A metric with labels: one child per distinct label-value tuple, created on first use.
template <typename M>
class Family : public FamilyBase {
 public:
  using FamilyBase::FamilyBase;
  // The child for `values` (one per label name). Throws std::invalid_argument on a wrong count.
  M& with(const LabelValues& values = {}) {
    check_arity(values);
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = children_[values];
    if (!slot) slot = make();
    return *slot;
  }
  void render(std::string& out) const override;
  // For histograms: the bucket bounds every child gets.
  std::vector<double> bounds;

 private:
  std::unique_ptr<M> make() const;
  mutable std::mutex mu_;
  std::map<LabelValues, std::unique_ptr<M>> children_;
};

// Defined in prometheus.cpp for the three metric kinds.
template <>
void Family<Counter>::render(std::string& out) const;
template <>
void Family<Gauge>::render(std::string& out) const;
template <>
void Family<Histogram>::render(std::string& out) const;
template <>
std::unique_ptr<Counter> Family<Counter>::make() const;
template <>
std::unique_ptr<Gauge> Family<Gauge>::make() const;
template <>
std::unique_ptr<Histogram> Family<Histogram>::make() const;

class Registry {
 public:
  // Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (not "__*";
  // "le" is reserved for histograms). Registering a name twice throws std::invalid_argument.
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           const std::vector<std::string>& label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       const std::vector<std::string>& label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               const std::vector<std::string>& label_names,
                               std::vector<double> bounds);
  // Called at the start of every render() (e.g. to copy a queue depth into a gauge).
  void add_collector(std::function<void()> fn);
  // The whole exposition text, families in registration order.
  std::string render() const;

 private:
  void check_new_name(const std::string& name, const std::vector<std::string>& label_names,
                      bool histogram);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
  std::vector<std::function<void()>> collectors_;
};

// Text-format helpers (exposed for tests).
std::string escape_label_value(const std::string& v);  // \ -> \\, " -> \", newline -> \n
std::string escape_help(const std::string& v);         // \ -> \\, newline -> \n
std::string format_value(double v);                    // shortest round-trip; +Inf, -Inf, NaN
bool valid_metric_name(const std::string& name);
bool valid_label_name(const std::string& name);

}  // namespace shirg::prom
