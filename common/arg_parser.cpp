#include "common/arg_parser.h"

#include <cstdio>
#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace framewire {

ArgParser::ArgParser(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void ArgParser::option(const std::string& name, const std::string& metavar, const std::string& help,
                       std::string* target) {
  options_.push_back({name, metavar, help, true, [target](const std::string& v) {
                        *target = v;
                        return true;
                      }});
}

void ArgParser::option(const std::string& name, const std::string& metavar, const std::string& help,
                       int64_t* target) {
  options_.push_back({name, metavar, help, true, [target](const std::string& v) {
                        char* end = nullptr;
                        const long long parsed = std::strtoll(v.c_str(), &end, 10);
                        if (v.empty() || *end != '\0') return false;
                        *target = parsed;
                        return true;
                      }});
}

void ArgParser::option(const std::string& name, const std::string& metavar, const std::string& help,
                       double* target) {
  options_.push_back({name, metavar, help, true, [target](const std::string& v) {
                        char* end = nullptr;
                        const double parsed = std::strtod(v.c_str(), &end);
                        if (v.empty() || *end != '\0') return false;
                        *target = parsed;
                        return true;
                      }});
}

void ArgParser::repeated(const std::string& name, const std::string& metavar,
                         const std::string& help, std::vector<std::string>* target) {
  options_.push_back({name, metavar, help, true, [target](const std::string& v) {
                        target->push_back(v);
                        return true;
                      }});
}

void ArgParser::flag(const std::string& name, const std::string& help, bool* target) {
  options_.push_back({name, "", help, false, [target](const std::string&) {
                        *target = true;
                        return true;
                      }});
}

void ArgParser::positional(const std::string& name, const std::string& help, std::string* target,
                           bool required) {
  positionals_.push_back({name, help, target, required});
}

std::optional<int> ArgParser::parse(int argc, char** argv, int first) {
  size_t next_positional = 0;
  auto fail = [this](const std::string& why) {
    std::fprintf(stderr, "%s: %s\nTry '%s --help'.\n", program_.c_str(), why.c_str(), program_.c_str());
    return 2;
  };
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(help().c_str(), stdout);
      return 0;
    }
    if (arg.size() > 1 && arg[0] == '-' && !(arg.size() > 1 && std::isdigit(static_cast<unsigned char>(arg[1])))) {
      std::string value;
      bool has_inline_value = false;
      if (const auto eq = arg.find('='); eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline_value = true;
      }
      const Option* match = nullptr;
      for (const auto& option : options_) {
        if (option.name == arg) match = &option;
      }
      if (!match) return fail("unknown option " + arg);
      if (match->takes_value && !has_inline_value) {
        if (i + 1 >= argc) return fail(arg + " needs a value");
        value = argv[++i];
      }
      if (!match->apply(value)) return fail("bad value '" + value + "' for " + arg);
      continue;
    }
    if (next_positional >= positionals_.size()) return fail("unexpected argument '" + arg + "'");
    *positionals_[next_positional++].target = arg;
  }
  for (size_t p = next_positional; p < positionals_.size(); ++p) {
    if (positionals_[p].required) return fail("missing " + positionals_[p].name);
  }
  return std::nullopt;
}

std::string ArgParser::help() const {
  std::string text = "Usage: " + program_;
  if (!options_.empty()) text += " [options]";
  for (const auto& p : positionals_) text += p.required ? " " + p.name : " [" + p.name + "]";
  text += "\n\n" + summary_ + "\n";
  if (!positionals_.empty()) {
    text += "\nArguments:\n";
    for (const auto& p : positionals_) {
      std::string left = "  " + p.name;
      left.resize(std::max<size_t>(left.size() + 2, 28), ' ');
      text += left + p.help + "\n";
    }
  }
  text += "\nOptions:\n";
  for (const auto& o : options_) {
    std::string left = "  " + o.name + (o.takes_value ? " " + o.metavar : "");
    left.resize(std::max<size_t>(left.size() + 2, 28), ' ');
    text += left + o.help + "\n";
  }
  text += "  --help                    show this help\n";
  if (!epilog_.empty()) text += "\n" + epilog_ + "\n";
  return text;
}

}  // namespace framewire
