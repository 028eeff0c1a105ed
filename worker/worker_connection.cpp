#include "worker/worker_connection.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include <zmq_addon.hpp>

#include "common/log.h"
#include "common/protocol.h"
#include "common/zero_copy.h"

namespace framewire {
namespace {

using Clock = std::chrono::steady_clock;
using protocol::Multipart;
using protocol::WorkerCommand;

constexpr auto kMaxPollWait = std::chrono::milliseconds(100);  // how soon a stop is noticed
// Finished messages waiting between the decode thread and the socket thread. Small, so that a
// decode thread streaming a batch to a broker that reads slowly waits instead of piling up
// replies in memory (the socket thread stops taking results while the broker's pipe is full).
constexpr int kResultsHighWaterMark = 2;

// One request handed from the socket thread to the decode thread. `generation` is the
// connection it arrived on: a result for an older connection is stale, because the broker
// has forgotten that connection and re-queued the request elsewhere.
struct DecodeJob {
  uint64_t generation = 0;
  protocol::BrokerMessage message;
};

// [header][payload...], every part a zero-copy message over the reply's buffers.
Multipart headerAndPayload(WorkerReply reply, size_t reserve_in_front = 0) {
  Multipart parts;
  parts.reserve(reserve_in_front + 1 + reply.payload.size());
  parts.resize(reserve_in_front);
  parts.push_back(messageOverFlatBuffer(std::move(reply.header)));
  for (auto& part : reply.payload) {
    parts.push_back(messageOverSharedBuffer(std::move(part.owner), part.data, part.size));
  }
  return parts;
}

// What the decode thread hands the socket thread: [generation][token][command][header][payload...],
// the command being REPLY or PARTIAL (a streamed reply's message before its last).
Multipart resultParts(uint64_t generation, uint64_t token, WorkerCommand command, WorkerReply reply) {
  Multipart parts = headerAndPayload(std::move(reply), 3);
  parts[0] = protocol::encodeU64(generation);
  parts[1] = protocol::encodeU64(token);
  parts[2] = zmq::message_t(1);
  *parts[2].data<uint8_t>() = static_cast<uint8_t>(command);
  return parts;
}

}  // namespace

class WorkerConnection::Impl {
 public:
  Impl(zmq::context_t& context, std::shared_ptr<RequestHandler> handler, WorkerConnectionOptions options)
      : context_(context), handler_(std::move(handler)), options_(std::move(options)) {
    results_endpoint_ = "inproc://framewire-worker-results-" +
                        std::to_string(reinterpret_cast<uintptr_t>(this));
  }

  void run(const std::atomic<bool>& stop) {
    zmq::socket_t results(context_, zmq::socket_type::pair);
    results.set(zmq::sockopt::linger, 0);
    results.set(zmq::sockopt::rcvhwm, kResultsHighWaterMark);
    results.bind(results_endpoint_);
    std::thread decode_thread([this] { decodeLoop(); });

    auto backoff = options_.reconnect_min;
    while (!stop.load()) {
      const bool lost_broker = serveOneConnection(stop, results);
      if (!lost_broker || stop.load()) break;
      FW_LOG(kWarn, "worker") << options_.name << ": lost the broker, reconnecting in "
                              << backoff.count() << " ms";
      sleepUnlessStopped(backoff, stop);
      backoff = std::min(backoff * 2, options_.reconnect_max);
    }

    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    decode_thread.join();
  }

