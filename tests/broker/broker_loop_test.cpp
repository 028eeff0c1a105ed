// The broker loop over real ZeroMQ sockets in one process: raw REQ and DEALER clients and
// FakeWorkers on loopback TCP (or inproc), short heartbeats so every test takes well under
// a second.
#include "broker/broker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <zmq_addon.hpp>

#include "common/protocol.h"
#include "tests/broker/fake_worker.h"
#include "tests/broker/test_messages.h"

namespace framewire {
namespace {

using namespace std::chrono_literals;
using protocol::Multipart;
using protocol::WorkerCommand;
using std::chrono::milliseconds;
using testing::FakeWorker;

constexpr milliseconds kReplyWait = 3000ms;   // generous: the machine may be busy
constexpr milliseconds kSilenceWait = 200ms;  // how long "no answer" is checked for

zmq::socket_t connect(zmq::context_t& context, zmq::socket_type type, const std::string& endpoint) {
  zmq::socket_t socket(context, type);
  socket.set(zmq::sockopt::linger, 0);
  socket.connect(endpoint);
  return socket;
}

void sendFrames(zmq::socket_t& socket, const std::vector<std::string>& texts) {
  Multipart frames;
  for (const auto& text : texts) frames.push_back(testing::textFrame(text));
  ASSERT_TRUE(zmq::send_multipart(socket, frames));
}

// A DEALER adds the empty delimiter itself; a REQ socket does it for us.
void sendRequest(zmq::socket_t& socket, uint64_t id, bool dealer, uint32_t timeout_ms = 0) {
  ASSERT_TRUE(zmq::send_multipart(
      socket, protocol::makeClientRequestFrames(testing::makeRequest(id, timeout_ms), dealer)));
}

std::optional<Multipart> receiveFrames(zmq::socket_t& socket, milliseconds timeout) {
  zmq::pollitem_t items[] = {{socket.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, 1, timeout);
  if (!(items[0].revents & ZMQ_POLLIN)) return std::nullopt;
  Multipart frames;
  (void)zmq::recv_multipart(socket, std::back_inserter(frames));
  return frames;
}

std::optional<protocol::ClientReply> receiveReply(zmq::socket_t& socket, milliseconds timeout = kReplyWait) {
  auto frames = receiveFrames(socket, timeout);
  if (!frames) return std::nullopt;
  auto reply = protocol::parseClientReply(std::move(*frames));
  EXPECT_TRUE(reply.ok()) << reply.status().toString();
  if (!reply.ok()) return std::nullopt;
  return std::move(reply).value();
}

bool waitFor(const std::function<bool()>& condition, milliseconds timeout = kReplyWait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

class BrokerLoopTest : public ::testing::Test {
 protected:
  static BrokerConfig tcpConfig() {
    BrokerConfig config;
    config.frontend = "tcp://127.0.0.1:0";
    config.backend = "tcp://127.0.0.1:0";
    config.heartbeat_interval = 50ms;
    config.heartbeat_liveness = 10;  // 500 ms: no false deaths on a busy machine
    config.default_timeout = 5000ms;
    return config;
  }

  void start(const BrokerConfig& config = tcpConfig()) {
    broker_ = std::make_unique<Broker>(context_, config);
    thread_ = std::thread([this] { broker_->run(); });
  }

  void stop() {
    if (!thread_.joinable()) return;
    broker_->requestStop();
    thread_.join();
  }

  void TearDown() override { stop(); }

  bool waitForWorkers(size_t count) {
    return waitFor([&] { return broker_->stats().workers == count; });
  }

  FakeWorker::Options workerOptions(const std::string& name, bool auto_reply = true) {
    FakeWorker::Options options;
    options.name = name;
    options.auto_reply = auto_reply;
    return options;
  }

  zmq::context_t context_;  // first member: destroyed after every socket
  std::unique_ptr<Broker> broker_;
  std::thread thread_;
};

TEST_F(BrokerLoopTest, BindsAnEphemeralPortForPortZeroOrStar) {
  BrokerConfig config = tcpConfig();
  config.backend = "tcp://127.0.0.1:*";
  start(config);
  for (const std::string& endpoint : {broker_->frontendEndpoint(), broker_->backendEndpoint()}) {
    ASSERT_EQ(endpoint.rfind("tcp://127.0.0.1:", 0), 0u) << endpoint;
    const int port = std::stoi(endpoint.substr(std::string("tcp://127.0.0.1:").size()));
    EXPECT_GT(port, 0) << endpoint;
  }
  EXPECT_NE(broker_->frontendEndpoint(), broker_->backendEndpoint());
}

TEST_F(BrokerLoopTest, RoutesAReqClientRequestToAWorkerAndBack) {
  start();
  FakeWorker worker(context_, broker_->backendEndpoint(), workerOptions("worker-a"));
  ASSERT_TRUE(waitForWorkers(1));

  auto client = connect(context_, zmq::socket_type::req, broker_->frontendEndpoint());
  sendRequest(client, 17, /*dealer=*/false);
  auto reply = receiveReply(client);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->reply->id(), 17u);
  EXPECT_EQ(reply->reply->status(), proto::StatusCode::OK);
  ASSERT_TRUE(reply->reply->worker());
  EXPECT_EQ(reply->reply->worker()->str(), "worker-a");
  ASSERT_EQ(reply->parts.size(), 2u);
  ASSERT_EQ(reply->parts[1].size(), worker.payloadSize());
  EXPECT_EQ(std::memcmp(reply->parts[1].data(), worker.payloadData(), worker.payloadSize()), 0);

  // The REQ socket is ready for the next request.
  sendRequest(client, 18, false);
  reply = receiveReply(client);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->reply->id(), 18u);
}

TEST_F(BrokerLoopTest, DealerClientGetsEveryReplyOfManyInFlight) {
  start();
  FakeWorker a(context_, broker_->backendEndpoint(), workerOptions("worker-a"));
  FakeWorker b(context_, broker_->backendEndpoint(), workerOptions("worker-b"));
  ASSERT_TRUE(waitForWorkers(2));

  auto client = connect(context_, zmq::socket_type::dealer, broker_->frontendEndpoint());
  constexpr uint64_t kRequests = 20;
  for (uint64_t id = 1; id <= kRequests; ++id) sendRequest(client, id, /*dealer=*/true);
  std::set<uint64_t> ids;
  for (uint64_t i = 0; i < kRequests; ++i) {
    auto reply = receiveReply(client);
    ASSERT_TRUE(reply) << "reply " << i;
    EXPECT_EQ(reply->reply->status(), proto::StatusCode::OK);
    ids.insert(reply->reply->id());
  }
  EXPECT_EQ(ids.size(), kRequests);
  EXPECT_EQ(a.requestsReceived() + b.requestsReceived(), int(kRequests));
}

TEST_F(BrokerLoopTest, MalformedClientMessagesAreAnsweredOrDroppedAndServingGoesOn) {
  start();
  FakeWorker worker(context_, broker_->backendEndpoint(), workerOptions("worker-a"));
  ASSERT_TRUE(waitForWorkers(1));
  auto client = connect(context_, zmq::socket_type::dealer, broker_->frontendEndpoint());

  auto expectInvalidArgument = [&](const std::vector<std::string>& frames) {
    sendFrames(client, frames);
    auto reply = receiveReply(client);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->reply->status(), proto::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(reply->reply->id(), 0u);
    EXPECT_EQ(reply->parts.size(), 1u);
  };
  expectInvalidArgument({"", "FWC01", "this is not a flatbuffer"});
  expectInvalidArgument({"", "HTTP/1.1", "GET / "});
  expectInvalidArgument({"", "FWC01"});
  expectInvalidArgument({""});
  {
    // A valid request followed by a part too many.
    Multipart frames = protocol::makeClientRequestFrames(testing::makeRequest(5), true);
    frames.push_back(testing::textFrame("extra"));
    ASSERT_TRUE(zmq::send_multipart(client, frames));
    auto reply = receiveReply(client);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->reply->status(), proto::StatusCode::INVALID_ARGUMENT);
  }
  // No empty delimiter: there is no envelope to answer, so it is dropped.
  sendFrames(client, {"FWC01", "x"});
  EXPECT_FALSE(receiveFrames(client, kSilenceWait));

