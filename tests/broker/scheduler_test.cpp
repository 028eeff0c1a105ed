// The broker's Scheduler driven by a fake clock: no sockets, no sleeping.
#include "broker/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/broker/test_messages.h"

namespace framewire {
namespace {

using namespace std::chrono_literals;
using protocol::Multipart;
using protocol::WorkerCommand;
using protocol::WorkerMessage;
using testing::makeReplyHeader;
using testing::makeRequest;
using testing::textFrame;
using TimePoint = Scheduler::TimePoint;

SchedulerConfig testConfig() {
  SchedulerConfig config;
  // These tests pin down dispatch order, liveness and requeues with plain least-recently-used
  // routing; affinity routing has its own tests (affinity_test.cpp).
  config.routing = RoutingPolicy::kLeastRecentlyUsed;
  config.heartbeat_interval = 1000ms;
  config.heartbeat_liveness = 3;
  config.max_queue = 4;
  config.max_dispatches = 3;
  config.default_timeout = 30s;
  config.max_timeout = 60s;
  return config;
}

// ---- inputs ---------------------------------------------------------------------------------

// What the broker's ROUTER hands over for a DEALER client named `client`.
protocol::ClientRequest clientRequest(const std::string& client, uint64_t id, uint32_t timeout_ms = 0) {
  Multipart frames = protocol::makeClientRequestFrames(makeRequest(id, timeout_ms), /*add_delimiter=*/true);
  frames.insert(frames.begin(), textFrame(client));
  protocol::ClientRequest request;
  const Status parsed = protocol::parseClientRequest(std::move(frames), &request);
  EXPECT_TRUE(parsed.isOk()) << parsed.toString();
  return request;
}

WorkerMessage workerCommand(const std::string& worker, WorkerCommand command) {
  WorkerMessage message;
  message.identity = worker;
  message.command = command;
  return message;
}

WorkerMessage ready(const std::string& worker) {
  WorkerMessage message = workerCommand(worker, WorkerCommand::kReady);
  message.name = "name-of-" + worker;
  return message;
}

WorkerMessage heartbeat(const std::string& worker) { return workerCommand(worker, WorkerCommand::kHeartbeat); }
WorkerMessage disconnect(const std::string& worker) { return workerCommand(worker, WorkerCommand::kDisconnect); }

// A REPLY (or a streamed reply's PARTIAL) as the ROUTER receives it, parsed by the real codec;
// `payload` is moved in.
WorkerMessage replyMessage(WorkerCommand command, const std::string& worker, uint64_t token, uint64_t request_id,
                           zmq::message_t payload) {
  Multipart parts;
  parts.push_back(makeReplyHeader(request_id, worker));
  parts.push_back(std::move(payload));
  Multipart frames = command == WorkerCommand::kPartial ? protocol::makeWorkerPartial(token, std::move(parts))
                                                        : protocol::makeWorkerReply(token, std::move(parts));
  frames.insert(frames.begin(), textFrame(worker));
  auto parsed = protocol::parseWorkerMessage(std::move(frames));
  EXPECT_TRUE(parsed.ok()) << parsed.status().toString();
  return std::move(parsed).value();
}

WorkerMessage reply(const std::string& worker, uint64_t token, uint64_t request_id,
                    zmq::message_t payload = zmq::message_t(16)) {
  return replyMessage(WorkerCommand::kReply, worker, token, request_id, std::move(payload));
}

WorkerMessage partial(const std::string& worker, uint64_t token, uint64_t request_id,
                      zmq::message_t payload = zmq::message_t(16)) {
  return replyMessage(WorkerCommand::kPartial, worker, token, request_id, std::move(payload));
}

// ---- outputs --------------------------------------------------------------------------------

template <typename T>
std::vector<T*> actionsOf(Actions& actions) {
  std::vector<T*> found;
  for (auto& action : actions) {
    if (auto* a = std::get_if<T>(&action)) found.push_back(a);
  }
  return found;
}

uint64_t requestIdOf(const DispatchRequest& dispatch) {
  const proto::Request* request = protocol::verifyRequest(dispatch.request.data(), dispatch.request.size());
  EXPECT_NE(request, nullptr);
  return request ? request->id() : 0;
}

std::string clientOf(const Multipart& envelope) {
  return envelope.empty() ? std::string() : envelope.front().to_string();
}

// The only action, which must be a T.
template <typename T>
T& only(Actions& actions) {
  EXPECT_EQ(actions.size(), 1u);
  auto found = actionsOf<T>(actions);
  if (found.size() != 1) {
    ADD_FAILURE() << "expected exactly one action of the wanted kind";
    static T empty;
    return empty;
  }
  return *found.front();
}

class SchedulerTest : public ::testing::Test {
 protected:
  explicit SchedulerTest(SchedulerConfig config = testConfig()) : scheduler_(config) {}

