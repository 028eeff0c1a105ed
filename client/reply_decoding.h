// Turns a parsed client reply (common/protocol.h ClientReply) into the client's values:
// a Status, Frames over the received parts, a MovieInfo, list entries.
//
// Internal to the client library (and its tests): no sockets, so unit tests feed it
// hand-built replies. The server is not trusted: a plane that points outside its payload
// part, or a reply missing what its kind needs, becomes an INTERNAL status, never a bad read.
// Stateless functions; thread-safe.
#pragma once

#include <memory>
#include <vector>

#include "common/protocol.h"
#include "common/status.h"
#include "framewire/frame.h"
#include "framewire/movie_info.h"

namespace framewire::client_internal {

// The reply's own status (OK, or the server's error code and message).
Status replyStatus(const proto::Reply& reply);

// The frames of an OK FRAMES reply, in reply order. Takes the parts over: the frames share
// them and keep them alive. Every plane is checked against its part's bounds.
Result<std::vector<Frame>> decodeFrames(protocol::ClientReply&& reply);

// One message of a FRAMES reply, decoded but not yet made into Frames (a streamed reply's
// frames get the request's totals from its last message, see client/stream_assembly.h).
struct DecodedFrames {
  std::shared_ptr<const protocol::Multipart> parts;  // [header][payload...]: what the planes point into
  const proto::Reply* header = nullptr;              // view into (*parts)[0]
  StageTimings requestTimings;                       // the message's Reply.timings
  std::vector<Frame::Fields> frames;                 // in message order; requestTimings from this message
};
// Like decodeFrames: the message's own error status, or INTERNAL for a malformed frame.
Result<DecodedFrames> decodeFrameFields(protocol::ClientReply&& reply);

Result<MovieInfo> decodeMovieInfo(const proto::Reply& reply);

std::vector<ListEntry> decodeListEntries(const proto::Reply& reply);

}  // namespace framewire::client_internal
