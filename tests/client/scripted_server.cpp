#include "tests/client/scripted_server.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include <zmq_addon.hpp>

#include "tests/client/reply_builder.h"

namespace framewire::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A message waiting for its time, with the envelope of the request it answers.
struct Pending {
  Clock::time_point due;
  protocol::Multipart envelope;
  ScriptedMessage message;
};

protocol::Multipart copyOf(const protocol::Multipart& frames) {
  protocol::Multipart out;
  for (const auto& f : frames) out.emplace_back(f.data(), f.size());
  return out;
}

}  // namespace

ScriptedAnswer answerWith(flatbuffers::DetachedBuffer header, std::vector<std::vector<uint8_t>> payload,
                          std::chrono::milliseconds delay) {
  ScriptedAnswer answer(1);
  answer[0].at = delay;
  answer[0].header = std::move(header);
  answer[0].payload = std::move(payload);
  return answer;
}

ScriptedAnswer garbageAnswer() {
  ScriptedAnswer answer(1);
  answer[0].garbage = true;
  return answer;
}

ScriptedServer::ScriptedServer(Script script)
    : script_(std::move(script)), socket_(context_, zmq::socket_type::router) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind("tcp://127.0.0.1:*");
  endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
  thread_ = std::thread([this] { serve(); });
}

ScriptedServer::~ScriptedServer() {
  stop_ = true;
  thread_.join();
}

std::vector<std::vector<uint8_t>> ScriptedServer::receivedBodies() {
  std::lock_guard<std::mutex> lock(mutex_);
  return bodies_;
}

void ScriptedServer::serve() {
  // Kept in due order (stable, so one request's messages keep theirs); sent as they fall due,
  // and a late message does not hold up the requests that arrive meanwhile.
  std::vector<Pending> pending;
  while (!stop_) {
    const Clock::time_point now = Clock::now();
    while (!pending.empty() && pending.front().due <= now) {
      Pending& p = pending.front();
      protocol::Multipart parts;
      if (p.message.garbage) {
        parts.emplace_back("not a flatbuffer", 16);
      } else {
        parts.push_back(toMessage(p.message.header));
        for (const auto& part : p.message.payload) parts.push_back(toMessage(part));
      }
      zmq::send_multipart(socket_, protocol::makeClientReply(std::move(p.envelope), std::move(parts)));
      pending.erase(pending.begin());
    }
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(5)) <= 0) continue;
    protocol::Multipart frames;
    if (!zmq::recv_multipart(socket_, std::back_inserter(frames))) continue;
    protocol::ClientRequest request;
    if (!protocol::parseClientRequest(std::move(frames), &request).isOk()) continue;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      bodies_.emplace_back(request.body.data<uint8_t>(), request.body.data<uint8_t>() + request.body.size());
    }
    const Clock::time_point arrived = Clock::now();
    for (ScriptedMessage& message : script_(requests_++, *request.request)) {
      Pending p;
      p.due = arrived + message.at;
      p.envelope = copyOf(request.envelope);
      p.message = std::move(message);
      pending.push_back(std::move(p));
    }
    std::stable_sort(pending.begin(), pending.end(), [](const Pending& a, const Pending& b) { return a.due < b.due; });
  }
}

}  // namespace framewire::testing
