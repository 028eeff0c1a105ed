// Turns a parsed client reply (common/protocol.h ClientReply) into the client's values:
// a Status, Frames over the received parts, a MovieInfo, list entries.
//
// Internal to the client library (and its tests): no sockets, so unit tests feed it
// hand-built replies. The server is not trusted: a plane that points outside its payload
// part, or a reply missing what its kind needs, becomes an INTERNAL status, never a bad read.
// Stateless functions; thread-safe.
#pragma once

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

Result<MovieInfo> decodeMovieInfo(const proto::Reply& reply);

std::vector<ListEntry> decodeListEntries(const proto::Reply& reply);

}  // namespace framewire::client_internal