  sendRequest(client, 6, /*dealer=*/true);
  auto reply = receiveReply(client);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->reply->id(), 6u);
  EXPECT_EQ(reply->reply->status(), proto::StatusCode::OK);

  // A REQ client that sent garbage gets an answer too, so its socket is not stuck.
  auto req_client = connect(context_, zmq::socket_type::req, broker_->frontendEndpoint());
  sendFrames(req_client, {"FWC01", "garbage"});
  reply = receiveReply(req_client);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->reply->status(), proto::StatusCode::INVALID_ARGUMENT);
  sendRequest(req_client, 7, /*dealer=*/false);
  reply = receiveReply(req_client);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->reply->id(), 7u);

  EXPECT_TRUE(waitFor([&] { return broker_->stats().malformed_client_messages == 7; }))
      << broker_->stats().malformed_client_messages;
  EXPECT_EQ(broker_->stats().scheduler.requests, 2u);
}

TEST_F(BrokerLoopTest, MalformedWorkerMessagesAreDroppedAndServingGoesOn) {
  start();
  auto rogue = connect(context_, zmq::socket_type::dealer, broker_->backendEndpoint());
  sendFrames(rogue, {"garbage"});
  sendFrames(rogue, {"", "FWW01", std::string(1, '\x09')});              // unknown command
  sendFrames(rogue, {"", "FWW01", std::string(1, '\x03'), "short"});     // REPLY without a real token
  sendFrames(rogue, {"", "FWW99", std::string(1, '\x01'), "impostor"});  // wrong protocol
  sendFrames(rogue, {"", "FWW01"});                                      // no command
  sendFrames(rogue, {"", "FWW01", std::string(1, '\x02')});              // REQUEST is not for brokers
  EXPECT_TRUE(waitFor([&] { return broker_->stats().malformed_worker_messages == 6; }))
      << broker_->stats().malformed_worker_messages;
  EXPECT_EQ(broker_->stats().workers, 0u);

  // A heartbeat from a worker that never said READY: told to DISCONNECT.
  ASSERT_TRUE(zmq::send_multipart(rogue, protocol::makeWorkerCommand(WorkerCommand::kHeartbeat)));
  auto answer = receiveFrames(rogue, kReplyWait);
  ASSERT_TRUE(answer);
  auto command = protocol::parseBrokerMessage(std::move(*answer));
  ASSERT_TRUE(command.ok());
  EXPECT_EQ(command->command, WorkerCommand::kDisconnect);

  FakeWorker worker(context_, broker_->backendEndpoint(), workerOptions("worker-a"));
  ASSERT_TRUE(waitForWorkers(1));
  auto client = connect(context_, zmq::socket_type::req, broker_->frontendEndpoint());
  sendRequest(client, 3, false);
  auto reply = receiveReply(client);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->reply->status(), proto::StatusCode::OK);
}

