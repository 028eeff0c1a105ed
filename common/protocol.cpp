#include "common/protocol.h"

#include <cstring>

namespace framewire::protocol {
namespace {

static_assert(int(proto::StatusCode::OK) == int(StatusCode::kOk));
static_assert(int(proto::StatusCode::NOT_FOUND) == int(StatusCode::kNotFound));
static_assert(int(proto::StatusCode::OUT_OF_RANGE) == int(StatusCode::kOutOfRange));
static_assert(int(proto::StatusCode::INVALID_ARGUMENT) == int(StatusCode::kInvalidArgument));
static_assert(int(proto::StatusCode::FORBIDDEN) == int(StatusCode::kForbidden));
static_assert(int(proto::StatusCode::BUSY) == int(StatusCode::kBusy));
static_assert(int(proto::StatusCode::TIMEOUT) == int(StatusCode::kTimeout));
static_assert(int(proto::StatusCode::DECODE_ERROR) == int(StatusCode::kDecodeError));
static_assert(int(proto::StatusCode::UNAVAILABLE) == int(StatusCode::kUnavailable));
static_assert(int(proto::StatusCode::INTERNAL) == int(StatusCode::kInternal));

// Request and reply headers are small; anything bigger is not one of ours.
constexpr size_t kMaxHeaderBytes = 64 << 20;

bool equals(const zmq::message_t& frame, std::string_view text) {
  return frame.size() == text.size() && std::memcmp(frame.data(), text.data(), text.size()) == 0;
}

zmq::message_t textFrame(std::string_view text) { return zmq::message_t(text.data(), text.size()); }

zmq::message_t commandFrame(WorkerCommand command) {
  const auto byte = static_cast<uint8_t>(command);
  return zmq::message_t(&byte, 1);
}

bool parseCommand(const zmq::message_t& frame, WorkerCommand* command) {
  if (frame.size() != 1) return false;
  const uint8_t byte = *frame.data<uint8_t>();
  if (byte < uint8_t(WorkerCommand::kReady) || byte > uint8_t(WorkerCommand::kPartial)) return false;
  *command = static_cast<WorkerCommand>(byte);
  return true;
}

Status malformed(std::string what) { return Status::invalidArgument("malformed message: " + what); }

}  // namespace

const char* workerCommandName(WorkerCommand command) {
  switch (command) {
    case WorkerCommand::kReady: return "READY";
    case WorkerCommand::kRequest: return "REQUEST";
    case WorkerCommand::kReply: return "REPLY";
    case WorkerCommand::kHeartbeat: return "HEARTBEAT";
    case WorkerCommand::kDisconnect: return "DISCONNECT";
    case WorkerCommand::kPartial: return "PARTIAL";
  }
  return "UNKNOWN";
}

// ---- client <-> broker -------------------------------------------------------------------

Status parseClientRequest(Multipart&& frames, ClientRequest* out) {
  *out = ClientRequest();
  size_t delimiter = 0;
  while (delimiter < frames.size() && frames[delimiter].size() != 0) ++delimiter;
  if (delimiter == 0 || delimiter >= frames.size()) return malformed("no envelope or no empty delimiter");
  for (size_t i = 0; i < delimiter; ++i) out->envelope.push_back(std::move(frames[i]));
  if (frames.size() < delimiter + 3) return malformed("missing protocol or request frame");
  if (!equals(frames[delimiter + 1], kClientProtocol)) {
    return malformed("unknown client protocol (expected " + std::string(kClientProtocol) + ")");
  }
  if (frames.size() != delimiter + 3) return malformed("unexpected frames after the request");
  out->body = std::move(frames[delimiter + 2]);
  out->request = verifyRequest(out->body.data(), out->body.size());
  if (!out->request) return malformed("request is not a valid framewire Request");
  return Status::ok();
}

Multipart makeClientRequestFrames(const flatbuffers::DetachedBuffer& request, bool add_delimiter) {
  Multipart frames;
  if (add_delimiter) frames.emplace_back();
  frames.push_back(textFrame(kClientProtocol));
  frames.emplace_back(request.data(), request.size());
  return frames;
}

Multipart makeClientReply(Multipart envelope, Multipart header_and_payload) {
  Multipart frames = std::move(envelope);
  frames.reserve(frames.size() + 2 + header_and_payload.size());
  frames.emplace_back();
  frames.push_back(textFrame(kClientProtocol));
  for (auto& part : header_and_payload) frames.push_back(std::move(part));
  return frames;
}

Result<ClientReply> parseClientReply(Multipart&& frames) {
  size_t first = 0;
  if (!frames.empty() && frames[0].size() == 0) first = 1;  // DEALER sees the delimiter
  if (frames.size() < first + 2) return malformed("reply too short");
  if (!equals(frames[first], kClientProtocol)) return malformed("unknown protocol in reply");
  ClientReply out;
  for (size_t i = first + 1; i < frames.size(); ++i) out.parts.push_back(std::move(frames[i]));
  out.reply = verifyReply(out.parts[0].data(), out.parts[0].size());
  if (!out.reply) return malformed("reply header is not a valid framewire Reply");
  return out;
}

// ---- worker <-> broker ------------------------------------------------------------------

Result<WorkerMessage> parseWorkerMessage(Multipart&& frames) {
  // [identity][""]["FWW01"][cmd]...
  if (frames.size() < 4) return malformed("worker message too short");
  if (frames[1].size() != 0) return malformed("worker message without empty delimiter");
  if (!equals(frames[2], kWorkerProtocol)) return malformed("unknown worker protocol");
  WorkerMessage out;
  out.identity = frames[0].to_string();
  if (!parseCommand(frames[3], &out.command)) return malformed("unknown worker command");
  switch (out.command) {
    case WorkerCommand::kReady:
      if (frames.size() >= 5) out.name = frames[4].to_string();
      if (frames.size() >= 6) out.cache_group = frames[5].to_string();
      break;
    case WorkerCommand::kReply:
    case WorkerCommand::kPartial: {
      const std::string name = workerCommandName(out.command);
      if (frames.size() < 6) return malformed(name + " without token or header");
      if (!decodeU64(frames[4], &out.token)) return malformed(name + " token is not 8 bytes");
      if (!verifyReply(frames[5].data(), frames[5].size())) return malformed(name + " header is not a Reply");
      out.header_and_payload.reserve(frames.size() - 5);
      for (size_t i = 5; i < frames.size(); ++i) out.header_and_payload.push_back(std::move(frames[i]));
      break;
    }
    case WorkerCommand::kHeartbeat:
    case WorkerCommand::kDisconnect:
      break;
    case WorkerCommand::kRequest:
      return malformed("REQUEST is a broker-to-worker command");
  }
  return out;
}

Multipart makeWorkerRequest(const std::string& identity, uint64_t token, int64_t queue_us,
                            const zmq::message_t& request) {
  Multipart frames;
  frames.push_back(textFrame(identity));
  frames.emplace_back();
  frames.push_back(textFrame(kWorkerProtocol));
  frames.push_back(commandFrame(WorkerCommand::kRequest));
  frames.push_back(encodeU64(token));
  frames.push_back(encodeU64(static_cast<uint64_t>(queue_us)));
  frames.emplace_back(request.data(), request.size());
  return frames;
}

Multipart makeBrokerCommand(const std::string& identity, WorkerCommand command) {
  Multipart frames;
  frames.push_back(textFrame(identity));
  frames.emplace_back();
  frames.push_back(textFrame(kWorkerProtocol));
  frames.push_back(commandFrame(command));
  return frames;
}

Result<BrokerMessage> parseBrokerMessage(Multipart&& frames) {
  // [""]["FWW01"][cmd]...
  if (frames.size() < 3) return malformed("broker message too short");
  if (frames[0].size() != 0) return malformed("broker message without empty delimiter");
  if (!equals(frames[1], kWorkerProtocol)) return malformed("unknown worker protocol");
  BrokerMessage out;
  if (!parseCommand(frames[2], &out.command)) return malformed("unknown broker command");
  switch (out.command) {
    case WorkerCommand::kRequest: {
      if (frames.size() != 6) return malformed("REQUEST needs token, queue time and request");
      uint64_t queue_us = 0;
      if (!decodeU64(frames[3], &out.token) || !decodeU64(frames[4], &queue_us)) {
        return malformed("REQUEST token or queue time is not 8 bytes");
      }
      out.queue_us = static_cast<int64_t>(queue_us);
      out.body = std::move(frames[5]);
      out.request = verifyRequest(out.body.data(), out.body.size());
      if (!out.request) return malformed("REQUEST body is not a valid framewire Request");
      break;
    }
    case WorkerCommand::kHeartbeat:
    case WorkerCommand::kDisconnect:
      break;
    case WorkerCommand::kReady:
    case WorkerCommand::kReply:
    case WorkerCommand::kPartial:
      return malformed(std::string(workerCommandName(out.command)) + " is a worker-to-broker command");
  }
  return out;
}

Multipart makeWorkerReady(const std::string& name, const std::string& cache_group) {
  Multipart frames = makeWorkerCommand(WorkerCommand::kReady);
  frames.push_back(textFrame(name));
  if (!cache_group.empty()) frames.push_back(textFrame(cache_group));
  return frames;
}

Multipart makeWorkerCommand(WorkerCommand command) {
  Multipart frames;
  frames.emplace_back();
  frames.push_back(textFrame(kWorkerProtocol));
  frames.push_back(commandFrame(command));
  return frames;
}

namespace {

Multipart workerReplyFrames(WorkerCommand command, uint64_t token, Multipart header_and_payload) {
  Multipart frames = makeWorkerCommand(command);
  frames.reserve(frames.size() + 1 + header_and_payload.size());
  frames.push_back(encodeU64(token));
  for (auto& part : header_and_payload) frames.push_back(std::move(part));
  return frames;
}

}  // namespace

Multipart makeWorkerReply(uint64_t token, Multipart header_and_payload) {
  return workerReplyFrames(WorkerCommand::kReply, token, std::move(header_and_payload));
}

Multipart makeWorkerPartial(uint64_t token, Multipart header_and_payload) {
  return workerReplyFrames(WorkerCommand::kPartial, token, std::move(header_and_payload));
}

// ---- FlatBuffers helpers ----------------------------------------------------------------

const proto::Request* verifyRequest(const void* data, size_t size) {
  if (data == nullptr || size == 0 || size > kMaxHeaderBytes) return nullptr;
  flatbuffers::Verifier verifier(static_cast<const uint8_t*>(data), size);
  if (!verifier.VerifyBuffer<proto::Request>(nullptr)) return nullptr;
  return flatbuffers::GetRoot<proto::Request>(data);
}

const proto::Reply* verifyReply(const void* data, size_t size) {
  if (data == nullptr || size == 0 || size > kMaxHeaderBytes) return nullptr;
  flatbuffers::Verifier verifier(static_cast<const uint8_t*>(data), size);
  if (!verifier.VerifyBuffer<proto::Reply>(nullptr)) return nullptr;
  return flatbuffers::GetRoot<proto::Reply>(data);
}

flatbuffers::DetachedBuffer makeStatusReply(uint64_t request_id, const Status& status,
                                            std::string_view worker) {
  flatbuffers::FlatBufferBuilder builder(256);
  auto message = builder.CreateString(status.message());
  auto worker_name = builder.CreateString(worker.data(), worker.size());
  proto::ReplyBuilder reply(builder);
  reply.add_id(request_id);
  reply.add_status(toProto(status.code()));
  reply.add_message(message);
  reply.add_worker(worker_name);
  builder.Finish(reply.Finish());
  return builder.Release();
}

proto::StatusCode toProto(StatusCode code) { return static_cast<proto::StatusCode>(code); }

StatusCode fromProto(proto::StatusCode code) {
  const int value = static_cast<int>(code);
  if (value < 0 || value > static_cast<int>(StatusCode::kInternal)) return StatusCode::kInternal;
  return static_cast<StatusCode>(value);
}

zmq::message_t encodeU64(uint64_t value) {
  uint8_t bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
  return zmq::message_t(bytes, 8);
}

bool decodeU64(const zmq::message_t& frame, uint64_t* value) {
  if (frame.size() != 8) return false;
  const auto* bytes = frame.data<uint8_t>();
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(bytes[i]) << (8 * i);
  *value = v;
  return true;
}

}  // namespace framewire::protocol
