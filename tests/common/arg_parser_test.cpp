#include "common/arg_parser.h"

#include <gtest/gtest.h>

namespace framewire {
namespace {

struct Argv {
  explicit Argv(std::vector<std::string> args) : strings(std::move(args)) {
    for (auto& s : strings) pointers.push_back(s.data());
  }
  int argc() { return static_cast<int>(pointers.size()); }
  char** argv() { return pointers.data(); }
  std::vector<std::string> strings;
  std::vector<char*> pointers;
};

TEST(ArgParser, BindsOptionsAndPositionals) {
  std::string server, movie, index;
  std::vector<std::string> roots;
  int64_t workers = 1;
  bool verbose = false;
  ArgParser args("t", "test");
  args.option("--server", "EP", "server", &server);
  args.repeated("--root", "DIR", "root", &roots);
  args.option("--workers", "N", "workers", &workers);
  args.flag("--verbose", "verbose", &verbose);
  args.positional("MOVIE", "movie", &movie);
  args.positional("N", "index", &index);
  Argv a({"t", "--server", "tcp://x:1", "--root=/a", "--root", "/b", "m.mov", "-1", "--workers", "3", "--verbose"});
  EXPECT_FALSE(args.parse(a.argc(), a.argv()).has_value());
  EXPECT_EQ(server, "tcp://x:1");
  EXPECT_EQ(roots, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(movie, "m.mov");
  EXPECT_EQ(index, "-1");  // negative numbers are values, not options
  EXPECT_EQ(workers, 3);
  EXPECT_TRUE(verbose);
}

TEST(ArgParser, ReportsUsageErrors) {
  int64_t n = 0;
  std::string movie;
  ArgParser args("t", "test");
  args.option("--n", "N", "n", &n);
  args.positional("MOVIE", "movie", &movie);
  Argv bad_number({"t", "--n", "x", "m"});
  EXPECT_EQ(args.parse(bad_number.argc(), bad_number.argv()), 2);
  Argv missing({"t"});
  EXPECT_EQ(args.parse(missing.argc(), missing.argv()), 2);
  Argv unknown({"t", "--what", "m"});
  EXPECT_EQ(args.parse(unknown.argc(), unknown.argv()), 2);
  Argv help({"t", "--help"});
  EXPECT_EQ(args.parse(help.argc(), help.argv()), 0);
  EXPECT_NE(args.help().find("--n N"), std::string::npos);
}

}  // namespace
}  // namespace framewire
