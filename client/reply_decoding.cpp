#include "client/reply_decoding.h"

#include <memory>
#include <string>

namespace framewire::client_internal {
namespace {

std::string str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

StageTimings toTimings(const proto::Timings* t) {
  StageTimings out;
  if (!t) return out;
  out.queueUs = t->queue_us();
  out.readUs = t->read_us();
  out.decodeUs = t->decode_us();
  out.convertUs = t->convert_us();
  out.encodeUs = t->encode_us();
  out.totalUs = t->total_us();
  return out;
}

CacheTier toCacheTier(proto::CacheTier tier) {
  switch (tier) {
    case proto::CacheTier::MEMORY: return CacheTier::kMemory;
    case proto::CacheTier::DISK: return CacheTier::kDisk;
    default: return CacheTier::kNone;
  }
}

Status malformedReply(const std::string& what) {
  return Status::internal("malformed reply from the server: " + what);
}

// Where a plane's bytes are, after checking that every row lies inside its part.
Result<FramePlane> locatePlane(const proto::Plane& plane, const protocol::Multipart& parts,
                               size_t frame_number, size_t plane_number) {
  const std::string where =
      "frame " + std::to_string(frame_number) + " plane " + std::to_string(plane_number);
  // parts[0] is the header; payload part p is parts[1 + p].
  const size_t payload_parts = parts.size() - 1;
  if (plane.part() >= payload_parts) {
    return malformedReply(where + " refers to payload part " + std::to_string(plane.part()) +
                          " of " + std::to_string(payload_parts));
  }
  const zmq::message_t& part = parts[1 + plane.part()];
  const uint64_t part_size = part.size();
  const uint64_t offset = plane.offset();
  const uint64_t stride = plane.stride();
  const uint64_t row_bytes = plane.row_bytes();
  const uint64_t rows = plane.rows();
  if (stride < row_bytes && rows > 1) {
    return malformedReply(where + " has a stride smaller than its row");
  }
  if (offset > part_size) return malformedReply(where + " starts after the end of its part");
  if (rows > 0) {
    // The last row ends at offset + (rows - 1) * stride + row_bytes; compare without overflow.
    const uint64_t room = part_size - offset;
    if (row_bytes > room) return malformedReply(where + " runs past the end of its part");
    if (rows > 1 && stride != 0 && (rows - 1) > (room - row_bytes) / stride) {
      return malformedReply(where + " runs past the end of its part");
    }
  }
  FramePlane out;
  out.data = part.data<uint8_t>() + offset;
  out.stride = static_cast<size_t>(stride);
  out.rowBytes = static_cast<size_t>(row_bytes);
  out.rows = static_cast<size_t>(rows);
  return out;
}

}  // namespace

Status replyStatus(const proto::Reply& reply) {
  if (reply.status() == proto::StatusCode::OK) return Status::ok();
  std::string message = str(reply.message());
  if (message.empty()) message = "(the server gave no message)";
  return Status(protocol::fromProto(reply.status()), std::move(message));
}

Result<DecodedFrames> decodeFrameFields(protocol::ClientReply&& reply) {
  if (reply.parts.empty() || reply.reply == nullptr) return malformedReply("no header");
  // The frames share the parts. Moving the vector keeps its elements in place, but take the
  // header again from the moved vector anyway: nothing below points into the old one.
  DecodedFrames out;
  out.parts = std::make_shared<const protocol::Multipart>(std::move(reply.parts));
  reply.reply = nullptr;
  const protocol::Multipart& parts = *out.parts;
  const auto* header = flatbuffers::GetRoot<proto::Reply>(parts[0].data());
  out.header = header;
  FW_RETURN_IF_ERROR(replyStatus(*header));
  out.requestTimings = toTimings(header->timings());

  const auto* frame_headers = header->frames();
  if (!frame_headers) return out;
  out.frames.reserve(frame_headers->size());
  const std::string worker = str(header->worker());
  for (flatbuffers::uoffset_t i = 0; i < frame_headers->size(); ++i) {
    const proto::FrameHeader* h = frame_headers->Get(i);
    if (!h) return malformedReply("frame " + std::to_string(i) + " has no header");
    Frame::Fields fields;
    fields.index = h->index();
    fields.pts = h->pts();
    fields.time = h->time();
    fields.keyframe = h->keyframe();
    fields.width = h->width();
    fields.height = h->height();
    fields.format = str(h->format());
    fields.pixelFormat = str(h->pixel_format());
    fields.encoding = str(h->encoding());
    if (fields.encoding.empty()) fields.encoding = "raw";
    fields.sampleBytes = h->sample_bytes() == 0 ? 1 : h->sample_bytes();
    fields.size = h->size();
    fields.cached = toCacheTier(h->cached());
    fields.timings = toTimings(h->timings());
    fields.requestTimings = out.requestTimings;
    fields.worker = worker;
    if (const auto* planes = h->planes()) {
      fields.planes.reserve(planes->size());
      for (flatbuffers::uoffset_t p = 0; p < planes->size(); ++p) {
        FW_ASSIGN_OR_RETURN(FramePlane plane, locatePlane(*planes->Get(p), parts, i, p));
        fields.planes.push_back(plane);
      }
    }
    out.frames.push_back(std::move(fields));
  }
  return out;
}

Result<std::vector<Frame>> decodeFrames(protocol::ClientReply&& reply) {
  FW_ASSIGN_OR_RETURN(DecodedFrames decoded, decodeFrameFields(std::move(reply)));
  std::vector<Frame> frames;
  frames.reserve(decoded.frames.size());
  for (Frame::Fields& fields : decoded.frames) frames.emplace_back(std::move(fields), decoded.parts);
  return frames;
}

Result<MovieInfo> decodeMovieInfo(const proto::Reply& reply) {
  FW_RETURN_IF_ERROR(replyStatus(reply));
  const proto::MovieInfo* m = reply.info();
  if (!m) return malformedReply("an INFO reply without metadata");
  MovieInfo info;
  info.movie = str(m->movie());
  info.numFrames = m->num_frames();
  info.width = m->width();
  info.height = m->height();
  info.fps = m->fps();
  info.duration = m->duration();
  info.codec = str(m->codec());
  info.pixelFormat = str(m->pixel_format());
  info.bitDepth = m->bit_depth();
  info.fileSize = m->file_size();
  info.keyframes = m->keyframes();
  info.timeBaseNum = m->time_base_num();
  info.timeBaseDen = m->time_base_den();
  info.startTime = m->start_time();
  return info;
}

std::vector<ListEntry> decodeListEntries(const proto::Reply& reply) {
  std::vector<ListEntry> entries;
  if (const auto* list = reply.entries()) {
    entries.reserve(list->size());
    for (const proto::ListEntry* e : *list) {
      if (e) entries.push_back({str(e->name()), e->size()});
    }
  }
  return entries;
}

}  // namespace framewire::client_internal
