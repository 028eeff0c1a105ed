#include "framewire/client.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <optional>
#include <random>
#include <utility>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "client/reply_decoding.h"
#include "client/stream_assembly.h"
#include "common/log.h"
#include "common/protocol.h"

namespace framewire {
namespace {

using Clock = std::chrono::steady_clock;

std::string secondsText(std::chrono::milliseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g s", duration.count() / 1000.0);
  return text;
}

// Ids start at a random point so that replies meant for another client instance (or for an
// earlier run of this process behind the same proxy) are never taken for ours.
uint64_t randomStartId() {
  std::random_device device;
  return (uint64_t(device()) << 32) ^ uint64_t(device());
}

}  // namespace

class Client::Impl {
 public:
  Impl(std::string endpoint, ClientOptions options)
      : endpoint_(std::move(endpoint)), options_(options), context_(1), next_id_(randomStartId()) {
    if (options_.retries < 0) options_.retries = 0;
    if (options_.timeout.count() <= 0) options_.timeout = std::chrono::milliseconds(1);
  }

  ~Impl() { closeSocket(); }

  const std::string& endpoint() const { return endpoint_; }
  const ClientOptions& options() const { return options_; }

  // Sends one request (built by `build` for a given id and deadline) and waits for its reply,
  // a single message, retrying as Lazy Pirate says. The reply's status is the caller's to
  // check. Never throws.
  template <typename Build>
  Result<protocol::ClientReply> call(Build&& build) {
    std::optional<protocol::ClientReply> reply;
    FW_RETURN_IF_ERROR(exchange(
        build, /*stream=*/false, [&] { reply.reset(); },
        [&](protocol::ClientReply&& message) -> Result<bool> {
          reply = std::move(message);
          return true;
        }));
    return std::move(*reply);
  }

  // A FRAMES request for `count` frames (`requested`: their indices, or empty for requests
  // by time), built by `build(id, timeout_ms, stream)`. A DEALER asks for a streamed reply
  // when there is more than one frame; the messages are put together in request order.
  template <typename Build>
  Result<std::vector<Frame>> callFrames(Build&& build, size_t count, const std::vector<int64_t>& requested) {
    const bool stream = !isReq() && count > 1;
    std::optional<client_internal::StreamAssembly> assembly;
    FW_RETURN_IF_ERROR(exchange(
        [&](uint64_t id, uint32_t timeout_ms) { return build(id, timeout_ms, stream); }, stream,
        [&] { assembly.emplace(count, requested, stream); },
        [&](protocol::ClientReply&& message) -> Result<bool> {
          FW_RETURN_IF_ERROR(assembly->add(std::move(message)));
          return assembly->done();
        }));
    return assembly->finish();
  }

 private:
  // Lazy Pirate over one request: `build(id, timeout_ms)` makes each attempt's request (a
  // fresh id per attempt), `restart()` runs before each attempt, and `accept(message)` gets
  // every message answering the call until it returns true (the last one) or an error
  // Status (which ends the call). Each attempt waits `timeout` for a message, and every
  // message accepted starts that wait again, so a streamed reply that keeps arriving is never
  // cut off. A one-message reply (`stream` false) to any attempt of the call is taken (a late
  // answer is as good as the retry's); a streamed reply only from the current attempt, so
  // messages of two dispatches are never mixed. Never throws.
  template <typename Build, typename Restart, typename Accept>
  Status exchange(Build&& build, bool stream, Restart&& restart, Accept&& accept) {
    try {
      return exchangeOrThrow(build, stream, restart, accept);
    } catch (const zmq::error_t& e) {
      // Only a broken context or socket gets here; start over with a fresh socket next time.
      closeSocket();
      return Status::unavailable("ZeroMQ error talking to " + endpoint_ + ": " + e.what());
    } catch (const std::exception& e) {
      closeSocket();
      return Status::internal(std::string("client error: ") + e.what());
    }
  }

