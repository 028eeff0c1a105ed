// Cache-aware routing and STATS fan-out in the Scheduler, driven by a fake clock: a movie's
// requests go to its home worker process (rendezvous hashing over cache groups) and stay
// there; when that process is too busy they spill (backlog and wait bounds); when a process
// dies or joins only its share of movies moves.
#include "broker/scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "broker/stats_report.h"
#include "tests/broker/test_messages.h"

namespace framewire {
namespace {

using namespace std::chrono_literals;
using protocol::Multipart;
using protocol::WorkerCommand;
using protocol::WorkerMessage;
using testing::textFrame;
using TimePoint = Scheduler::TimePoint;

SchedulerConfig affinityConfig() {
  SchedulerConfig config;
  config.routing = RoutingPolicy::kAffinity;
  config.affinity_max_backlog = 2;
  config.affinity_max_wait = 100ms;
  config.stats_timeout = 2000ms;
  config.heartbeat_interval = 1000ms;
  config.heartbeat_liveness = 3;
  config.max_queue = 64;
  config.default_timeout = 30s;
  return config;
}

flatbuffers::DetachedBuffer movieRequest(uint64_t id, const std::string& movie,
                                         proto::RequestKind kind = proto::RequestKind::FRAMES) {
  flatbuffers::FlatBufferBuilder builder(256);
  auto movie_offset = builder.CreateString(movie);
  auto frames = builder.CreateVector(std::vector<int64_t>{0});
  proto::RequestBuilder request(builder);
  request.add_id(id);
  request.add_kind(kind);
  request.add_movie(movie_offset);
  if (kind == proto::RequestKind::FRAMES) request.add_frames(frames);
  builder.Finish(request.Finish());
  return builder.Release();
}

protocol::ClientRequest clientRequest(uint64_t id, const std::string& movie,
                                      proto::RequestKind kind = proto::RequestKind::FRAMES) {
  Multipart frames = protocol::makeClientRequestFrames(movieRequest(id, movie, kind), true);
  frames.insert(frames.begin(), textFrame("client"));
  protocol::ClientRequest request;
  EXPECT_TRUE(protocol::parseClientRequest(std::move(frames), &request).isOk());
  return request;
}

WorkerMessage ready(const std::string& identity, const std::string& group) {
  WorkerMessage message;
  message.identity = identity;
  message.command = WorkerCommand::kReady;
  message.name = identity;
  message.cache_group = group;
  return message;
}

WorkerMessage reply(const std::string& worker, uint64_t token, uint64_t id, const std::string& stats_json = "") {
  Multipart parts;
  if (stats_json.empty()) {
    parts.push_back(testing::makeReplyHeader(id, worker));
  } else {
    flatbuffers::FlatBufferBuilder builder(256);
    auto json = builder.CreateString(stats_json);
    proto::ReplyBuilder r(builder);
    r.add_id(id);
    r.add_stats_json(json);
    builder.Finish(r.Finish());
    parts.push_back(messageOverFlatBuffer(builder.Release()));
  }
  Multipart frames = protocol::makeWorkerReply(token, std::move(parts));
  frames.insert(frames.begin(), textFrame(worker));
  auto parsed = protocol::parseWorkerMessage(std::move(frames));
  EXPECT_TRUE(parsed.ok());
  return std::move(parsed).value();
}

WorkerMessage command(const std::string& worker, WorkerCommand c) {
  WorkerMessage message;
  message.identity = worker;
  message.command = c;
  return message;
}

template <typename T>
std::vector<T*> actionsOf(Actions& actions) {
  std::vector<T*> found;
  for (auto& action : actions) {
    if (auto* a = std::get_if<T>(&action)) found.push_back(a);
  }
  return found;
}

// How many actions of kind T a call returned.
template <typename T>
size_t countOf(Actions actions) {
  return actionsOf<T>(actions).size();
}

// The token of the one request a call dispatched.
uint64_t dispatchedToken(Actions actions) {
  auto dispatches = actionsOf<DispatchRequest>(actions);
  EXPECT_EQ(dispatches.size(), 1u);
  return dispatches.empty() ? 0 : dispatches[0]->token;
}

class AffinityTest : public ::testing::Test {
 protected:
  explicit AffinityTest(SchedulerConfig config = affinityConfig()) : scheduler_(config) {}

