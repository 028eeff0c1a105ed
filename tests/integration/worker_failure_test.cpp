// THE reliability promise: kill -9 one of two workers while well over 100 requests are in
// flight, and every request is still answered, OK, with the right frame. The broker must
// notice the dead worker (heartbeats) and re-queue the request it was working on.
#include <gtest/gtest.h>

#include <iterator>
#include <map>
#include <random>
#include <set>

#include <zmq_addon.hpp>

#include "client/reply_decoding.h"
#include "common/protocol.h"
#include "tests/integration/integration_test.h"

namespace framewire::testing {
namespace {

using namespace std::chrono_literals;

struct PendingRequest {
  std::string movie;
  std::vector<int64_t> indices;
};

flatbuffers::DetachedBuffer framesRequest(uint64_t id, const PendingRequest& what) {
  flatbuffers::FlatBufferBuilder builder;
  auto movie = builder.CreateString(what.movie);
  auto frames = builder.CreateVector(what.indices);
  auto format = builder.CreateString("native");
  proto::RequestBuilder request(builder);
  request.add_id(id);
  request.add_kind(proto::RequestKind::FRAMES);
  request.add_movie(movie);
  request.add_frames(frames);
  request.add_format(format);
  request.add_timeout_ms(30000);  // far beyond the time a dead worker takes to be noticed
  builder.Finish(request.Finish());
  return builder.Release();
}

class WorkerFailureTest : public IntegrationTest {};

TEST_F(WorkerFailureTest, KillingAWorkerLosesNoRequest) {
  // Several DEALER clients, each with many requests outstanding under distinct ids.
  constexpr int kClients = 4;
  constexpr int kRequestsPerClient = 32;
  ASSERT_EQ(server_->workerCount(), 2);
  // Compute the oracles before the clock starts.
  const auto& prores_md5 = oracleMd5s(kProres);
  const auto& h264_md5 = oracleMd5s(kH264);
  ASSERT_EQ(prores_md5.size(), size_t(kProresFrames));
  ASSERT_EQ(h264_md5.size(), size_t(kH264Frames));

  zmq::context_t context;
  std::vector<zmq::socket_t> sockets;
  for (int i = 0; i < kClients; ++i) {
    sockets.emplace_back(context, zmq::socket_type::dealer);
    sockets.back().set(zmq::sockopt::linger, 0);
    // Room for every reply this client waits for: the broker drops replies to full pipes.
    sockets.back().set(zmq::sockopt::rcvhwm, kRequestsPerClient + 8);
    sockets.back().connect(server_->frontend());
  }

  std::mt19937 random(2024);
  std::map<uint64_t, PendingRequest> pending;
  for (int i = 0; i < kClients; ++i) {
    for (int k = 0; k < kRequestsPerClient; ++k) {
      const uint64_t id = uint64_t(i) * 1000 + k + 1;
      PendingRequest what;
      what.movie = (k % 2 == 0) ? kH264 : kProres;
      const int num_frames = what.movie == kH264 ? kH264Frames : kProresFrames;
      const int count = 1 + int(random() % 3);
      for (int f = 0; f < count; ++f) what.indices.push_back(int64_t(random() % num_frames));
      pending[id] = what;
      ASSERT_TRUE(zmq::send_multipart(sockets[i], protocol::makeClientRequestFrames(framesRequest(id, what), true)));
    }
  }
  const size_t total = pending.size();
  ASSERT_GE(total, 100u);

  // Kill worker 0 as soon as it has answered once: it is registered, and the broker has
  // just handed it its next request.
  bool killed = false;
  size_t answered_before_kill = 0, answered_after_kill = 0, after_kill_by_survivor = 0;
  std::map<std::string, int> by_worker;
  std::set<uint64_t> answered;
  const auto deadline = std::chrono::steady_clock::now() + 40s;
  while (answered.size() < total && std::chrono::steady_clock::now() < deadline) {
    std::vector<zmq::pollitem_t> items;
    for (auto& s : sockets) items.push_back({s.handle(), 0, ZMQ_POLLIN, 0});
    if (zmq::poll(items.data(), items.size(), 100ms) <= 0) continue;
    for (size_t i = 0; i < sockets.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      protocol::Multipart received;
      ASSERT_TRUE(zmq::recv_multipart(sockets[i], std::back_inserter(received)));
      auto reply = protocol::parseClientReply(std::move(received));
      ASSERT_TRUE(reply.ok()) << reply.status().toString();
      const uint64_t id = reply->reply->id();
      ASSERT_EQ(id / 1000, i) << "a reply reached the wrong client";
      const auto it = pending.find(id);
      ASSERT_NE(it, pending.end()) << "a reply to an unknown request " << id;
      EXPECT_TRUE(answered.insert(id).second) << "request " << id << " was answered twice";
      const std::string worker = reply->reply->worker() ? reply->reply->worker()->str() : "";
      ++by_worker[worker];
      if (killed) {
        ++answered_after_kill;
        if (worker == TestServer::workerName(1)) ++after_kill_by_survivor;
      } else {
        ++answered_before_kill;
      }

      auto frames = client_internal::decodeFrames(std::move(reply).value());
      ASSERT_TRUE(frames.ok()) << "request " << id << " (" << it->second.movie << "): " << frames.status().toString();
      ASSERT_EQ(frames->size(), it->second.indices.size());
      const auto& md5s = it->second.movie == kH264 ? h264_md5 : prores_md5;
      for (size_t f = 0; f < frames->size(); ++f) {
        const int64_t index = it->second.indices[f];
        EXPECT_EQ((*frames)[f].index(), index);
        EXPECT_EQ(packedMd5((*frames)[f]), md5s[index]) << "request " << id << " frame " << index;
      }

      if (!killed && worker == TestServer::workerName(0)) {
        server_->worker(0).kill9();
        killed = true;
      }
    }
  }
  EXPECT_TRUE(killed) << "worker 0 never answered, so it was never killed";
  EXPECT_EQ(answered.size(), total) << (total - answered.size()) << " requests were never answered";
  EXPECT_GT(answered_after_kill, 50u) << "the kill came too late to test anything";
  EXPECT_GT(after_kill_by_survivor, 0u);
  std::cout << "[ info     ] " << total << " requests; " << answered_before_kill << " answered before the kill, "
            << answered_after_kill << " after (" << after_kill_by_survivor << " by the surviving worker)";
  for (const auto& [worker, count] : by_worker) std::cout << "; " << worker << ": " << count;
  std::cout << "\n";

  // The dead worker had a request in flight (the broker hands a worker its next request as
  // soon as it replies), and the broker says it put that request back in the queue.
  EXPECT_NE(server_->broker().log().find("requeued"), std::string::npos)
      << "the broker log does not mention a requeued request:\n" << server_->broker().log();

  // The survivor keeps serving ordinary clients.
  Client c = client();
  expectServesCorrectFrames(c);
}

}  // namespace
}  // namespace framewire::testing