  template <typename Build, typename Restart, typename Accept>
  Status exchangeOrThrow(Build& build, bool stream, Restart& restart, Accept& accept) {
    const int attempts = 1 + options_.retries;
    std::vector<uint64_t> sent_ids;
    for (int attempt = 0; attempt < attempts; ++attempt) {
      FW_RETURN_IF_ERROR(openSocket());
      const uint64_t id = next_id_++;
      const flatbuffers::DetachedBuffer request = build(id, serverDeadlineMs());
      protocol::Multipart frames = protocol::makeClientRequestFrames(request, /*add_delimiter=*/!isReq());
      if (!zmq::send_multipart(socket_, frames)) {
        FW_LOG(kDebug, "client") << "send to " << endpoint_ << " timed out (attempt " << attempt + 1 << ")";
        closeSocket();
        continue;
      }
      sent_ids.push_back(id);
      restart();
      const auto ours = [&](uint64_t reply_id) {
        if (stream) return reply_id == id;
        return std::find(sent_ids.begin(), sent_ids.end(), reply_id) != sent_ids.end();
      };
      Clock::time_point deadline = Clock::now() + options_.timeout;
      for (;;) {
        const auto remaining =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (remaining.count() < 0) break;
        zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
        const int ready = zmq_poll(&item, 1, static_cast<long>(remaining.count()));
        if (ready < 0) {
          if (zmq_errno() == EINTR) continue;
          throw zmq::error_t();
        }
        if (ready == 0) {
          if (Clock::now() >= deadline) break;
          continue;
        }
        protocol::Multipart received;
        if (!zmq::recv_multipart(socket_, std::back_inserter(received), zmq::recv_flags::dontwait)) continue;
        Result<protocol::ClientReply> reply = protocol::parseClientReply(std::move(received));
        if (!reply.ok()) {
          if (isReq()) {
            // A REQ socket only delivers the answer to what it sent, so this was our reply.
            return Status::internal("bad reply from " + endpoint_ + ": " + reply.status().message());
          }
          FW_LOG(kWarn, "client") << "dropping a malformed reply from " << endpoint_ << ": "
                                  << reply.status().message();
          continue;
        }
        const uint64_t reply_id = reply->reply->id();
        if (!ours(reply_id)) {
          // The answer to a call (or, for a stream, an attempt) we gave up on.
          FW_LOG(kDebug, "client") << "dropping a stale reply (id " << reply_id << ", waiting for " << id << ")";
          continue;
        }
        FW_ASSIGN_OR_RETURN(const bool last, accept(std::move(*reply)));
        if (last) return Status::ok();
        deadline = Clock::now() + options_.timeout;  // the stream is alive: wait anew
      }
      FW_LOG(kDebug, "client") << "no reply from " << endpoint_ << " within " << secondsText(options_.timeout)
                               << " (attempt " << attempt + 1 << " of " << attempts << ")";
      // A REQ socket is stuck after an unanswered send (it refuses the next send), so it
      // is replaced; a DEALER keeps going and filters late replies by id.
      if (isReq()) closeSocket();
    }
    return Status::timeout("no reply from " + endpoint_ + " within " + secondsText(options_.timeout) +
                           " (" + std::to_string(attempts) + (attempts == 1 ? " attempt)" : " attempts)"));
  }

  uint32_t serverDeadlineMs() const {
    const auto deadline = options_.serverDeadline.count() > 0 ? options_.serverDeadline : options_.timeout;
    return static_cast<uint32_t>(std::min<int64_t>(deadline.count(), UINT32_MAX));
  }

  bool isReq() const { return options_.socketType == SocketType::kReq; }

  Status openSocket() {
    if (socket_) return Status::ok();
    try {
      socket_ = zmq::socket_t(context_, isReq() ? zmq::socket_type::req : zmq::socket_type::dealer);
      // Linger 0: a request abandoned on timeout, or a Client destroyed with one pending,
      // must not keep the process alive trying to deliver it.
      socket_.set(zmq::sockopt::linger, 0);
      socket_.set(zmq::sockopt::rcvhwm, options_.receiveHighWaterMark);
      socket_.set(zmq::sockopt::sndhwm, options_.receiveHighWaterMark);
      // A send can only block when the outgoing queue is full (the broker is away and earlier
      // attempts are still queued); give up after one attempt's time then.
      socket_.set(zmq::sockopt::sndtimeo, static_cast<int>(std::min<int64_t>(options_.timeout.count(), INT32_MAX)));
      socket_.connect(endpoint_);
    } catch (const zmq::error_t& e) {
      closeSocket();
      return Status::invalidArgument("cannot connect to '" + endpoint_ + "': " + e.what());
    }
    return Status::ok();
  }

  void closeSocket() {
    if (socket_) socket_.close();
  }

