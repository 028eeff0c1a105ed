#include "broker/broker.h"

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <mutex>
#include <utility>
#include <variant>

#include <zmq_addon.hpp>

#include "broker/stats_report.h"
#include "common/log.h"
#include "common/protocol.h"
#include "common/zero_copy.h"

namespace framewire {
namespace {

using Clock = Scheduler::Clock;
using protocol::Multipart;
using std::chrono::milliseconds;

constexpr const char* kLog = "broker";
// The longest poll: requestStop() is noticed within this.
constexpr milliseconds kMaxPollWait{100};
// Messages taken from one socket per turn, so neither side can starve the other or the timers.
constexpr int kMaxMessagesPerTurn = 64;
// How long closing a socket may spend flushing the final DISCONNECTs and UNAVAILABLE answers.
constexpr int kShutdownLingerMs = 200;

// libzmq binds an ephemeral TCP port for "*", not for "0"; accept both.
std::string bindableEndpoint(const std::string& endpoint) {
  const std::string tcp = "tcp://";
  if (endpoint.compare(0, tcp.size(), tcp) == 0 && endpoint.size() > tcp.size() + 2 &&
      endpoint.compare(endpoint.size() - 2, 2, ":0") == 0) {
    return endpoint.substr(0, endpoint.size() - 1) + "*";
  }
  return endpoint;
}

void configureRouter(zmq::socket_t& socket, int hwm) {
  // Without ROUTER_MANDATORY a ROUTER silently drops what it cannot route; with it (and
  // DONTWAIT) a send to a gone or full peer fails at once and we can say so.
  socket.set(zmq::sockopt::router_mandatory, 1);
  socket.set(zmq::sockopt::sndhwm, hwm);
  socket.set(zmq::sockopt::rcvhwm, hwm);
  socket.set(zmq::sockopt::linger, 0);
}

std::string bindRouter(zmq::socket_t& socket, const std::string& endpoint, const char* role) {
  try {
    socket.bind(bindableEndpoint(endpoint));
  } catch (const zmq::error_t& e) {
    FW_LOG(kError, kLog) << "cannot bind " << role << " " << endpoint << ": " << e.what();
    throw;
  }
  return socket.get(zmq::sockopt::last_endpoint);
}

// The token of a message that claims to be a REPLY or PARTIAL
// ([identity][""]["FWW01"][0x03 or 0x06][token]...), read before the full parse so that a reply
// with a damaged header can still be matched to its request and answered instead of leaving
// the client to time out.
bool replyTokenOf(const Multipart& frames, uint64_t* token, bool* partial) {
  if (frames.size() < 5 || frames[3].size() != 1) return false;
  if (frames[2].to_string_view() != protocol::kWorkerProtocol) return false;
  const auto command = static_cast<protocol::WorkerCommand>(*frames[3].data<uint8_t>());
  if (!protocol::carriesReply(command)) return false;
  *partial = command == protocol::WorkerCommand::kPartial;
  return protocol::decodeU64(frames[4], token);
}

enum class SendOutcome { kSent, kPipeFull, kUnroutable };

// Sends without blocking. Throws zmq::error_t only for errors that end the loop (ETERM, ...).
SendOutcome sendNow(zmq::socket_t& socket, Multipart& frames) {
  try {
    return zmq::send_multipart(socket, frames, zmq::send_flags::dontwait) ? SendOutcome::kSent
                                                                           : SendOutcome::kPipeFull;
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) return SendOutcome::kUnroutable;
    throw;
  }
}

const char* describe(SendOutcome outcome) {
  return outcome == SendOutcome::kPipeFull ? "its pipe is full" : "it is gone";
}

}  // namespace

SchedulerConfig BrokerConfig::schedulerConfig() const {
  SchedulerConfig config;
  config.routing = routing;
  config.affinity_max_backlog = affinity_max_backlog;
  config.affinity_max_wait = affinity_max_wait;
  config.heartbeat_interval = heartbeat_interval;
  config.heartbeat_liveness = heartbeat_liveness;
  config.max_queue = max_queue;
  config.max_dispatches = max_dispatches;
  config.default_timeout = default_timeout;
  config.max_timeout = max_timeout;
  return config;
}

class Broker::Impl {
 public:
  Impl(zmq::context_t& context, const BrokerConfig& config)
      : frontend_(context, zmq::socket_type::router),
        backend_(context, zmq::socket_type::router),
        scheduler_(config.schedulerConfig()) {
    configureRouter(frontend_, config.socket_hwm);
    configureRouter(backend_, config.socket_hwm);
    frontend_endpoint_ = bindRouter(frontend_, config.frontend, "frontend");
    backend_endpoint_ = bindRouter(backend_, config.backend, "backend");
  }