  Actions request(const std::string& client, uint64_t id, uint32_t timeout_ms = 0) {
    return scheduler_.onClientRequest(clientRequest(client, id, timeout_ms), now_);
  }
  Actions fromWorker(WorkerMessage message) { return scheduler_.onWorkerMessage(std::move(message), now_); }
  Actions tick() { return scheduler_.onTick(now_); }
  void advance(std::chrono::milliseconds by) { now_ += by; }

  // A dispatched request: the worker it went to, its token and the client's request id.
  struct Dispatched {
    std::string worker;
    uint64_t token = 0;
    uint64_t id = 0;
  };
  Dispatched dispatchedIn(Actions& actions) {
    auto& dispatch = only<DispatchRequest>(actions);
    return {dispatch.worker, dispatch.token, requestIdOf(dispatch)};
  }

  Scheduler scheduler_;
  TimePoint start_ = TimePoint(std::chrono::hours(1000));
  TimePoint now_ = start_;
};

// ---- dispatch ---------------------------------------------------------------------------------

TEST_F(SchedulerTest, DispatchesToTheLeastRecentlyUsedWorker) {
  EXPECT_TRUE(fromWorker(ready("A")).empty());
  EXPECT_TRUE(fromWorker(ready("B")).empty());
  EXPECT_TRUE(fromWorker(ready("C")).empty());
  EXPECT_EQ(scheduler_.readyWorkerCount(), 3u);

  std::vector<Dispatched> first;
  for (uint64_t id = 1; id <= 3; ++id) {
    auto actions = request("client", id);
    first.push_back(dispatchedIn(actions));
  }
  EXPECT_EQ(first[0].worker, "A");
  EXPECT_EQ(first[1].worker, "B");
  EXPECT_EQ(first[2].worker, "C");
  EXPECT_EQ(first[0].id, 1u);
  EXPECT_NE(first[0].token, first[1].token);

  // C, then A finish: C has now been ready the longest and gets the next request.
  advance(10ms);
  auto from_c = fromWorker(reply("C", first[2].token, 3));
  EXPECT_EQ(actionsOf<ForwardReply>(from_c).size(), 1u);
  advance(10ms);
  auto from_a = fromWorker(reply("A", first[0].token, 1));
  EXPECT_EQ(actionsOf<ForwardReply>(from_a).size(), 1u);
  auto fourth = request("client", 4);
  EXPECT_EQ(dispatchedIn(fourth).worker, "C");
  auto fifth = request("client", 5);
  EXPECT_EQ(dispatchedIn(fifth).worker, "A");
  // Every worker is busy now: the next request waits.
  EXPECT_TRUE(request("client", 6).empty());
  EXPECT_EQ(scheduler_.queuedCount(), 1u);
  EXPECT_EQ(scheduler_.inFlightCount(), 3u);
}

TEST_F(SchedulerTest, WorkerThatRepliesIsReadyAgainAndTakesTheQueuedRequest) {
  fromWorker(ready("A"));
  auto first = request("client-1", 1);
  const Dispatched dispatched = dispatchedIn(first);
  EXPECT_TRUE(request("client-2", 2).empty());
  EXPECT_EQ(scheduler_.queuedCount(), 1u);

  advance(250ms);
  auto actions = fromWorker(reply("A", dispatched.token, 1));
  ASSERT_EQ(actions.size(), 2u);
  auto forwards = actionsOf<ForwardReply>(actions);
  ASSERT_EQ(forwards.size(), 1u);
  EXPECT_EQ(clientOf(forwards[0]->envelope), "client-1");
  auto dispatches = actionsOf<DispatchRequest>(actions);
  ASSERT_EQ(dispatches.size(), 1u);
  EXPECT_EQ(dispatches[0]->worker, "A");
  EXPECT_EQ(requestIdOf(*dispatches[0]), 2u);
  // The second request waited in the queue for the 250 ms the first one took.
  EXPECT_EQ(dispatches[0]->queue_us, 250000);
  EXPECT_EQ(scheduler_.counters().replies, 1u);
}

TEST_F(SchedulerTest, QueuedRequestsGoToAWorkerThatJoinsLater) {
  EXPECT_TRUE(request("client", 1).empty());
  EXPECT_TRUE(request("client", 2).empty());
  advance(5ms);
  auto actions = fromWorker(ready("A"));
  const Dispatched dispatched = dispatchedIn(actions);
  EXPECT_EQ(dispatched.id, 1u);  // first come, first served
  EXPECT_EQ(std::get<DispatchRequest>(actions[0]).queue_us, 5000);
  EXPECT_EQ(scheduler_.queuedCount(), 1u);
}

TEST_F(SchedulerTest, DispatchSharesTheRequestBodyInsteadOfCopyingIt) {
  Multipart frames = protocol::makeClientRequestFrames(makeRequest(7), true);
  frames.insert(frames.begin(), textFrame("client"));
  protocol::ClientRequest parsed;
  ASSERT_TRUE(protocol::parseClientRequest(std::move(frames), &parsed).isOk());
  const void* body = parsed.body.data();
  ASSERT_GT(parsed.body.size(), 33u);  // bigger than ZeroMQ's inline (very small) messages
  fromWorker(ready("A"));
  auto actions = scheduler_.onClientRequest(std::move(parsed), now_);
  EXPECT_EQ(only<DispatchRequest>(actions).request.data(), body);
}

// ---- liveness and requeue -------------------------------------------------------------------

TEST_F(SchedulerTest, SilentWorkerExpiresAndItsRequestGoesToAnotherWorker) {
  fromWorker(ready("A"));
  fromWorker(ready("B"));
  auto first = request("client", 1);
  const Dispatched at_a = dispatchedIn(first);
  ASSERT_EQ(at_a.worker, "A");

  // B keeps heartbeating, A says nothing. Dead after 3 intervals of silence, not before.
  for (int i = 0; i < 2; ++i) {
    advance(1000ms);
    fromWorker(heartbeat("B"));
    auto actions = tick();
    EXPECT_TRUE(actionsOf<DispatchRequest>(actions).empty());
  }
  advance(999ms);
  fromWorker(heartbeat("B"));
  auto before = tick();
  EXPECT_TRUE(actionsOf<DispatchRequest>(before).empty());
  EXPECT_EQ(scheduler_.workerCount(), 2u);

  advance(1ms);  // 3000 ms since A was last heard from
  auto actions = tick();
  auto dispatches = actionsOf<DispatchRequest>(actions);
  ASSERT_EQ(dispatches.size(), 1u);
  EXPECT_EQ(dispatches[0]->worker, "B");
  EXPECT_EQ(requestIdOf(*dispatches[0]), 1u);
  EXPECT_NE(dispatches[0]->token, at_a.token);
  const uint64_t token_at_b = dispatches[0]->token;
  EXPECT_EQ(scheduler_.workerCount(), 1u);
  EXPECT_EQ(scheduler_.counters().requeues, 1u);
  EXPECT_EQ(scheduler_.counters().workers_lost, 1u);

  // A was only slow: its late reply is dropped and A is told to reconnect.
  auto late = fromWorker(reply("A", at_a.token, 1));
  auto& command = only<SendWorkerCommand>(late);
  EXPECT_EQ(command.worker, "A");
  EXPECT_EQ(command.command, WorkerCommand::kDisconnect);
  EXPECT_EQ(scheduler_.counters().late_replies, 1u);

  // B's answer is the one the client gets.
  auto answered = fromWorker(reply("B", token_at_b, 1));
  EXPECT_EQ(clientOf(only<ForwardReply>(answered).envelope), "client");
  EXPECT_EQ(scheduler_.inFlightCount(), 0u);
}

TEST_F(SchedulerTest, AnyMessageFromAWorkerKeepsItAlive) {
  fromWorker(ready("A"));
  auto first = request("client", 1);
  const Dispatched dispatched = dispatchedIn(first);
  advance(2500ms);
  fromWorker(reply("A", dispatched.token, 1));  // a reply counts as a sign of life
  advance(2500ms);
  tick();
  EXPECT_EQ(scheduler_.workerCount(), 1u);
  advance(500ms);
  tick();
  EXPECT_EQ(scheduler_.workerCount(), 0u);
}

TEST_F(SchedulerTest, RetryCapAnswersUnavailable) {
  // Three workers take the request in turn and are lost: disconnect, silence, disconnect.
  fromWorker(ready("W1"));
  auto actions = request("client", 1);
  EXPECT_EQ(dispatchedIn(actions).worker, "W1");
  EXPECT_TRUE(fromWorker(disconnect("W1")).empty());  // requeued; nobody to take it
  EXPECT_EQ(scheduler_.queuedCount(), 1u);

  actions = fromWorker(ready("W2"));
  EXPECT_EQ(dispatchedIn(actions).worker, "W2");
  advance(3000ms);
  tick();
  EXPECT_EQ(scheduler_.queuedCount(), 1u);

  actions = fromWorker(ready("W3"));
  EXPECT_EQ(dispatchedIn(actions).worker, "W3");
  actions = fromWorker(disconnect("W3"));
  auto& answer = only<AnswerClient>(actions);
  EXPECT_EQ(answer.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(answer.request_id, 1u);
  EXPECT_EQ(clientOf(answer.envelope), "client");
  EXPECT_EQ(scheduler_.counters().requeues, 2u);
  EXPECT_EQ(scheduler_.counters().unavailable, 1u);
  EXPECT_EQ(scheduler_.queuedCount(), 0u);
  EXPECT_EQ(scheduler_.inFlightCount(), 0u);
}

TEST_F(SchedulerTest, DisconnectFromAWorkerRequeuesItsRequestAtTheFront) {
  fromWorker(ready("A"));
  auto first = request("client", 1);
  EXPECT_EQ(dispatchedIn(first).worker, "A");
  request("client", 2);
  request("client", 3);
  EXPECT_TRUE(fromWorker(disconnect("A")).empty());  // nobody to take it yet
  EXPECT_EQ(scheduler_.queuedCount(), 3u);
  EXPECT_EQ(scheduler_.workerCount(), 0u);
  // Request 1 has waited longest: it goes ahead of 2 and 3.
  auto actions = fromWorker(ready("B"));
  const Dispatched at_b = dispatchedIn(actions);
  EXPECT_EQ(at_b.worker, "B");
  EXPECT_EQ(at_b.id, 1u);
}

TEST_F(SchedulerTest, DisconnectRedispatchesToAReadyWorkerWithANewToken) {
  fromWorker(ready("A"));
  fromWorker(ready("B"));
  auto first = request("client", 1);
  const Dispatched at_a = dispatchedIn(first);
  auto actions = fromWorker(disconnect("A"));
  const Dispatched at_b = dispatchedIn(actions);
  EXPECT_EQ(at_b.worker, "B");
  EXPECT_EQ(at_b.id, 1u);
  EXPECT_NE(at_b.token, at_a.token);
  EXPECT_EQ(scheduler_.counters().requeues, 1u);
}

TEST_F(SchedulerTest, UndeliveredDispatchDoesNotCountAgainstTheCap) {
  SchedulerConfig config = testConfig();
  config.max_dispatches = 1;
  Scheduler scheduler(config);
  scheduler.onWorkerMessage(ready("A"), now_);
  scheduler.onWorkerMessage(ready("B"), now_);
  auto actions = scheduler.onClientRequest(clientRequest("client", 1), now_);
  auto& to_a = only<DispatchRequest>(actions);
  ASSERT_EQ(to_a.worker, "A");
  // The loop could not deliver it (A's connection is gone): B gets it, no UNAVAILABLE.
  auto retried = scheduler.onWorkerUnreachable("A", to_a.token, now_);
  EXPECT_EQ(only<DispatchRequest>(retried).worker, "B");
  EXPECT_EQ(scheduler.workerCount(), 1u);
}

TEST_F(SchedulerTest, ReadyAgainFromABusyWorkerRequeuesWhatItForgot) {
  fromWorker(ready("A"));
  auto first = request("client", 1);
  const Dispatched at_a = dispatchedIn(first);
  auto actions = fromWorker(ready("A"));
  const Dispatched again = dispatchedIn(actions);
  EXPECT_EQ(again.worker, "A");
  EXPECT_NE(again.token, at_a.token);
  EXPECT_EQ(scheduler_.workerCount(), 1u);
}

// ---- BUSY and deadlines ---------------------------------------------------------------------

TEST_F(SchedulerTest, FullQueueAnswersBusy) {
  for (uint64_t id = 1; id <= 4; ++id) EXPECT_TRUE(request("client-" + std::to_string(id), id).empty());
  EXPECT_EQ(scheduler_.queuedCount(), 4u);
  auto actions = request("client-5", 5);
  auto& answer = only<AnswerClient>(actions);
  EXPECT_EQ(answer.status.code(), StatusCode::kBusy);
  EXPECT_EQ(answer.request_id, 5u);
  EXPECT_EQ(clientOf(answer.envelope), "client-5");
  EXPECT_EQ(scheduler_.queuedCount(), 4u);
  EXPECT_EQ(scheduler_.counters().busy, 1u);
  EXPECT_EQ(scheduler_.counters().requests, 5u);
}

TEST_F(SchedulerTest, ZeroQueueStillServesAReadyWorker) {
  SchedulerConfig config = testConfig();
  config.max_queue = 0;
  Scheduler scheduler(config);
  scheduler.onWorkerMessage(ready("A"), now_);
  auto actions = scheduler.onClientRequest(clientRequest("client", 1), now_);
  EXPECT_EQ(only<DispatchRequest>(actions).worker, "A");
  actions = scheduler.onClientRequest(clientRequest("client", 2), now_);
  EXPECT_EQ(only<AnswerClient>(actions).status.code(), StatusCode::kBusy);
}

TEST_F(SchedulerTest, DeadlinePassingInTheQueueAnswersTimeout) {
  EXPECT_TRUE(request("client", 1, /*timeout_ms=*/500).empty());
  EXPECT_TRUE(request("client", 2).empty());  // default: 30 s
  ASSERT_TRUE(scheduler_.nextWakeup().has_value());
  EXPECT_EQ(*scheduler_.nextWakeup(), start_ + 500ms);

  advance(499ms);
  EXPECT_TRUE(tick().empty());
  advance(1ms);
  auto actions = tick();
  auto& answer = only<AnswerClient>(actions);
  EXPECT_EQ(answer.status.code(), StatusCode::kTimeout);
  EXPECT_EQ(answer.request_id, 1u);
  EXPECT_EQ(scheduler_.queuedCount(), 1u);
  EXPECT_EQ(scheduler_.counters().timeouts, 1u);
  EXPECT_EQ(*scheduler_.nextWakeup(), start_ + 30s);

  // The one left is still served first-come when a worker shows up.
  auto dispatched = fromWorker(ready("A"));
  EXPECT_EQ(dispatchedIn(dispatched).id, 2u);
}

TEST_F(SchedulerTest, DeadlinePassingInFlightAnswersTimeoutAndDropsTheLateReply) {
  fromWorker(ready("A"));
  auto first = request("client", 1, /*timeout_ms=*/200);
  const Dispatched at_a = dispatchedIn(first);
  advance(200ms);
  fromWorker(heartbeat("A"));
  auto actions = tick();
  auto& answer = only<AnswerClient>(actions);
  EXPECT_EQ(answer.status.code(), StatusCode::kTimeout);
  EXPECT_EQ(scheduler_.inFlightCount(), 0u);

  // A is still working on it: a new request waits rather than going to A.
  EXPECT_TRUE(request("client", 2).empty());
  EXPECT_EQ(scheduler_.queuedCount(), 1u);

  // A's late reply goes nowhere, and A takes the next request.
  advance(50ms);
  auto late = fromWorker(reply("A", at_a.token, 1));
  EXPECT_TRUE(actionsOf<ForwardReply>(late).empty());
  const Dispatched next = dispatchedIn(late);
  EXPECT_EQ(next.worker, "A");
  EXPECT_EQ(next.id, 2u);
  EXPECT_EQ(scheduler_.counters().late_replies, 1u);
  EXPECT_EQ(scheduler_.counters().replies, 0u);
}

TEST_F(SchedulerTest, TimeoutsUseTheDefaultAndAreClampedToTheMaximum) {
  EXPECT_EQ(scheduler_.deadlineFor(0, now_), now_ + 30s);
  EXPECT_EQ(scheduler_.deadlineFor(1500, now_), now_ + 1500ms);
  EXPECT_EQ(scheduler_.deadlineFor(3600 * 1000, now_), now_ + 60s);
}

TEST_F(SchedulerTest, WorkerLostAfterTheDeadlineDoesNotRequeue) {
  fromWorker(ready("A"));
  request("client", 1, /*timeout_ms=*/3000);
  advance(3000ms);  // A's expiry and the request's deadline fall together
  auto actions = tick();
  auto& answer = only<AnswerClient>(actions);
  EXPECT_EQ(answer.status.code(), StatusCode::kTimeout);
  EXPECT_EQ(scheduler_.counters().requeues, 0u);
  EXPECT_EQ(scheduler_.workerCount(), 0u);
}

// ---- heartbeats and unknown workers -----------------------------------------------------------

TEST_F(SchedulerTest, HeartbeatsAreDueEveryIntervalPerWorker) {
  EXPECT_FALSE(scheduler_.nextWakeup().has_value());
  fromWorker(ready("A"));
  EXPECT_EQ(*scheduler_.nextWakeup(), start_ + 1000ms);
  advance(400ms);
  fromWorker(ready("B"));

  auto heartbeatsTo = [](Actions& actions) {
    std::vector<std::string> workers;
    for (auto* command : actionsOf<SendWorkerCommand>(actions)) {
      EXPECT_EQ(command->command, WorkerCommand::kHeartbeat);
      workers.push_back(command->worker);
    }
    return workers;
  };

  advance(599ms);  // 999 ms
  EXPECT_TRUE(tick().empty());
  advance(1ms);  // 1000 ms
  auto actions = tick();
  EXPECT_EQ(heartbeatsTo(actions), std::vector<std::string>{"A"});
  EXPECT_EQ(*scheduler_.nextWakeup(), start_ + 1400ms);
  fromWorker(heartbeat("A"));
  advance(400ms);  // 1400 ms
  actions = tick();
  EXPECT_EQ(heartbeatsTo(actions), std::vector<std::string>{"B"});
  fromWorker(heartbeat("B"));
  advance(600ms);  // 2000 ms: heartbeats go out whether or not the worker talked meanwhile
  actions = tick();
  EXPECT_EQ(heartbeatsTo(actions), std::vector<std::string>{"A"});
  fromWorker(heartbeat("A"));

  // A late tick sends one heartbeat per worker, never a burst of the missed ones. A worker
  // whose next beat is still ahead keeps its rhythm; one that fell a whole interval behind
  // restarts from now.
  advance(1700ms);  // 3700 ms: A was due at 3000; B at 2400 and again at 3400
  fromWorker(heartbeat("A"));
  fromWorker(heartbeat("B"));
  actions = tick();
  auto sent = heartbeatsTo(actions);
  std::sort(sent.begin(), sent.end());
  EXPECT_EQ(sent, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(*scheduler_.nextWakeup(), start_ + 4000ms);
  advance(300ms);  // 4000 ms
  actions = tick();
  EXPECT_EQ(heartbeatsTo(actions), std::vector<std::string>{"A"});
  EXPECT_EQ(*scheduler_.nextWakeup(), start_ + 4700ms);
}

TEST_F(SchedulerTest, UnknownWorkerIsToldToDisconnect) {
  auto actions = fromWorker(heartbeat("ghost"));
  auto& command = only<SendWorkerCommand>(actions);
  EXPECT_EQ(command.worker, "ghost");
  EXPECT_EQ(command.command, WorkerCommand::kDisconnect);

  actions = fromWorker(reply("ghost", 42, 1));
  EXPECT_EQ(only<SendWorkerCommand>(actions).command, WorkerCommand::kDisconnect);

  // A DISCONNECT is not answered with another one.
  EXPECT_TRUE(fromWorker(disconnect("ghost")).empty());
  EXPECT_EQ(scheduler_.workerCount(), 0u);
  EXPECT_EQ(scheduler_.counters().unknown_workers, 2u);
}

TEST_F(SchedulerTest, ReplyWithAnUnknownTokenFromAKnownWorkerIsDropped) {
  fromWorker(ready("A"));
  auto actions = fromWorker(reply("A", 12345, 1));
  EXPECT_TRUE(actions.empty());
  EXPECT_EQ(scheduler_.counters().late_replies, 1u);
  EXPECT_EQ(scheduler_.readyWorkerCount(), 1u);
}

TEST_F(SchedulerTest, MalformedReplyIsAnsweredInternalAndFreesTheWorker) {
  fromWorker(ready("A"));
  auto first = request("client", 1);
  const Dispatched at_a = dispatchedIn(first);
  auto actions = scheduler_.onMalformedReply("A", at_a.token, now_);
  auto& answer = only<AnswerClient>(actions);
  EXPECT_EQ(answer.status.code(), StatusCode::kInternal);
  EXPECT_EQ(answer.request_id, 1u);
  EXPECT_EQ(scheduler_.readyWorkerCount(), 1u);
  EXPECT_EQ(scheduler_.counters().worker_errors, 1u);
}

// ---- zero copy and shutdown -------------------------------------------------------------------

TEST_F(SchedulerTest, ReplyIsForwardedWithoutCopyingThePayload) {
  fromWorker(ready("A"));
  auto first = request("client", 1);
  const Dispatched at_a = dispatchedIn(first);

  zmq::message_t payload(4 << 20);  // a 4 MB "frame"
  const void* pixels = payload.data();
  WorkerMessage message = reply("A", at_a.token, 1, std::move(payload));
  ASSERT_EQ(message.header_and_payload.size(), 2u);
  const void* header = message.header_and_payload[0].data();
  auto actions = fromWorker(std::move(message));
  auto& forward = only<ForwardReply>(actions);
  ASSERT_EQ(forward.header_and_payload.size(), 2u);
  EXPECT_EQ(forward.header_and_payload[0].data(), header);
  EXPECT_EQ(forward.header_and_payload[1].data(), pixels);
  EXPECT_EQ(forward.header_and_payload[1].size(), size_t(4 << 20));

  // And the client reply the loop builds from it still points at the same bytes.
  Multipart frames = protocol::makeClientReply(std::move(forward.envelope), std::move(forward.header_and_payload));
  EXPECT_EQ(frames.back().data(), pixels);
}

// ---- streamed replies (PARTIAL) ---------------------------------------------------------------

TEST_F(SchedulerTest, PartialIsForwardedWithoutCopyAndTheRequestStaysInFlight) {
  fromWorker(ready("A"));
  auto first = request("client", 1);
  const Dispatched at_a = dispatchedIn(first);
  EXPECT_TRUE(request("client-2", 2).empty());  // A is busy: queued

  for (int i = 0; i < 3; ++i) {
    zmq::message_t payload(4 << 20);  // a 4 MB chunk of frames
    const void* pixels = payload.data();
    WorkerMessage message = partial("A", at_a.token, 1, std::move(payload));
    const void* header = message.header_and_payload[0].data();
    advance(10ms);
    auto actions = fromWorker(std::move(message));
    auto& forward = only<ForwardReply>(actions);
    EXPECT_EQ(clientOf(forward.envelope), "client");
    ASSERT_EQ(forward.header_and_payload.size(), 2u);
    EXPECT_EQ(forward.header_and_payload[0].data(), header);
    EXPECT_EQ(forward.header_and_payload[1].data(), pixels);
    // Still in flight at A; A is not offered the queued request.
    EXPECT_EQ(scheduler_.inFlightCount(), 1u);
    EXPECT_EQ(scheduler_.queuedCount(), 1u);
    EXPECT_EQ(scheduler_.readyWorkerCount(), 0u);
  }
  EXPECT_EQ(scheduler_.counters().partials, 3u);
  EXPECT_EQ(scheduler_.counters().replies, 0u);

  // The REPLY ends the request; A takes the queued one.
  auto actions = fromWorker(reply("A", at_a.token, 1));
  auto forwards = actionsOf<ForwardReply>(actions);
  ASSERT_EQ(forwards.size(), 1u);
  EXPECT_EQ(clientOf(forwards[0]->envelope), "client");
  auto dispatches = actionsOf<DispatchRequest>(actions);
  ASSERT_EQ(dispatches.size(), 1u);
  EXPECT_EQ(requestIdOf(*dispatches[0]), 2u);
  EXPECT_EQ(scheduler_.counters().replies, 1u);
}

TEST_F(SchedulerTest, PartialsKeepAStreamingWorkerAlive) {
  fromWorker(ready("A"));
  auto first = request("client", 1);
  const Dispatched at_a = dispatchedIn(first);
  for (int i = 0; i < 4; ++i) {
    advance(2500ms);
    fromWorker(partial("A", at_a.token, 1));
    tick();
    EXPECT_EQ(scheduler_.workerCount(), 1u) << "after " << (i + 1) * 2500 << " ms";
  }
  advance(3000ms);  // silent for 3 intervals: dead, and the request goes back to the queue
  tick();
  EXPECT_EQ(scheduler_.workerCount(), 0u);
  EXPECT_EQ(scheduler_.queuedCount(), 1u);
}

TEST_F(SchedulerTest, WorkerLostMidStreamRequeuesAndTheStreamRestarts) {
  fromWorker(ready("A"));
  fromWorker(ready("B"));
  auto first = request("client", 1);
  const Dispatched at_a = dispatchedIn(first);
  ASSERT_EQ(at_a.worker, "A");
  auto forwarded = fromWorker(partial("A", at_a.token, 1));
  EXPECT_EQ(actionsOf<ForwardReply>(forwarded).size(), 1u);

  // A dies mid-stream: B gets the request under a new token and streams it from the start.
  advance(1000ms);
  fromWorker(heartbeat("B"));
  advance(1000ms);
  fromWorker(heartbeat("B"));
  advance(1000ms);
  fromWorker(heartbeat("B"));
  auto actions = tick();  // also B's heartbeat
  auto dispatches = actionsOf<DispatchRequest>(actions);
  ASSERT_EQ(dispatches.size(), 1u);
  const Dispatched at_b{dispatches[0]->worker, dispatches[0]->token, requestIdOf(*dispatches[0])};
  EXPECT_EQ(at_b.worker, "B");
  EXPECT_EQ(at_b.id, 1u);
  EXPECT_NE(at_b.token, at_a.token);
  EXPECT_EQ(scheduler_.counters().requeues, 1u);

  // A was only slow: its PARTIALs and REPLY for the old token reach nobody.
  auto late = fromWorker(partial("A", at_a.token, 1));
  EXPECT_TRUE(actionsOf<ForwardReply>(late).empty());
  EXPECT_EQ(only<SendWorkerCommand>(late).command, WorkerCommand::kDisconnect);
  EXPECT_EQ(scheduler_.counters().late_partials, 1u);

  // B's stream is the one the client gets, to its end.
  auto from_b = fromWorker(partial("B", at_b.token, 1));
  EXPECT_EQ(clientOf(only<ForwardReply>(from_b).envelope), "client");
  auto done = fromWorker(reply("B", at_b.token, 1));
  EXPECT_EQ(clientOf(only<ForwardReply>(done).envelope), "client");
  EXPECT_EQ(scheduler_.inFlightCount(), 0u);
  EXPECT_EQ(scheduler_.readyWorkerCount(), 1u);
}

TEST_F(SchedulerTest, TimeoutMidStreamEndsTheRequestAndDropsTheRest) {
  fromWorker(ready("A"));
  auto first = request("client", 1, /*timeout_ms=*/500);
  const Dispatched at_a = dispatchedIn(first);
  advance(200ms);
  auto forwarded = fromWorker(partial("A", at_a.token, 1));
  EXPECT_EQ(actionsOf<ForwardReply>(forwarded).size(), 1u);
  advance(300ms);  // 500 ms after the request, 300 ms after the PARTIAL: it restarted the deadline
  auto early = tick();
  EXPECT_TRUE(actionsOf<AnswerClient>(early).empty());
  EXPECT_EQ(scheduler_.inFlightCount(), 1u);
  advance(200ms);  // 500 ms of silence since the PARTIAL
  auto actions = tick();
  auto& answer = only<AnswerClient>(actions);
  EXPECT_EQ(answer.status.code(), StatusCode::kTimeout);
  EXPECT_EQ(clientOf(answer.envelope), "client");
  EXPECT_EQ(scheduler_.inFlightCount(), 0u);

  // A keeps streaming: nothing more reaches the client, and A stays busy until its REPLY.
  EXPECT_TRUE(request("client", 2).empty());
  auto late = fromWorker(partial("A", at_a.token, 1));
  EXPECT_TRUE(late.empty());
  EXPECT_EQ(scheduler_.counters().late_partials, 1u);
  EXPECT_EQ(scheduler_.queuedCount(), 1u);
  auto last = fromWorker(reply("A", at_a.token, 1));
  EXPECT_TRUE(actionsOf<ForwardReply>(last).empty());
  EXPECT_EQ(dispatchedIn(last).id, 2u);
  EXPECT_EQ(scheduler_.counters().late_replies, 1u);
}

TEST_F(SchedulerTest, PartialWithAnUnknownTokenFromAKnownWorkerIsDropped) {
  fromWorker(ready("A"));
  EXPECT_TRUE(fromWorker(partial("A", 12345, 1)).empty());
  EXPECT_EQ(scheduler_.counters().late_partials, 1u);
  EXPECT_EQ(scheduler_.readyWorkerCount(), 1u);
}

TEST_F(SchedulerTest, MalformedPartialIsAnsweredInternalButTheWorkerStaysBusy) {
  fromWorker(ready("A"));
  auto first = request("client", 1);
  const Dispatched at_a = dispatchedIn(first);
  auto actions = scheduler_.onMalformedReply("A", at_a.token, now_, /*partial=*/true);
  auto& answer = only<AnswerClient>(actions);
  EXPECT_EQ(answer.status.code(), StatusCode::kInternal);
  EXPECT_EQ(scheduler_.readyWorkerCount(), 0u);  // still producing the rest
  // Its REPLY then frees it, and is dropped.
  auto last = fromWorker(reply("A", at_a.token, 1));
  EXPECT_TRUE(actionsOf<ForwardReply>(last).empty());
  EXPECT_EQ(scheduler_.readyWorkerCount(), 1u);
}

TEST_F(SchedulerTest, ShutdownAnswersEveryPendingRequestAndDisconnectsWorkers) {
  fromWorker(ready("A"));
  fromWorker(ready("B"));
  request("client", 1);
  request("client", 2);
  request("client", 3);  // queued
  auto actions = scheduler_.shutdown(now_);
  auto answers = actionsOf<AnswerClient>(actions);
  ASSERT_EQ(answers.size(), 3u);
  for (auto* answer : answers) EXPECT_EQ(answer->status.code(), StatusCode::kUnavailable);
  auto commands = actionsOf<SendWorkerCommand>(actions);
  ASSERT_EQ(commands.size(), 2u);
  for (auto* command : commands) EXPECT_EQ(command->command, WorkerCommand::kDisconnect);
  EXPECT_EQ(scheduler_.workerCount(), 0u);
  EXPECT_EQ(scheduler_.queuedCount(), 0u);
  EXPECT_EQ(scheduler_.inFlightCount(), 0u);
  EXPECT_FALSE(scheduler_.nextWakeup().has_value());
}

}  // namespace
}  // namespace framewire
