// A small command-line parser shared by shirg-client and shirg-loadtest.
// Accepts --name VALUE, --name=VALUE and boolean --name; "-h"/"--help" sets help_requested().
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace shirg::clients {

// Bad command line: the message is printed with the usage hint, exit status kExitUsage.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ArgParser {
 public:
  ArgParser(std::string program, std::string usage_line);

  // Registers a boolean flag (--name) and an option taking a value (--name VALUE).
  void flag(const std::string& name, const std::string& help);
  void option(const std::string& name, const std::string& metavar, const std::string& help,
              const std::string& default_value = "");
  // Starts a titled group in the help text.
  void section(const std::string& title);

  // Throws UsageError on unknown options, missing values, repeated options, stray arguments.
  void parse(int argc, const char* const* argv);
  void parse(const std::vector<std::string>& args);

  bool help_requested() const { return help_; }
  bool has(const std::string& name) const;         // given on the command line
  std::string get(const std::string& name) const;  // the value, else the default
  // Typed getters: throw UsageError naming the option when the value is not a number.
  int64_t get_int(const std::string& name) const;
  // A decimal in [0, 2^64 - 1] (no sign).
  uint64_t get_uint64(const std::string& name) const;
  double get_double(const std::string& name) const;
  // Comma-separated list of numbers ("1,2,4,8").
  std::vector<double> get_double_list(const std::string& name) const;

  std::string help() const;

 private:
  struct Spec {
    bool takes_value = false;
    std::string metavar, help, default_value;
  };
  const Spec& spec(const std::string& name) const;

  std::string program_, usage_;
  std::map<std::string, Spec> specs_;
  std::vector<std::pair<std::string, std::string>> help_lines_;  // (name or "" for section, text)
  std::map<std::string, std::string> values_;
  bool help_ = false;
};

}  // namespace shirg::clients