  std::string endpoint_;
  ClientOptions options_;
  zmq::context_t context_;
  zmq::socket_t socket_;
  uint64_t next_id_;
};

namespace {

flatbuffers::DetachedBuffer buildRequest(uint64_t id, uint32_t timeout_ms, proto::RequestKind kind,
                                         const std::string& movie,
                                         const std::vector<int64_t>* indices = nullptr,
                                         const FrameOptions* options = nullptr,
                                         const std::vector<double>* times = nullptr, bool stream = false) {
  flatbuffers::FlatBufferBuilder builder(256);
  const auto movie_offset = builder.CreateString(movie);
  flatbuffers::Offset<flatbuffers::Vector<int64_t>> frames_offset;
  flatbuffers::Offset<flatbuffers::Vector<double>> times_offset;
  flatbuffers::Offset<flatbuffers::String> format_offset, encoding_offset;
  if (indices) frames_offset = builder.CreateVector(*indices);
  if (times) times_offset = builder.CreateVector(*times);
  if (options && !options->format.empty()) format_offset = builder.CreateString(options->format);
  if (options && !options->encoding.empty()) encoding_offset = builder.CreateString(options->encoding);
  proto::RequestBuilder request(builder);
  request.add_id(id);
  request.add_kind(kind);
  request.add_movie(movie_offset);
  request.add_timeout_ms(timeout_ms);
  if (indices) request.add_frames(frames_offset);
  if (times) request.add_times(times_offset);
  if (stream) request.add_stream(true);
  if (options) {
    if (!format_offset.IsNull()) request.add_format(format_offset);
    if (!encoding_offset.IsNull()) request.add_encoding(encoding_offset);
    if (options->quality != 0) request.add_quality(options->quality);
    if (options->crop) {
      const proto::Rect crop(options->crop->x, options->crop->y, options->crop->width, options->crop->height);
      request.add_crop(&crop);
    }
    if (options->width != 0) request.add_width(options->width);
    if (options->height != 0) request.add_height(options->height);
  }
  builder.Finish(request.Finish());
  return builder.Release();
}

}  // namespace

Client::Client(std::string endpoint, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(endpoint), options)) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const std::string& Client::endpoint() const { return impl_->endpoint(); }
const ClientOptions& Client::options() const { return impl_->options(); }

Result<MovieInfo> Client::info(const std::string& movie) {
  FW_ASSIGN_OR_RETURN(protocol::ClientReply reply, impl_->call([&](uint64_t id, uint32_t timeout_ms) {
    return buildRequest(id, timeout_ms, proto::RequestKind::INFO, movie);
  }));
  return client_internal::decodeMovieInfo(*reply.reply);
}

Result<Frame> Client::getFrame(const std::string& movie, int64_t index, const FrameOptions& options) {
  FW_ASSIGN_OR_RETURN(std::vector<Frame> frames, getFrames(movie, {index}, options));
  return std::move(frames.front());
}

Result<std::vector<Frame>> Client::getFrames(const std::string& movie, const std::vector<int64_t>& indices,
                                             const FrameOptions& options) {
  if (indices.empty()) return Status::invalidArgument("no frame indices given");
  return impl_->callFrames(
      [&](uint64_t id, uint32_t timeout_ms, bool stream) {
        return buildRequest(id, timeout_ms, proto::RequestKind::FRAMES, movie, &indices, &options, nullptr, stream);
      },
      indices.size(), indices);
}

Result<Frame> Client::getFrameAt(const std::string& movie, double seconds, const FrameOptions& options) {
  FW_ASSIGN_OR_RETURN(std::vector<Frame> frames, getFramesAt(movie, {seconds}, options));
  return std::move(frames.front());
}

Result<std::vector<Frame>> Client::getFramesAt(const std::string& movie, const std::vector<double>& seconds,
                                               const FrameOptions& options) {
  if (seconds.empty()) return Status::invalidArgument("no frame times given");
  return impl_->callFrames(
      [&](uint64_t id, uint32_t timeout_ms, bool stream) {
        return buildRequest(id, timeout_ms, proto::RequestKind::FRAMES, movie, nullptr, &options, &seconds, stream);
      },
      seconds.size(), /*requested=*/{});
}

Result<std::string> Client::stats() {
  FW_ASSIGN_OR_RETURN(protocol::ClientReply reply, impl_->call([&](uint64_t id, uint32_t timeout_ms) {
    return buildRequest(id, timeout_ms, proto::RequestKind::STATS, "");
  }));
  FW_RETURN_IF_ERROR(client_internal::replyStatus(*reply.reply));
  if (!reply.reply->stats_json()) return Status::internal("the STATS reply carries no statistics");
  return reply.reply->stats_json()->str();
}

Result<std::vector<ListEntry>> Client::list(const std::string& folder) {
  FW_ASSIGN_OR_RETURN(protocol::ClientReply reply, impl_->call([&](uint64_t id, uint32_t timeout_ms) {
    return buildRequest(id, timeout_ms, proto::RequestKind::LIST, folder);
  }));
  FW_RETURN_IF_ERROR(client_internal::replyStatus(*reply.reply));
  return client_internal::decodeListEntries(*reply.reply);
}

}  // namespace framewire