  Actions request(uint64_t id, const std::string& movie, proto::RequestKind kind = proto::RequestKind::FRAMES) {
    return scheduler_.onClientRequest(clientRequest(id, movie, kind), now_);
  }
  Actions fromWorker(WorkerMessage message) { return scheduler_.onWorkerMessage(std::move(message), now_); }
  void join(const std::string& identity, const std::string& group) { fromWorker(ready(identity, group)); }

  // Sends one request for `movie`, lets its worker answer at once, and returns that worker.
  std::string serveOne(const std::string& movie) {
    Actions actions = request(++next_id_, movie);
    auto dispatches = actionsOf<DispatchRequest>(actions);
    EXPECT_EQ(dispatches.size(), 1u) << movie;
    if (dispatches.size() != 1) return "";
    const std::string worker = dispatches[0]->worker;
    fromWorker(reply(worker, dispatches[0]->token, next_id_));
    return worker;
  }
  // Which worker each movie went to, serving them one at a time.
  std::map<std::string, std::string> serveAll(const std::vector<std::string>& movies) {
    std::map<std::string, std::string> where;
    for (const auto& movie : movies) where[movie] = serveOne(movie);
    return where;
  }
  // Keeps workers alive across fake time.
  void heartbeatAll(const std::vector<std::string>& workers) {
    for (const auto& w : workers) fromWorker(command(w, WorkerCommand::kHeartbeat));
  }

  static std::vector<std::string> movies(int count) {
    std::vector<std::string> names;
    for (int i = 0; i < count; ++i) names.push_back("site/camera/movie-" + std::to_string(i) + ".mov");
    return names;
  }