 private:
  // Connects, serves until stopped (returns false) or until the broker is lost (true).
  bool serveOneConnection(const std::atomic<bool>& stop, zmq::socket_t& results) {
    const uint64_t generation = ++generation_;
    zmq::socket_t dealer(context_, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    dealer.set(zmq::sockopt::sndhwm, options_.socket_hwm);
    dealer.set(zmq::sockopt::rcvhwm, options_.socket_hwm);
    dealer.connect(options_.broker_endpoint);
    // Messages for the broker waiting for room in the DEALER's pipe, oldest first. While any
    // wait, no further results are taken from the decode thread (which then waits too).
    std::deque<Multipart> outbox;
    send(dealer, outbox, protocol::makeWorkerReady(options_.name, options_.cache_group));
    FW_LOG(kInfo, "worker") << options_.name << ": connected to " << options_.broker_endpoint;

    const auto silence_limit = options_.heartbeat_interval * options_.heartbeat_liveness;
    auto last_heard = Clock::now();
    auto next_heartbeat = last_heard + options_.heartbeat_interval;

    while (!stop.load()) {
      const auto now = Clock::now();
      const auto wait = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(next_heartbeat - now),
                                   std::chrono::milliseconds(0), kMaxPollWait);
      const short dealer_events = outbox.empty() ? ZMQ_POLLIN : ZMQ_POLLIN | ZMQ_POLLOUT;
      zmq::pollitem_t items[] = {{dealer.handle(), 0, dealer_events, 0}, {results.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, outbox.empty() ? 2 : 1, wait);
      if (items[0].revents & ZMQ_POLLOUT) flush(dealer, outbox);

      if (items[0].revents & ZMQ_POLLIN) {
        Multipart frames;
        if (!zmq::recv_multipart(dealer, std::back_inserter(frames), zmq::recv_flags::dontwait)) continue;
        last_heard = Clock::now();
        auto parsed = protocol::parseBrokerMessage(std::move(frames));
        if (!parsed.ok()) {
          FW_LOG(kWarn, "worker") << options_.name << ": dropped a message from the broker: "
                                  << parsed.status().message();
        } else if (parsed->command == WorkerCommand::kRequest) {
          // A RAM cache hit is answered right here; everything else goes to the decode thread.
          std::optional<WorkerReply> hit =
              handler_->answerFromMemory(*parsed->request, parsed->queue_us, options_.name);
          if (hit) {
            send(dealer, outbox, protocol::makeWorkerReply(parsed->token, headerAndPayload(std::move(*hit))));
          } else {
            submit(DecodeJob{generation, std::move(parsed).value()});
          }
        } else if (parsed->command == WorkerCommand::kDisconnect) {
          FW_LOG(kInfo, "worker") << options_.name << ": broker said DISCONNECT";
          return true;
        }
      }

      if (outbox.empty() && (items[1].revents & ZMQ_POLLIN)) {
        Multipart result;
        if (zmq::recv_multipart(results, std::back_inserter(result), zmq::recv_flags::dontwait)) {
          forwardResult(dealer, outbox, generation, std::move(result));
        }
      }

      const auto after = Clock::now();
      if (after >= next_heartbeat) {
        // Behind queued messages a heartbeat says nothing they will not say.
        if (outbox.empty()) send(dealer, outbox, protocol::makeWorkerCommand(WorkerCommand::kHeartbeat));
        next_heartbeat = after + options_.heartbeat_interval;
      }
      if (after - last_heard > silence_limit) return true;
    }
    outbox.clear();  // a DISCONNECT is all the broker needs now
    send(dealer, outbox, protocol::makeWorkerCommand(WorkerCommand::kDisconnect));
    return false;
  }

  // result = [generation][token][command][header][payload...] (see resultParts)
  void forwardResult(zmq::socket_t& dealer, std::deque<Multipart>& outbox, uint64_t generation, Multipart result) {
    uint64_t result_generation = 0, token = 0;
    protocol::decodeU64(result[0], &result_generation);
    protocol::decodeU64(result[1], &token);
    if (result_generation != generation) {
      FW_LOG(kDebug, "worker") << options_.name << ": dropped a reply for a previous connection";
      return;
    }
    const auto command = static_cast<WorkerCommand>(*result[2].data<uint8_t>());
    Multipart header_and_payload(std::make_move_iterator(result.begin() + 3),
                                 std::make_move_iterator(result.end()));
    send(dealer, outbox,
         command == WorkerCommand::kPartial ? protocol::makeWorkerPartial(token, std::move(header_and_payload))
                                            : protocol::makeWorkerReply(token, std::move(header_and_payload)));
  }

  // Never blocks: with the broker gone a DEALER would block once its pipe is full, and this
  // thread must keep heartbeating. A message that does not fit waits in `outbox` (in order:
  // a streamed reply's messages must arrive in order) until the pipe has room.
  void send(zmq::socket_t& socket, std::deque<Multipart>& outbox, Multipart frames) {
    outbox.push_back(std::move(frames));
    flush(socket, outbox);
  }

  void flush(zmq::socket_t& socket, std::deque<Multipart>& outbox) {
    while (!outbox.empty()) {
      try {
        if (!zmq::send_multipart(socket, outbox.front(), zmq::send_flags::dontwait)) return;  // full
      } catch (const zmq::error_t& e) {
        FW_LOG(kWarn, "worker") << options_.name << ": send failed, message dropped: " << e.what();
      }
      outbox.pop_front();
    }
  }

  void submit(DecodeJob job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
  }

  void decodeLoop() {
    zmq::socket_t results(context_, zmq::socket_type::pair);
    results.set(zmq::sockopt::linger, 0);
    results.set(zmq::sockopt::sndhwm, kResultsHighWaterMark);
    results.connect(results_endpoint_);
    while (true) {
      DecodeJob job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      if (job.generation != generation_.load()) continue;  // its connection is gone
      const uint64_t token = job.message.token;
      auto send_partial = [&](WorkerReply partial) {
        if (job.generation != generation_.load()) return;  // nobody to stream to any more
        handOver(results, resultParts(job.generation, token, WorkerCommand::kPartial, std::move(partial)));
      };
      WorkerReply reply = handler_->handle(*job.message.request, job.message.queue_us, options_.name, send_partial);
      handOver(results, resultParts(job.generation, token, WorkerCommand::kReply, std::move(reply)));
    }
  }

  // Gives a finished message to the socket thread, waiting while it holds earlier ones back
  // (the broker's pipe is full), but not past a stop.
  void handOver(zmq::socket_t& results, Multipart parts) {
    while (true) {
      if (zmq::send_multipart(results, parts, zmq::send_flags::dontwait)) return;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;
      }
      zmq::pollitem_t item = {results.handle(), 0, ZMQ_POLLOUT, 0};
      zmq::poll(&item, 1, kMaxPollWait);
    }
  }

  static void sleepUnlessStopped(std::chrono::milliseconds duration, const std::atomic<bool>& stop) {
    const auto until = Clock::now() + duration;
    while (!stop.load() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  zmq::context_t& context_;
  std::shared_ptr<RequestHandler> handler_;
  WorkerConnectionOptions options_;
  std::string results_endpoint_;
  std::atomic<uint64_t> generation_{0};

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<DecodeJob> jobs_;
  bool stopping_ = false;
};

WorkerConnection::WorkerConnection(zmq::context_t& context, std::shared_ptr<RequestHandler> handler,
                                   WorkerConnectionOptions options)
    : impl_(std::make_unique<Impl>(context, std::move(handler), std::move(options))) {}

WorkerConnection::~WorkerConnection() = default;

void WorkerConnection::run(const std::atomic<bool>& stop) { impl_->run(stop); }

}  // namespace framewire
