// The framewire wire protocol's framing: how requests, replies and worker commands are laid
// out as ZeroMQ multipart messages (proto/PROTOCOL.md is the normative text).
//
// Everything here builds or parses message parts and never touches a socket, so the
// broker, the worker and the clients share one codec and tests drive it without a network.
// Parsers never trust their input: a malformed message yields a non-OK Status, never a crash.
// Functions are stateless and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "common/status.h"
#include "framewire_generated.h"

namespace framewire::protocol {

// Protocol version frames: the first frame after the empty delimiter.
inline constexpr std::string_view kClientProtocol = "FWC01";
inline constexpr std::string_view kWorkerProtocol = "FWW01";

enum class WorkerCommand : uint8_t {
  kReady = 0x01,       // worker -> broker: [name][cache group] (both optional)
  kRequest = 0x02,     // broker -> worker: [token][queue_us][request]
  kReply = 0x03,       // worker -> broker: [token][header][payload...]
  kHeartbeat = 0x04,   // both ways
  kDisconnect = 0x05,  // both ways
  kPartial = 0x06,     // worker -> broker: [token][header][payload...], a streamed reply's non-final message
};
const char* workerCommandName(WorkerCommand command);

using Multipart = std::vector<zmq::message_t>;

// ---- client <-> broker -------------------------------------------------------------------

// A client request as the broker's ROUTER receives it: [envelope...][""]["FWC01"][request].
// `envelope` keeps the routing frames in front of the delimiter (one identity for a direct
// REQ or DEALER client, more behind proxies) so the reply can retrace them.
struct ClientRequest {
  Multipart envelope;
  zmq::message_t body;                      // the FlatBuffers Request
  const proto::Request* request = nullptr;  // verified view into `body`
};
// On a malformed message the envelope is still filled in when one was found, so the broker
// can answer the sender with the returned error instead of leaving it to time out.
Status parseClientRequest(Multipart&& frames, ClientRequest* out);

// What a client sends (without the delimiter that a REQ socket adds by itself).
Multipart makeClientRequestFrames(const flatbuffers::DetachedBuffer& request, bool add_delimiter);

// [envelope...][""]["FWC01"][header][payload...]: the broker's reply to a client.
Multipart makeClientReply(Multipart envelope, Multipart header_and_payload);

// A client reply as a client socket receives it: strips a leading empty delimiter (DEALER)
// and the protocol frame, verifies the header. `parts` keeps [header][payload...].
struct ClientReply {
  Multipart parts;
  const proto::Reply* reply = nullptr;  // verified view into parts[0]
};
Result<ClientReply> parseClientReply(Multipart&& frames);

// ---- worker <-> broker ------------------------------------------------------------------

// A message from a worker as the broker's ROUTER receives it: [identity][""]["FWW01"][cmd]...
struct WorkerMessage {
  std::string identity;
  WorkerCommand command = WorkerCommand::kHeartbeat;
  std::string name;             // READY
  std::string cache_group;      // READY: connections sharing one cache (empty: none given)
  uint64_t token = 0;           // REPLY, PARTIAL
  Multipart header_and_payload;  // REPLY, PARTIAL: the reply header then the payload parts
};
Result<WorkerMessage> parseWorkerMessage(Multipart&& frames);

// Broker -> worker, addressed by identity (the ROUTER's first frame).
Multipart makeWorkerRequest(const std::string& identity, uint64_t token, int64_t queue_us,
                            const zmq::message_t& request);
Multipart makeBrokerCommand(const std::string& identity, WorkerCommand command);  // HEARTBEAT, DISCONNECT

// What a worker's DEALER receives from the broker: [""]["FWW01"][cmd]...
struct BrokerMessage {
  WorkerCommand command = WorkerCommand::kHeartbeat;
  uint64_t token = 0;        // REQUEST
  int64_t queue_us = 0;      // REQUEST
  zmq::message_t body;       // REQUEST: the FlatBuffers Request
  const proto::Request* request = nullptr;  // verified view into `body` (REQUEST)
};
Result<BrokerMessage> parseBrokerMessage(Multipart&& frames);

// Worker -> broker, as sent on the worker's DEALER.
// `cache_group` names the worker process whose caches this connection shares (PROTOCOL.md
// section 6); empty leaves the frame out, as workers before it did.
Multipart makeWorkerReady(const std::string& name, const std::string& cache_group = "");
Multipart makeWorkerCommand(WorkerCommand command);  // HEARTBEAT, DISCONNECT
Multipart makeWorkerReply(uint64_t token, Multipart header_and_payload);
// A streamed reply's message before the last (the header says Reply.more = true).
Multipart makeWorkerPartial(uint64_t token, Multipart header_and_payload);

// True for the commands that carry [token][header][payload...]: REPLY and PARTIAL.
inline bool carriesReply(WorkerCommand command) {
  return command == WorkerCommand::kReply || command == WorkerCommand::kPartial;
}

// ---- FlatBuffers helpers ----------------------------------------------------------------

// Verifies a buffer as a Request / Reply; nullptr when it is not one.
const proto::Request* verifyRequest(const void* data, size_t size);
const proto::Reply* verifyReply(const void* data, size_t size);

// A reply header that carries only a status: the answer to every error.
flatbuffers::DetachedBuffer makeStatusReply(uint64_t request_id, const Status& status,
                                            std::string_view worker = {});

proto::StatusCode toProto(StatusCode code);
StatusCode fromProto(proto::StatusCode code);

// Little-endian 8-byte integers, used for tokens and queue times.
zmq::message_t encodeU64(uint64_t value);
bool decodeU64(const zmq::message_t& frame, uint64_t* value);

}  // namespace framewire::protocol