TEST_F(BrokerLoopTest, ReplyWithADamagedHeaderIsAnsweredInternal) {
  start();
  auto worker = connect(context_, zmq::socket_type::dealer, broker_->backendEndpoint());
  ASSERT_TRUE(zmq::send_multipart(worker, protocol::makeWorkerReady("sloppy")));
  ASSERT_TRUE(waitForWorkers(1));
  auto client = connect(context_, zmq::socket_type::dealer, broker_->frontendEndpoint());
  sendRequest(client, 9, true);

  std::optional<protocol::BrokerMessage> request;
  for (int i = 0; i < 100 && !request; ++i) {  // skip heartbeats
    auto frames = receiveFrames(worker, kReplyWait);
    ASSERT_TRUE(frames);
    auto message = protocol::parseBrokerMessage(std::move(*frames));
    ASSERT_TRUE(message.ok());
    if (message->command == WorkerCommand::kRequest) request = std::move(message).value();
  }
  ASSERT_TRUE(request);
  Multipart parts;
  parts.push_back(testing::textFrame("not a Reply header"));
  ASSERT_TRUE(zmq::send_multipart(worker, protocol::makeWorkerReply(request->token, std::move(parts))));

  auto reply = receiveReply(client);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->reply->id(), 9u);
  EXPECT_EQ(reply->reply->status(), proto::StatusCode::INTERNAL);
}

TEST_F(BrokerLoopTest, ClientGoneBeforeItsReplyDoesNotStallTheBroker) {
  start();
  FakeWorker worker(context_, broker_->backendEndpoint(), workerOptions("worker-a", /*auto_reply=*/false));
  ASSERT_TRUE(waitForWorkers(1));

  {
    auto leaving = connect(context_, zmq::socket_type::dealer, broker_->frontendEndpoint());
    sendRequest(leaving, 1, true);
    auto request = worker.waitForRequest(kReplyWait);
    ASSERT_TRUE(request);
    leaving.close();
    // Let the broker's ROUTER notice the closed connection before the reply arrives.
    std::this_thread::sleep_for(150ms);
    worker.reply(*request);
  }
  EXPECT_TRUE(waitFor([&] { return broker_->stats().client_send_failures == 1; }));

  auto staying = connect(context_, zmq::socket_type::dealer, broker_->frontendEndpoint());
  sendRequest(staying, 2, true);
  auto request = worker.waitForRequest(kReplyWait);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->request_id, 2u);
  worker.reply(*request);
  auto reply = receiveReply(staying);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->reply->id(), 2u);
}