  const std::string& frontendEndpoint() const { return frontend_endpoint_; }
  const std::string& backendEndpoint() const { return backend_endpoint_; }

  void run(const std::atomic<bool>& stop) {
    FW_LOG(kInfo, kLog) << "serving clients on " << frontend_endpoint_ << ", workers on "
                        << backend_endpoint_;
    try {
      while (!stop.load()) turn();
      FW_LOG(kInfo, kLog) << "stopping";
      execute(scheduler_.shutdown(Clock::now()));
      frontend_.set(zmq::sockopt::linger, kShutdownLingerMs);
      backend_.set(zmq::sockopt::linger, kShutdownLingerMs);
    } catch (const zmq::error_t& e) {
      // ETERM (the context is going away) or a bug: nothing more can be sent.
      FW_LOG(kError, kLog) << "loop ended: " << e.what();
    }
    publishStats();
  }

  BrokerStats stats() const {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    return stats_;
  }

 private:
  // One poll and everything it brought, then whatever the timers say is due.
  void turn() {
    milliseconds wait = kMaxPollWait;
    if (const auto wakeup = scheduler_.nextWakeup()) {
      // Round up: a wait rounded down to 0 ms would spin until the timer is due.
      const auto until = std::chrono::ceil<milliseconds>(*wakeup - Clock::now());
      wait = std::clamp(until, milliseconds(0), kMaxPollWait);
    }
    zmq::pollitem_t items[] = {{frontend_.handle(), 0, ZMQ_POLLIN, 0},
                               {backend_.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 2, wait);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      return;  // a signal: look at the stop flag
    }
    // Workers first: their replies free them for the requests waiting behind.
    if (items[1].revents & ZMQ_POLLIN) drain(backend_, &Impl::handleWorkerMessage);
    if (items[0].revents & ZMQ_POLLIN) drain(frontend_, &Impl::handleClientMessage);
    execute(scheduler_.onTick(Clock::now()));
    publishStats();
  }

  void drain(zmq::socket_t& socket, void (Impl::*handle)(Multipart&&)) {
    for (int i = 0; i < kMaxMessagesPerTurn; ++i) {
      Multipart frames;
      if (!zmq::recv_multipart(socket, std::back_inserter(frames), zmq::recv_flags::dontwait)) return;
      (this->*handle)(std::move(frames));
    }
  }

  void handleClientMessage(Multipart&& frames) {
    protocol::ClientRequest request;
    const Status parsed = protocol::parseClientRequest(std::move(frames), &request);
    if (parsed.isOk()) {
      execute(scheduler_.onClientRequest(std::move(request), Clock::now()));
      return;
    }
    ++malformed_client_messages_;
    if (request.envelope.empty()) {
      FW_LOG(kDebug, kLog) << "dropping client message without an envelope: " << parsed.message();
      return;
    }
    FW_LOG(kDebug, kLog) << "answering INVALID_ARGUMENT: " << parsed.message();
    // The request id is unknown (the request did not parse): 0.
    sendToClient(std::move(request.envelope), statusReply(0, parsed));
  }

  void handleWorkerMessage(Multipart&& frames) {
    uint64_t reply_token = 0;
    bool partial = false;
    std::string identity;
    if (replyTokenOf(frames, &reply_token, &partial)) identity = frames[0].to_string();
    auto parsed = protocol::parseWorkerMessage(std::move(frames));
    if (parsed.ok()) {
      execute(scheduler_.onWorkerMessage(std::move(parsed).value(), Clock::now()));
      return;
    }
    ++malformed_worker_messages_;
    FW_LOG(kWarn, kLog) << "dropping worker message: " << parsed.status().message();
    if (!identity.empty()) execute(scheduler_.onMalformedReply(identity, reply_token, Clock::now(), partial));
  }

  static Multipart statusReply(uint64_t request_id, const Status& status) {
    Multipart parts;
    parts.push_back(messageOverFlatBuffer(protocol::makeStatusReply(request_id, status)));
    return parts;
  }

  // Carries out the scheduler's actions in order. A failed send to a worker is reported back
  // to the scheduler, whose answer (requeue, redispatch) is carried out in the same pass.
  void execute(Actions actions) {
    for (size_t i = 0; i < actions.size(); ++i) {
      Action action = std::move(actions[i]);
      Actions follow_up;
      std::visit([&](auto& a) { follow_up = perform(a); }, action);
      for (auto& next : follow_up) actions.push_back(std::move(next));
    }
  }

