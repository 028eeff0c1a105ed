#include "tests/broker/fake_worker.h"

#include <zmq_addon.hpp>

#include "common/protocol.h"
#include "common/zero_copy.h"
#include "tests/broker/test_messages.h"

namespace framewire::testing {

using Clock = std::chrono::steady_clock;

FakeWorker::FakeWorker(zmq::context_t& context, std::string endpoint, Options options)
    : options_(std::move(options)),
      payload_(std::make_shared<std::vector<uint8_t>>(options_.payload_bytes)) {
  for (size_t i = 0; i < payload_->size(); ++i) (*payload_)[i] = static_cast<uint8_t>(i * 7);
  thread_ = std::thread([this, &context, endpoint] { serve(context, endpoint); });
}

FakeWorker::~FakeWorker() {
  stop_.store(true);
  thread_.join();
}

std::optional<FakeWorker::ReceivedRequest> FakeWorker::waitForRequest(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!request_arrived_.wait_for(lock, timeout, [this] { return !received_.empty(); })) return std::nullopt;
  ReceivedRequest request = received_.front();
  received_.pop_front();
  return request;
}

void FakeWorker::reply(const ReceivedRequest& request) {
  std::lock_guard<std::mutex> lock(mutex_);
  to_answer_.push_back(request);
}

void FakeWorker::sendReply(zmq::socket_t& socket, const ReceivedRequest& request) {
  protocol::Multipart parts;
  parts.push_back(makeReplyHeader(request.request_id, options_.name));
  parts.push_back(messageOverSharedBuffer(payload_, payload_->data(), payload_->size()));
  auto frames = protocol::makeWorkerReply(request.token, std::move(parts));
  (void)zmq::send_multipart(socket, frames, zmq::send_flags::dontwait);
}

void FakeWorker::serve(zmq::context_t& context, const std::string& endpoint) {
  using protocol::WorkerCommand;
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.connect(endpoint);
  (void)zmq::send_multipart(socket, protocol::makeWorkerReady(options_.name));
  auto next_heartbeat = Clock::now() + options_.heartbeat;

  while (!stop_.load()) {
    zmq::pollitem_t items[] = {{socket.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(5));
    if (items[0].revents & ZMQ_POLLIN) {
      protocol::Multipart frames;
      (void)zmq::recv_multipart(socket, std::back_inserter(frames));
      auto message = protocol::parseBrokerMessage(std::move(frames));
      if (message.ok() && !silent_.load()) {
        switch (message->command) {
          case WorkerCommand::kRequest: {
            ++requests_received_;
            const ReceivedRequest request{message->token, message->request->id(), message->queue_us};
            if (options_.auto_reply) {
              sendReply(socket, request);
            } else {
              std::lock_guard<std::mutex> lock(mutex_);
              received_.push_back(request);
              request_arrived_.notify_all();
            }
            break;
          }
          case WorkerCommand::kHeartbeat:
            ++heartbeats_received_;
            break;
          case WorkerCommand::kDisconnect:
            ++disconnects_received_;
            (void)zmq::send_multipart(socket, protocol::makeWorkerReady(options_.name),
                                      zmq::send_flags::dontwait);
            break;
          default:
            break;
        }
      }
    }
    if (silent_.load()) continue;

    std::deque<ReceivedRequest> answers;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      answers.swap(to_answer_);
    }
    for (const auto& request : answers) sendReply(socket, request);

    if (Clock::now() >= next_heartbeat) {
      (void)zmq::send_multipart(socket, protocol::makeWorkerCommand(WorkerCommand::kHeartbeat),
                                zmq::send_flags::dontwait);
      next_heartbeat += options_.heartbeat;
    }
  }
}

}  // namespace framewire::testing