  Scheduler scheduler_;
  TimePoint now_ = TimePoint(std::chrono::hours(1000));
  uint64_t next_id_ = 0;
};

TEST_F(AffinityTest, AMovieStaysOnOneWorkerAndMoviesSpreadOverAllOfThem) {
  join("a", "proc-a");
  join("b", "proc-b");
  join("c", "proc-c");
  const auto names = movies(60);
  const auto first = serveAll(names);
  for (int round = 0; round < 3; ++round) EXPECT_EQ(serveAll(names), first) << "round " << round;
  std::map<std::string, int> per_worker;
  for (const auto& [movie, worker] : first) ++per_worker[worker];
  EXPECT_EQ(per_worker.size(), 3u);  // rendezvous hashing uses every group
  for (const auto& [worker, count] : per_worker) EXPECT_GE(count, 8) << worker;  // roughly even
  EXPECT_EQ(scheduler_.counters().affinity_dispatches, 4u * 60);
  EXPECT_EQ(scheduler_.counters().affinity_spills, 0u);
}

TEST_F(AffinityTest, PlainLruRoutingAlternates) {
  SchedulerConfig config = affinityConfig();
  config.routing = RoutingPolicy::kLeastRecentlyUsed;
  Scheduler lru(config);
  lru.onWorkerMessage(ready("a", "proc-a"), now_);
  lru.onWorkerMessage(ready("b", "proc-b"), now_);
  std::vector<std::string> workers;
  for (uint64_t id = 1; id <= 4; ++id) {
    Actions actions = lru.onClientRequest(clientRequest(id, "one/movie.mov"), now_);
    auto dispatch = actionsOf<DispatchRequest>(actions).at(0);
    workers.push_back(dispatch->worker);
    lru.onWorkerMessage(reply(dispatch->worker, dispatch->token, id), now_);
  }
  EXPECT_EQ(workers, (std::vector<std::string>{"a", "b", "a", "b"}));
}

TEST_F(AffinityTest, ConnectionsOfOneProcessShareItsMovies) {
  join("a-0", "proc-a");
  join("a-1", "proc-a");
  join("b-0", "proc-b");
  EXPECT_EQ(scheduler_.groupCount(), 2u);
  // Find a movie whose home is proc-a.
  std::string movie;
  for (const auto& m : movies(20)) {
    if (serveOne(m).rfind("a-", 0) == 0) {
      movie = m;
      break;
    }
  }
  ASSERT_FALSE(movie.empty());
  // Two concurrent requests for it use both of proc-a's connections, not proc-b.
  Actions first = request(101, movie);
  Actions second = request(102, movie);
  const std::string w1 = actionsOf<DispatchRequest>(first).at(0)->worker;
  const std::string w2 = actionsOf<DispatchRequest>(second).at(0)->worker;
  EXPECT_EQ(std::set<std::string>({w1, w2}), (std::set<std::string>{"a-0", "a-1"}));
}

TEST_F(AffinityTest, ABusyHomeSpillsOnceItsBacklogIsFull) {
  join("a", "proc-a");
  join("b", "proc-b");
  std::string movie;
  for (const auto& m : movies(20)) {
    if (serveOne(m) == "a") {
      movie = m;
      break;
    }
  }
  ASSERT_FALSE(movie.empty());
  Actions busy = request(100, movie);  // a is busy with this one now
  ASSERT_EQ(actionsOf<DispatchRequest>(busy).at(0)->worker, "a");
  // Two more wait for a (backlog 2 per connection), though b is idle ...
  EXPECT_EQ(countOf<DispatchRequest>(request(101, movie)), 0u);
  Actions waiting = request(102, movie);
  EXPECT_TRUE(actionsOf<DispatchRequest>(waiting).empty());
  EXPECT_EQ(scheduler_.queuedCount(), 2u);
  // ... the next one finds the backlog full and goes to b.
  Actions spilled = request(103, movie);
  auto dispatches = actionsOf<DispatchRequest>(spilled);
  ASSERT_EQ(dispatches.size(), 1u);
  EXPECT_EQ(dispatches[0]->worker, "b");
  EXPECT_EQ(scheduler_.counters().affinity_spills, 1u);
}

TEST_F(AffinityTest, ARequestWaitsForItsHomeOnlySoLong) {
  join("a", "proc-a");
  join("b", "proc-b");
  std::string movie, other;
  for (const auto& m : movies(40)) {
    const std::string w = serveOne(m);
    if (w == "a" && movie.empty()) movie = m;
    if (w == "b" && other.empty()) other = m;
  }
  ASSERT_FALSE(movie.empty());
  ASSERT_FALSE(other.empty());
  const uint64_t token = dispatchedToken(request(100, movie));
  EXPECT_TRUE(request(101, movie).empty());  // waits for a
  // A request for b's movie behind it is not held up.
  Actions to_b = request(102, other);
  ASSERT_EQ(actionsOf<DispatchRequest>(to_b).size(), 1u);
  EXPECT_EQ(actionsOf<DispatchRequest>(to_b)[0]->worker, "b");
  fromWorker(reply("b", actionsOf<DispatchRequest>(to_b)[0]->token, 102));  // b idle again

  // b is idle: the broker wakes up when 101 may spill, not before.
  auto wakeup = scheduler_.nextWakeup();
  ASSERT_TRUE(wakeup.has_value());
  EXPECT_EQ(*wakeup, now_ + 100ms);
  now_ += 99ms;
  EXPECT_EQ(countOf<DispatchRequest>(scheduler_.onTick(now_)), 0u);
  now_ += 1ms;
  Actions spilled = scheduler_.onTick(now_);
  auto dispatches = actionsOf<DispatchRequest>(spilled);
  ASSERT_EQ(dispatches.size(), 1u);
  EXPECT_EQ(dispatches[0]->worker, "b");
  EXPECT_EQ(dispatches[0]->queue_us, 100000);
  // a finishing first would have taken it: check that path too.
  Actions next = request(103, movie);
  EXPECT_TRUE(actionsOf<DispatchRequest>(next).empty());
  now_ += 10ms;
  Actions freed = fromWorker(reply("a", token, 100));
  auto to_a = actionsOf<DispatchRequest>(freed);
  ASSERT_EQ(to_a.size(), 1u);
  EXPECT_EQ(to_a[0]->worker, "a");
}

TEST_F(AffinityTest, OnlyTheLostWorkersMoviesMoveAndAJoinerTakesOnlyItsShare) {
  const std::vector<std::string> workers = {"a", "b", "c"};
  for (const auto& w : workers) join(w, "proc-" + w);
  const auto names = movies(60);
  const auto before = serveAll(names);

  // b falls silent and expires; a and c keep heartbeating.
  for (int i = 0; i < 3; ++i) {
    now_ += 1000ms;
    heartbeatAll({"a", "c"});
    scheduler_.onTick(now_);
  }
  ASSERT_EQ(scheduler_.workerCount(), 2u);
  const auto after_loss = serveAll(names);
  int moved = 0;
  for (const auto& movie : names) {
    if (before.at(movie) == "b") {
      EXPECT_NE(after_loss.at(movie), "b");
      ++moved;
    } else {
      EXPECT_EQ(after_loss.at(movie), before.at(movie)) << movie << " moved though its worker lived";
    }
  }
  EXPECT_GT(moved, 0);

  // A new process joins: the movies that move all move to it; the rest stay.
  join("d", "proc-d");
  const auto after_join = serveAll(names);
  int to_d = 0;
  for (const auto& movie : names) {
    if (after_join.at(movie) != after_loss.at(movie)) {
      EXPECT_EQ(after_join.at(movie), "d") << movie;
      ++to_d;
    }
  }
  EXPECT_GT(to_d, 0);
  EXPECT_LT(to_d, 60);

  // b coming back under its old group name takes back its old movies (those d has not
  // taken over meanwhile: rendezvous scores do not depend on who else is there), and no other.
  join("b2", "proc-b");
  const auto with_b = serveAll(names);
  int back = 0;
  for (const auto& movie : names) {
    if (with_b.at(movie) == "b2") {
      EXPECT_EQ(before.at(movie), "b") << movie;
      ++back;
    }
    if (before.at(movie) == "b") {
      EXPECT_TRUE(with_b.at(movie) == "b2" || with_b.at(movie) == "d") << movie;
    }
  }
  EXPECT_GT(back, 0);
}

TEST_F(AffinityTest, ListAndRequestsWithoutAMovieUseLeastRecentlyUsed) {
  join("a", "proc-a");
  join("b", "proc-b");
  std::vector<std::string> workers;
  for (uint64_t id = 1; id <= 4; ++id) {
    Actions actions = request(id, "some/folder", proto::RequestKind::LIST);
    auto dispatch = actionsOf<DispatchRequest>(actions).at(0);
    workers.push_back(dispatch->worker);
    fromWorker(reply(dispatch->worker, dispatch->token, id));
  }
  EXPECT_EQ(workers, (std::vector<std::string>{"a", "b", "a", "b"}));
}

TEST_F(AffinityTest, WorkersWithoutACacheGroupAreGroupsOfOne) {
  join("a", "");
  join("b", "");
  EXPECT_EQ(scheduler_.groupCount(), 2u);
  const auto names = movies(20);
  EXPECT_EQ(serveAll(names), serveAll(names));
}

// ---- STATS ------------------------------------------------------------------------------------

constexpr const char* kStatsA = R"({"worker":"a","pid":1,"memory":{"hits":3,"misses":1,"bytes":100},"disk":{"enabled":false}})";
constexpr const char* kStatsB = R"({"worker":"b","pid":2,"memory":{"hits":1,"misses":3,"bytes":50},"disk":{"enabled":false}})";

TEST_F(AffinityTest, StatsAskOneConnectionPerProcessAndMergeTheAnswers) {
  join("a-0", "proc-a");
  join("a-1", "proc-a");
  join("b-0", "proc-b");
  Actions asked = request(7, "", proto::RequestKind::STATS);
  auto dispatches = actionsOf<DispatchRequest>(asked);
  ASSERT_EQ(dispatches.size(), 2u);  // one per group, not per connection
  std::map<std::string, uint64_t> token_of;
  for (auto* d : dispatches) token_of[d->worker] = d->token;
  ASSERT_EQ(token_of.count("b-0"), 1u);
  const std::string a_worker = token_of.count("a-0") ? "a-0" : "a-1";

  EXPECT_EQ(countOf<AnswerStats>(fromWorker(reply("b-0", token_of["b-0"], 7, kStatsB))), 0u);
  Actions done = fromWorker(reply(a_worker, token_of[a_worker], 7, kStatsA));
  auto answers = actionsOf<AnswerStats>(done);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0]->request_id, 7u);
  ASSERT_EQ(answers[0]->groups.size(), 2u);
  EXPECT_EQ(answers[0]->groups[0].group, "proc-a");
  EXPECT_EQ(answers[0]->groups[0].workers, (std::vector<std::string>{"a-0", "a-1"}));
  EXPECT_TRUE(answers[0]->groups[0].answered);
  EXPECT_EQ(answers[0]->groups[1].stats_json, kStatsB);
  EXPECT_EQ(scheduler_.counters().stats_requests, 1u);
  EXPECT_EQ(scheduler_.inFlightCount(), 0u);