  Actions perform(DispatchRequest& a) {
    Multipart frames = protocol::makeWorkerRequest(a.worker, a.token, a.queue_us, a.request);
    const SendOutcome outcome = sendNow(backend_, frames);
    if (outcome == SendOutcome::kSent) return {};
    ++worker_send_failures_;
    FW_LOG(kWarn, kLog) << "cannot send a request to a worker: " << describe(outcome);
    return scheduler_.onWorkerUnreachable(a.worker, a.token, Clock::now());
  }

  Actions perform(SendWorkerCommand& a) {
    Multipart frames = protocol::makeBrokerCommand(a.worker, a.command);
    const SendOutcome outcome = sendNow(backend_, frames);
    if (outcome == SendOutcome::kSent || a.command == protocol::WorkerCommand::kDisconnect) return {};
    ++worker_send_failures_;
    FW_LOG(kWarn, kLog) << "cannot send " << protocol::workerCommandName(a.command)
                        << " to a worker: " << describe(outcome);
    return scheduler_.onWorkerUnreachable(a.worker, 0, Clock::now());
  }

  Actions perform(ForwardReply& a) {
    sendToClient(std::move(a.envelope), std::move(a.header_and_payload));
    return {};
  }

  Actions perform(AnswerClient& a) {
    sendToClient(std::move(a.envelope), statusReply(a.request_id, a.status));
    return {};
  }

  Actions perform(AnswerStats& a) {
    const std::string json = statsReport(currentStats(), scheduler_.config().routing, scheduler_.groupCount(), a.groups);
    flatbuffers::FlatBufferBuilder builder(512 + json.size());
    const auto stats_json = builder.CreateString(json);
    const auto message = builder.CreateString("");
    proto::ReplyBuilder reply(builder);
    reply.add_id(a.request_id);
    reply.add_status(proto::StatusCode::OK);
    reply.add_message(message);
    reply.add_stats_json(stats_json);
    builder.Finish(reply.Finish());
    Multipart parts;
    parts.push_back(messageOverFlatBuffer(builder.Release()));
    sendToClient(std::move(a.envelope), std::move(parts));
    return {};
  }

  // Never blocks: a client that is gone or does not read loses its reply, nobody else waits.
  void sendToClient(Multipart envelope, Multipart header_and_payload) {
    Multipart frames = protocol::makeClientReply(std::move(envelope), std::move(header_and_payload));
    const SendOutcome outcome = sendNow(frontend_, frames);
    if (outcome == SendOutcome::kSent) return;
    ++client_send_failures_;
    FW_LOG(kInfo, kLog) << "dropping a reply to a client: " << describe(outcome);
  }

  void publishStats() {
    BrokerStats stats = currentStats();
    std::lock_guard<std::mutex> lock(stats_mutex_);
    stats_ = stats;
  }

  BrokerStats currentStats() const {
    BrokerStats stats;
    stats.scheduler = scheduler_.counters();
    stats.workers = scheduler_.workerCount();
    stats.queued = scheduler_.queuedCount();
    stats.in_flight = scheduler_.inFlightCount();
    stats.malformed_client_messages = malformed_client_messages_;
    stats.malformed_worker_messages = malformed_worker_messages_;
    stats.client_send_failures = client_send_failures_;
    stats.worker_send_failures = worker_send_failures_;
    return stats;
  }

  zmq::socket_t frontend_;
  zmq::socket_t backend_;
  std::string frontend_endpoint_;
  std::string backend_endpoint_;
  Scheduler scheduler_;

  uint64_t malformed_client_messages_ = 0;
  uint64_t malformed_worker_messages_ = 0;
  uint64_t client_send_failures_ = 0;
  uint64_t worker_send_failures_ = 0;

  mutable std::mutex stats_mutex_;
  BrokerStats stats_;
};

Broker::Broker(zmq::context_t& context, BrokerConfig config)
    : impl_(std::make_unique<Impl>(context, config)) {}

Broker::~Broker() = default;

std::string Broker::frontendEndpoint() const { return impl_->frontendEndpoint(); }
std::string Broker::backendEndpoint() const { return impl_->backendEndpoint(); }

void Broker::run() { impl_->run(stop_); }

BrokerStats Broker::stats() const { return impl_->stats(); }

}  // namespace framewire
