// FakeWorker: a stand-in decode worker for the broker loop tests.
//
// It speaks the worker protocol (proto/PROTOCOL.md, section 6) over a raw DEALER on its own
// thread: READY on start, a HEARTBEAT every interval, READY again after a DISCONNECT. In
// auto mode it answers every REQUEST at once with an OK header and a payload part sent
// zero-copy over its own buffer; in manual mode the test takes requests with
// waitForRequest() and answers them with reply(). goSilent() makes it stop talking (but keep
// its connection), as a hung or unplugged machine would.
//
// Thread-safety: the socket lives on the worker's thread; public methods may be called from
// any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

namespace framewire::testing {

class FakeWorker {
 public:
  struct Options {
    std::string name = "fake-worker";
    std::chrono::milliseconds heartbeat{50};
    bool auto_reply = true;
    size_t payload_bytes = 64 * 1024;
  };

  struct ReceivedRequest {
    uint64_t token = 0;
    uint64_t request_id = 0;
    int64_t queue_us = 0;
  };

  FakeWorker(zmq::context_t& context, std::string endpoint, Options options);
  ~FakeWorker();
  FakeWorker(const FakeWorker&) = delete;
  FakeWorker& operator=(const FakeWorker&) = delete;

  // Manual mode: the next request the broker sent, or nullopt after `timeout`.
  std::optional<ReceivedRequest> waitForRequest(std::chrono::milliseconds timeout);
  // Manual mode: answers `request` with OK and the payload.
  void reply(const ReceivedRequest& request);

  void goSilent() { silent_.store(true); }

  // The bytes every reply's payload part points at.
  const void* payloadData() const { return payload_->data(); }
  size_t payloadSize() const { return payload_->size(); }
  int requestsReceived() const { return requests_received_.load(); }
  int disconnectsReceived() const { return disconnects_received_.load(); }
  int heartbeatsReceived() const { return heartbeats_received_.load(); }

 private:
  void serve(zmq::context_t& context, const std::string& endpoint);
  void sendReply(zmq::socket_t& socket, const ReceivedRequest& request);

  Options options_;
  std::shared_ptr<std::vector<uint8_t>> payload_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> silent_{false};
  std::atomic<int> requests_received_{0};
  std::atomic<int> disconnects_received_{0};
  std::atomic<int> heartbeats_received_{0};

  std::mutex mutex_;
  std::condition_variable request_arrived_;
  std::deque<ReceivedRequest> received_;  // manual mode: not yet taken by the test
  std::deque<ReceivedRequest> to_answer_;  // manual mode: answers the test asked for
  std::thread thread_;
};

}  // namespace framewire::testing
