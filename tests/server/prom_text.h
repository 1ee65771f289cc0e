#pragma once
// A strict reader of the Prometheus text exposition format, for tests: every line must be a
// "# HELP", "# TYPE", other comment, blank, or a sample `name{label="value",...} number`.
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace shirg::testing {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;  // unescaped values
  double value = 0;
};

struct PromText {
  std::vector<PromSample> samples;
  std::map<std::string, std::string> types;  // family -> counter|gauge|histogram|...
  std::map<std::string, std::string> help;

  // Sum of the samples named `name` whose labels include all of `match`.
  double sum(const std::string& name, const std::map<std::string, std::string>& match = {}) const;
  // Number of such samples.
  std::size_t count(const std::string& name,
                    const std::map<std::string, std::string>& match = {}) const;
};

// Throws std::runtime_error naming the line on any syntax error, a sample before its family's
// TYPE line, or a duplicate series.
PromText parse_prom_text(const std::string& text);

}  // namespace shirg::testing
