// Caches and cache-aware routing with real processes: framewire-broker and two
// framewire-worker processes. A movie's requests stay on one worker, whose RAM cache then
// serves repeats; when that worker is killed the movie moves to the other one and stays there.
// STATS lists both worker processes; `framewire warm` fills the cache and `framewire stats`
// shows it.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "common/json_value.h"
#include "tests/integration/integration_test.h"
#include "tests/support/test_movies.h"

namespace framewire::testing {
namespace {

using namespace std::chrono_literals;

class CacheIntegrationTest : public IntegrationTest {
 protected:
  // The TestServer is serving once one worker answers; routing tests need both registered,
  // or a movie's home could change under them when the second one dials in.
  void SetUp() override {
    IntegrationTest::SetUp();
    if (HasFatalFailure()) return;
    Client c = client();
    for (int attempt = 0; attempt < 200; ++attempt) {
      auto text = c.stats();
      auto stats = text.ok() ? JsonValue::parse(*text) : Result<JsonValue>(text.status());
      if (stats.ok() && stats->get("broker")->get("workers")->asInt() == server_->workerCount()) return;
      std::this_thread::sleep_for(50ms);
    }
    FAIL() << "the workers did not all register\n" << server_->logs();
  }

  // framewire COMMAND --server <the test server> ARGS...
  CommandResult run(const std::string& command, std::vector<std::string> args) {
    return runFramewire(command, server_->frontend(), args);
  }
  int workerIndex(const std::string& name) {
    for (int i = 0; i < server_->workerCount(); ++i) {
      if (TestServer::workerName(i) == name) return i;
    }
    return -1;
  }
};

TEST_F(CacheIntegrationTest, AMovieStaysOnOneWorkerAndMovesWhenItDies) {
  Client c = client();
  const auto& oracle = oracleMd5s(kProres);
  FrameOptions native;
  native.format = "native";

  auto first = c.getFrame(kProres, 5, native);
  ASSERT_TRUE(first.ok()) << first.status().toString();
  EXPECT_EQ(first->cached(), CacheTier::kNone);
  const std::string home = first->worker();
  for (int64_t n : {5, 6, 7, 5, 8, 6}) {
    auto frame = c.getFrame(kProres, n, native);
    ASSERT_TRUE(frame.ok()) << frame.status().toString();
    EXPECT_EQ(frame->worker(), home) << "frame " << n;
    EXPECT_EQ(packedMd5(*frame), oracle[size_t(n)]);
  }
  auto repeat = c.getFrame(kProres, 5, native);
  ASSERT_TRUE(repeat.ok());
  EXPECT_EQ(repeat->cached(), CacheTier::kMemory);
  EXPECT_EQ(packedMd5(*repeat), oracle[5]);

  // Kill the movie's worker: the next requests go to the other one, and stay there.
  const int home_index = workerIndex(home);
  ASSERT_GE(home_index, 0) << home;
  server_->worker(home_index).kill9();
  auto moved = c.getFrame(kProres, 5, native);
  ASSERT_TRUE(moved.ok()) << moved.status().toString();
  const std::string new_home = moved->worker();
  EXPECT_NE(new_home, home);
  EXPECT_EQ(moved->cached(), CacheTier::kNone);  // a cold cache over there
  EXPECT_EQ(packedMd5(*moved), oracle[5]);
  for (int64_t n : {5, 9, 5}) {
    auto frame = c.getFrame(kProres, n, native);
    ASSERT_TRUE(frame.ok()) << frame.status().toString();
    EXPECT_EQ(frame->worker(), new_home);
    EXPECT_EQ(packedMd5(*frame), oracle[size_t(n)]);
  }
  auto warm_again = c.getFrame(kProres, 5, native);
  ASSERT_TRUE(warm_again.ok());
  EXPECT_EQ(warm_again->cached(), CacheTier::kMemory);
}

TEST_F(CacheIntegrationTest, StatsListEveryWorkerProcess) {
  Client c = client();
  ASSERT_TRUE(c.getFrame(kProres, 1).ok());
  ASSERT_TRUE(c.getFrame(kProres, 1).ok());
  auto text = c.stats();
  ASSERT_TRUE(text.ok()) << text.status().toString();
  auto stats = JsonValue::parse(*text);
  ASSERT_TRUE(stats.ok()) << stats.status().toString() << "\n" << *text;
  EXPECT_EQ(stats->get("broker")->get("routing")->asString(), "affinity");
  EXPECT_EQ(stats->get("broker")->get("groups")->asInt(), 2);
  const auto& workers = stats->get("workers")->items();
  ASSERT_EQ(workers.size(), 2u) << *text;
  std::set<std::string> groups;
  for (const JsonValue& w : workers) {
    groups.insert(w.get("group")->asString());
    ASSERT_NE(w.get("stats"), nullptr) << *text;
    EXPECT_NE(w.get("stats")->get("memory"), nullptr);
  }
  EXPECT_EQ(groups, (std::set<std::string>{"w0", "w1"}));
  const JsonValue* memory = stats->get("total")->get("memory");
  EXPECT_EQ(memory->get("hits")->asInt(), 1);
  EXPECT_EQ(memory->get("misses")->asInt(), 1);
  EXPECT_DOUBLE_EQ(memory->get("hit_rate")->asDouble(), 0.5);
}

TEST_F(CacheIntegrationTest, WarmFillsTheCacheAndStatsShowIt) {
  const CommandResult warm = run("warm", {kProres, "--frames", "0:40:4", "--batch", "3"});
  ASSERT_EQ(warm.exit_code, 0) << describe(warm);
  EXPECT_NE(warm.out.find("warmed 10 frames of prores.mov"), std::string::npos) << describe(warm);
  EXPECT_NE(warm.out.find("10 decoded"), std::string::npos) << describe(warm);
  EXPECT_EQ(warm.err.find('\r'), std::string::npos);  // no progress bar when stderr is no terminal

  const CommandResult again = run("warm", {kProres, "--frames", "0:40:4"});
  ASSERT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_NE(again.out.find("10 already in memory"), std::string::npos) << describe(again);

  const CommandResult get = run("get", {kProres, "8"});
  ASSERT_EQ(get.exit_code, 0) << describe(get);
  EXPECT_NE(get.out.find("cached (memory)"), std::string::npos) << describe(get);
  const CommandResult other_format = run("get", {kProres, "8", "--format", "gray8"});
  EXPECT_EQ(other_format.out.find("cached"), std::string::npos) << describe(other_format);

  const CommandResult stats = run("stats", {});
  ASSERT_EQ(stats.exit_code, 0) << describe(stats);
  auto json = JsonValue::parse(stats.out);
  ASSERT_TRUE(json.ok()) << json.status().toString() << "\n" << stats.out;
  EXPECT_EQ(json->get("total")->get("memory")->get("entries")->asInt(), 11);  // 10 rgb24 + 1 gray8
  EXPECT_GE(json->get("total")->get("memory")->get("hits")->asInt(), 11);
}

TEST_F(CacheIntegrationTest, WarmReportsBadArgumentsAndFailures) {
  const CommandResult bad_range = run("warm", {kProres, "--frames", "1:2:0"});
  EXPECT_EQ(bad_range.exit_code, 2) << describe(bad_range);
  EXPECT_NE(bad_range.err.find("step"), std::string::npos) << describe(bad_range);
  const CommandResult missing = run("warm", {"no-such.mov"});
  EXPECT_EQ(missing.exit_code, 1) << describe(missing);
  EXPECT_NE(missing.err.find("NOT_FOUND"), std::string::npos) << describe(missing);
  const CommandResult help = runProgram({binaryPath("framewire"), "warm", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--frames"), std::string::npos);
}

}  // namespace
}  // namespace framewire::testing