TEST_F(BrokerLoopTest, BusyWhenTheQueueIsFullAndTimeoutWhenNobodyAnswers) {
  BrokerConfig config = tcpConfig();
  config.max_queue = 1;
  start(config);
  auto client = connect(context_, zmq::socket_type::dealer, broker_->frontendEndpoint());
  const auto sent = std::chrono::steady_clock::now();
  sendRequest(client, 1, true, /*timeout_ms=*/300);  // no worker: it waits in the queue
  sendRequest(client, 2, true);                      // the queue is full

  auto busy = receiveReply(client);
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->reply->id(), 2u);
  EXPECT_EQ(busy->reply->status(), proto::StatusCode::BUSY);

  auto timeout = receiveReply(client);
  ASSERT_TRUE(timeout);
  EXPECT_EQ(timeout->reply->id(), 1u);
  EXPECT_EQ(timeout->reply->status(), proto::StatusCode::TIMEOUT);
  EXPECT_GE(std::chrono::steady_clock::now() - sent, 300ms);
}

TEST_F(BrokerLoopTest, RequestOfASilentWorkerIsServedByAnother) {
  BrokerConfig config = tcpConfig();
  config.heartbeat_liveness = 4;  // 200 ms
  start(config);
  FakeWorker hung(context_, broker_->backendEndpoint(), workerOptions("worker-hung", /*auto_reply=*/false));
  ASSERT_TRUE(waitForWorkers(1));
  auto client = connect(context_, zmq::socket_type::dealer, broker_->frontendEndpoint());
  sendRequest(client, 1, true);
  ASSERT_TRUE(hung.waitForRequest(kReplyWait));
  hung.goSilent();

  FakeWorker healthy(context_, broker_->backendEndpoint(), workerOptions("worker-healthy"));
  auto reply = receiveReply(client);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->reply->id(), 1u);
  EXPECT_EQ(reply->reply->status(), proto::StatusCode::OK);
  EXPECT_EQ(reply->reply->worker()->str(), "worker-healthy");
  EXPECT_GE(broker_->stats().scheduler.requeues, 1u);
}

TEST_F(BrokerLoopTest, ReplyPayloadCrossesTheBrokerWithoutACopy) {
  BrokerConfig config = tcpConfig();
  config.frontend = "inproc://broker-loop-test-frontend";
  config.backend = "inproc://broker-loop-test-backend";
  start(config);
  EXPECT_EQ(broker_->frontendEndpoint(), config.frontend);
  FakeWorker::Options options = workerOptions("worker-a");
  options.payload_bytes = 6 << 20;  // about one 1080p rgb24 frame
  FakeWorker worker(context_, broker_->backendEndpoint(), options);
  ASSERT_TRUE(waitForWorkers(1));

  auto client = connect(context_, zmq::socket_type::dealer, broker_->frontendEndpoint());
  sendRequest(client, 1, true);
  auto reply = receiveReply(client);
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->parts.size(), 2u);
  // inproc hands message objects over as they are: the client sees the worker's own buffer.
  EXPECT_EQ(reply->parts[1].data(), worker.payloadData());
  EXPECT_EQ(reply->parts[1].size(), worker.payloadSize());
}

TEST_F(BrokerLoopTest, StopAnswersPendingRequestsAndDisconnectsWorkers) {
  start();
  FakeWorker worker(context_, broker_->backendEndpoint(), workerOptions("worker-a", /*auto_reply=*/false));
  ASSERT_TRUE(waitForWorkers(1));
  auto client = connect(context_, zmq::socket_type::dealer, broker_->frontendEndpoint());
  sendRequest(client, 1, true);
  ASSERT_TRUE(worker.waitForRequest(kReplyWait));
  sendRequest(client, 2, true);  // queued behind: the only worker is busy
  ASSERT_TRUE(waitFor([&] { return broker_->stats().queued == 1; }));

  stop();
  std::set<uint64_t> ids;
  for (int i = 0; i < 2; ++i) {
    auto reply = receiveReply(client);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->reply->status(), proto::StatusCode::UNAVAILABLE);
    ids.insert(reply->reply->id());
  }
  EXPECT_EQ(ids, (std::set<uint64_t>{1, 2}));
  EXPECT_TRUE(waitFor([&] { return worker.disconnectsReceived() >= 1; }));
}

TEST_F(BrokerLoopTest, StopIsNoticedPromptly) {
  start();
  std::this_thread::sleep_for(20ms);
  const auto asked = std::chrono::steady_clock::now();
  stop();
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 500ms);
}

}  // namespace
}  // namespace framewire
