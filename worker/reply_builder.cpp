#include "worker/reply_builder.h"

#include "common/protocol.h"

namespace framewire {
namespace {

proto::Timings replyTimings(const ReplyContext& context) {
  return proto::Timings(context.queue_us, context.stages.read_us, context.stages.decode_us,
                        context.stages.convert_us, context.stages.encode_us, context.total_us);
}

// Fills the fields every reply has, then lets `add` put in the kind-specific ones.
template <typename AddFields>
flatbuffers::DetachedBuffer finishReply(flatbuffers::FlatBufferBuilder& builder,
                                        const ReplyContext& context, const Status& status,
                                        AddFields add) {
  const auto message = builder.CreateString(status.message());
  const auto worker = builder.CreateString(context.worker);
  const proto::Timings timings = replyTimings(context);
  auto fields = add();  // offsets must be created before the ReplyBuilder starts
  proto::ReplyBuilder reply(builder);
  reply.add_id(context.request_id);
  reply.add_status(protocol::toProto(status.code()));
  reply.add_message(message);
  reply.add_worker(worker);
  reply.add_timings(&timings);
  fields(reply);
  builder.Finish(reply.Finish());
  return builder.Release();
}

// Each frame's places in the client's shared memory (PROTOCOL.md 3), placed in order of the
// frame's first position; empty when nothing went there.
std::vector<std::vector<proto::SharedPart>> placeInSharedMemory(const std::vector<FrameOutput>& frames,
                                                                const std::vector<size_t>& order,
                                                                const ReplyRun& run, SharedPlacement* shared) {
  std::vector<std::vector<proto::SharedPart>> places;
  if (!shared || !shared->active()) return places;
  places.resize(frames.size());
  bool any = false;
  for (size_t f : order) {
    if (!places[f].empty() || frames[f].image.parts.empty()) continue;
    places[f] = shared->place(run.frame_ids.empty() ? f : run.frame_ids.at(f), frames[f].image.parts);
    for (const proto::SharedPart& place : places[f]) any = any || place.size() != 0;
  }
  if (!any) places.clear();
  return places;
}

}  // namespace

flatbuffers::DetachedBuffer buildErrorReply(const ReplyContext& context, const Status& status) {
  flatbuffers::FlatBufferBuilder builder(256);
  return finishReply(builder, context, status, [] { return [](proto::ReplyBuilder&) {}; });
}

flatbuffers::DetachedBuffer buildInfoReply(const ReplyContext& context, const std::string& movie,
                                           const MovieIndex& index) {
  flatbuffers::FlatBufferBuilder builder(512);
  const MovieMetadata& meta = index.metadata();
  return finishReply(builder, context, Status::ok(), [&] {
    const auto info = proto::CreateMovieInfoDirect(
        builder, movie.c_str(), index.numFrames(), meta.width, meta.height, meta.fps, meta.duration,
        meta.codec.c_str(), meta.pixel_format.c_str(), meta.bit_depth, meta.file_size,
        meta.keyframes, meta.time_base.num, meta.time_base.den, meta.start_time);
    return [info](proto::ReplyBuilder& reply) { reply.add_info(info); };
  });
}

flatbuffers::DetachedBuffer buildListReply(const ReplyContext& context,
                                           const std::vector<FolderEntry>& entries) {
  flatbuffers::FlatBufferBuilder builder(256 + 64 * entries.size());
  return finishReply(builder, context, Status::ok(), [&] {
    std::vector<flatbuffers::Offset<proto::ListEntry>> offsets;
    offsets.reserve(entries.size());
    for (const FolderEntry& entry : entries) {
      offsets.push_back(proto::CreateListEntryDirect(builder, entry.name.c_str(), entry.size));
    }
    const auto list = builder.CreateVector(offsets);
    return [list](proto::ReplyBuilder& reply) { reply.add_entries(list); };
  });
}

flatbuffers::DetachedBuffer buildStatsReply(const ReplyContext& context, const std::string& stats_json) {
  flatbuffers::FlatBufferBuilder builder(256 + stats_json.size());
  return finishReply(builder, context, Status::ok(), [&] {
    const auto json = builder.CreateString(stats_json);
    return [json](proto::ReplyBuilder& reply) { reply.add_stats_json(json); };
  });
}

WorkerReply buildFramesReply(const ReplyContext& context, const OutputSpec& spec,
                             const std::vector<FrameOutput>& frames,
                             const std::vector<size_t>& order, const ReplyRun& run,
                             SharedPlacement* shared) {
  WorkerReply result;
  const std::vector<std::vector<proto::SharedPart>> places = placeInSharedMemory(frames, order, run, shared);
  // Payload: every distinct frame's parts once, in the order the frames were decoded; a part
  // in shared memory leaves an empty part in the message.
  std::vector<uint32_t> first_part(frames.size());
  std::vector<proto::SharedPart> shared_parts;
  for (size_t f = 0; f < frames.size(); ++f) {
    first_part[f] = static_cast<uint32_t>(result.payload.size());
    const std::vector<PayloadPart>& parts = frames[f].image.parts;
    for (size_t i = 0; i < parts.size(); ++i) {
      const bool placed = !places.empty() && places[f].at(i).size() != 0;
      result.payload.push_back(placed ? PayloadPart{} : parts[i]);
      if (!places.empty()) shared_parts.push_back(placed ? places[f][i] : proto::SharedPart(0, 0));
    }
  }
  flatbuffers::FlatBufferBuilder builder(512 + 160 * order.size() + 16 * shared_parts.size());
  result.header = finishReply(builder, context, Status::ok(), [&] {
    std::vector<flatbuffers::Offset<proto::FrameHeader>> headers;
    headers.reserve(order.size());
    // One header per distinct frame; duplicates reuse its offset (FlatBuffers allows that).
    std::vector<flatbuffers::Offset<proto::FrameHeader>> header_of_frame(frames.size());
    std::vector<bool> built(frames.size(), false);
    const auto format = builder.CreateSharedString(spec.format_name);
    const auto encoding = builder.CreateSharedString(spec.encoding_name);
    for (size_t f : order) {
      if (!built[f]) {
        const FrameOutput& frame = frames[f];
        std::vector<proto::Plane> planes;
        planes.reserve(frame.image.planes.size());
        for (const ImagePlane& plane : frame.image.planes) {
          planes.emplace_back(first_part[f] + plane.part, plane.offset, plane.stride,
                              plane.row_bytes, plane.rows);
        }
        const auto planes_offset = builder.CreateVectorOfStructs(planes);
        const auto pixel_format = builder.CreateSharedString(frame.image.pixel_format);
        const proto::Timings timings(0, frame.stages.read_us, frame.stages.decode_us,
                                     frame.stages.convert_us, frame.stages.encode_us, frame.total_us);
        proto::FrameHeaderBuilder header(builder);
        header.add_index(frame.index);
        header.add_pts(frame.pts);
        header.add_time(frame.time);
        header.add_keyframe(frame.keyframe);
        header.add_width(frame.image.width);
        header.add_height(frame.image.height);
        header.add_format(format);
        header.add_pixel_format(pixel_format);
        header.add_encoding(encoding);
        header.add_sample_bytes(static_cast<uint8_t>(frame.image.sample_bytes));
        header.add_planes(planes_offset);
        header.add_size(frame.image.size);
        header.add_cached(frame.cached);
        header.add_timings(&timings);
        header_of_frame[f] = header.Finish();
        built[f] = true;
      }
      headers.push_back(header_of_frame[f]);
    }
    const auto list = builder.CreateVector(headers);
    const auto shared_list =
        shared_parts.empty() ? flatbuffers::Offset<flatbuffers::Vector<const proto::SharedPart*>>()
                             : builder.CreateVectorOfStructs(shared_parts);
    return [list, shared_list, position = run.position, more = run.more](proto::ReplyBuilder& reply) {
      reply.add_frames(list);
      reply.add_position(position);
      reply.add_more(more);
      if (!shared_list.IsNull()) reply.add_shared_parts(shared_list);
    };
  });
  return result;
}

}  // namespace framewire