  // The broker's report sums the sections and adds hit rates.
  BrokerStats broker;
  broker.workers = 3;
  auto report = JsonValue::parse(statsReport(broker, RoutingPolicy::kAffinity, 2, answers[0]->groups));
  ASSERT_TRUE(report.ok()) << report.status().toString();
  const JsonValue* memory = report->get("total")->get("memory");
  EXPECT_EQ(memory->get("hits")->asInt(), 4);
  EXPECT_EQ(memory->get("misses")->asInt(), 4);
  EXPECT_EQ(memory->get("bytes")->asInt(), 150);
  EXPECT_DOUBLE_EQ(memory->get("hit_rate")->asDouble(), 0.5);
  EXPECT_EQ(report->get("total")->get("pid"), nullptr);  // top-level scalars are not summed
  EXPECT_EQ(report->get("broker")->get("routing")->asString(), "affinity");
  EXPECT_EQ(report->get("workers")->items().size(), 2u);
  EXPECT_EQ(report->get("workers")->items()[1].get("stats")->get("worker")->asString(), "b");
}

TEST_F(AffinityTest, StatsDoNotWaitForeverForABusyProcess) {
  join("a", "proc-a");
  join("b", "proc-b");
  Actions busy = request(1, "", proto::RequestKind::LIST);
  const std::string busy_worker = actionsOf<DispatchRequest>(busy).at(0)->worker;
  const std::string idle_worker = busy_worker == "a" ? "b" : "a";
  Actions asked = request(2, "", proto::RequestKind::STATS);
  auto dispatches = actionsOf<DispatchRequest>(asked);
  ASSERT_EQ(dispatches.size(), 1u);  // the busy process's part waits
  EXPECT_EQ(dispatches[0]->worker, idle_worker);
  EXPECT_TRUE(fromWorker(reply(idle_worker, dispatches[0]->token, 2, kStatsA)).empty());
  for (auto step : {1000ms, 999ms}) {
    now_ += step;
    heartbeatAll({"a", "b"});
    EXPECT_EQ(countOf<AnswerStats>(scheduler_.onTick(now_)), 0u);
  }
  now_ += 1ms;
  Actions late = scheduler_.onTick(now_);
  auto answers = actionsOf<AnswerStats>(late);
  ASSERT_EQ(answers.size(), 1u);  // after stats_timeout, with what there is
  int answered = 0;
  for (const auto& g : answers[0]->groups) {
    if (g.answered) {
      ++answered;
    } else {
      EXPECT_NE(g.error.find("TIMEOUT"), std::string::npos) << g.error;
    }
  }
  EXPECT_EQ(answered, 1);
}

TEST_F(AffinityTest, StatsWithoutWorkersAnswerAtOnceAndALostProcessIsReported) {
  Actions none = request(1, "", proto::RequestKind::STATS);
  auto answers = actionsOf<AnswerStats>(none);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(answers[0]->groups.empty());

  join("a", "proc-a");
  join("b", "proc-b");
  Actions asked = request(2, "", proto::RequestKind::STATS);
  auto dispatches = actionsOf<DispatchRequest>(asked);
  ASSERT_EQ(dispatches.size(), 2u);
  fromWorker(reply(dispatches[0]->worker, dispatches[0]->token, 2, kStatsA));
  Actions lost = fromWorker(command(dispatches[1]->worker, WorkerCommand::kDisconnect));
  auto done = actionsOf<AnswerStats>(lost);
  ASSERT_EQ(done.size(), 1u);
  bool reported = false;
  for (const auto& g : done[0]->groups) {
    if (!g.answered) reported = g.error.find("left") != std::string::npos;
  }
  EXPECT_TRUE(reported);
}

}  // namespace
}  // namespace framewire
