#include "clients/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace shirg::clients {

ArgParser::ArgParser(std::string program, std::string usage_line)
    : program_(std::move(program)), usage_(std::move(usage_line)) {}

void ArgParser::flag(const std::string& name, const std::string& help) {
  if (specs_.count(name)) throw std::logic_error("option --" + name + " registered twice");
  specs_[name] = Spec{false, "", help, ""};
  help_lines_.emplace_back(name, help);
}

void ArgParser::option(const std::string& name, const std::string& metavar, const std::string& help,
                       const std::string& default_value) {
  if (specs_.count(name)) throw std::logic_error("option --" + name + " registered twice");
  specs_[name] = Spec{true, metavar, help, default_value};
  help_lines_.emplace_back(name, help);
}

void ArgParser::section(const std::string& title) {
  help_lines_.emplace_back("", title);
}

void ArgParser::parse(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  parse(args);
}

void ArgParser::parse(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      help_ = true;
      continue;
    }
    if (a.rfind("--", 0) != 0 || a.size() == 2) {
      throw UsageError("unexpected argument '" + a + "' (options start with --)");
    }
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const auto it = specs_.find(name);
    if (it == specs_.end()) throw UsageError("unknown option --" + name);
    if (values_.count(name)) throw UsageError("option --" + name + " given twice");
    if (it->second.takes_value) {
      if (!inline_value) {
        if (i + 1 >= args.size()) {
          throw UsageError("option --" + name + " needs a value (" + it->second.metavar + ")");
        }
        value = args[++i];
      }
    } else if (inline_value) {
      throw UsageError("flag --" + name + " takes no value");
    } else {
      value = "1";
    }
    values_[name] = value;
  }
}

const ArgParser::Spec& ArgParser::spec(const std::string& name) const {
  const auto it = specs_.find(name);
  if (it == specs_.end()) throw std::logic_error("option --" + name + " was never registered");
  return it->second;
}

bool ArgParser::has(const std::string& name) const {
  spec(name);
  return values_.count(name) != 0;
}

std::string ArgParser::get(const std::string& name) const {
  const Spec& s = spec(name);
  const auto it = values_.find(name);
  return it == values_.end() ? s.default_value : it->second;
}

int64_t ArgParser::get_int(const std::string& name) const {
  const std::string v = get(name);
  errno = 0;
  char* end = nullptr;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || errno != 0 || *end != '\0') {
    throw UsageError("option --" + name + " needs an integer, got '" + v + "'");
  }
  return static_cast<int64_t>(x);
}

uint64_t ArgParser::get_uint64(const std::string& name) const {
  const std::string v = get(name);
  errno = 0;
  char* end = nullptr;
  // strtoull accepts "-1" (and wraps it): only plain digits are taken.
  const bool digits = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
  const unsigned long long x = digits ? std::strtoull(v.c_str(), &end, 10) : 0;
  if (!digits || errno != 0 || *end != '\0') {
    throw UsageError("option --" + name + " needs an integer in [0, 18446744073709551615], got '" +
                     v + "'");
  }
  return static_cast<uint64_t>(x);
}

double ArgParser::get_double(const std::string& name) const {
  const std::string v = get(name);
  errno = 0;
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || errno != 0 || *end != '\0' || !std::isfinite(x)) {
    throw UsageError("option --" + name + " needs a number, got '" + v + "'");
  }
  return x;
}

std::vector<double> ArgParser::get_double_list(const std::string& name) const {
  std::vector<double> out;
  std::stringstream ss(get(name));
  std::string item;
  while (std::getline(ss, item, ',')) {
    errno = 0;
    char* end = nullptr;
    const double x = std::strtod(item.c_str(), &end);
    if (item.empty() || errno != 0 || *end != '\0' || !std::isfinite(x)) {
      throw UsageError("option --" + name + " needs a comma-separated list of numbers, got '" +
                       get(name) + "'");
    }
    out.push_back(x);
  }
  if (out.empty()) throw UsageError("option --" + name + " needs at least one number");
  return out;
}

std::string ArgParser::help() const {
  std::ostringstream o;
  o << "usage: " << program_ << " " << usage_ << "\n";
  for (const auto& [name, text] : help_lines_) {
    if (name.empty()) {
      o << "\n" << text << ":\n";
      continue;
    }
    const Spec& s = specs_.at(name);
    std::string left = "  --" + name + (s.takes_value ? " " + s.metavar : "");
    if (left.size() < 30)
      left.resize(30, ' ');
    else
      left += "\n" + std::string(30, ' ');
    o << left << text;
    if (s.takes_value && !s.default_value.empty()) o << " (default " << s.default_value << ")";
    o << "\n";
  }
  return o.str();
}

}  // namespace shirg::clients
