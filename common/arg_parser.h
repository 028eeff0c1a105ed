// A small command-line parser shared by framewire, framewire-broker and framewire-worker:
// options bind straight to variables, and --help prints a generated usage text.
//
//   ArgParser args("framewire-worker", "Decodes frames for a broker.");
//   args.option("--broker", "EP", "broker backend endpoint", &broker_endpoint);
//   args.repeated("--root", "DIR", "movie root (repeatable)", &roots);
//   if (auto exit_code = args.parse(argc, argv)) return *exit_code;
//
// Not thread-safe; used once at startup.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace framewire {

class ArgParser {
 public:
  ArgParser(std::string program, std::string summary);

  void option(const std::string& name, const std::string& metavar, const std::string& help,
              std::string* target);
  void option(const std::string& name, const std::string& metavar, const std::string& help,
              int64_t* target);
  void option(const std::string& name, const std::string& metavar, const std::string& help,
              double* target);
  void repeated(const std::string& name, const std::string& metavar, const std::string& help,
                std::vector<std::string>* target);
  void flag(const std::string& name, const std::string& help, bool* target);
  void positional(const std::string& name, const std::string& help, std::string* target,
                  bool required = true);
  // Free text appended to --help (examples).
  void epilog(std::string text) { epilog_ = std::move(text); }

  // Parses argv[first..]. Returns std::nullopt to go on, or the exit code to return now:
  // 0 after printing --help, 2 after printing a usage error to stderr.
  std::optional<int> parse(int argc, char** argv, int first = 1);
  std::string help() const;

 private:
  struct Option {
    std::string name, metavar, help;
    bool takes_value = true;
    std::function<bool(const std::string&)> apply;  // false: bad value
  };
  struct Positional {
    std::string name, help;
    std::string* target;
    bool required;
  };
  std::string program_, summary_, epilog_;
  std::vector<Option> options_;
  std::vector<Positional> positionals_;
};

}  // namespace framewire
