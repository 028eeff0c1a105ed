#include "tests/worker/worker_test_support.h"

#include <map>
#include <mutex>

#include <gtest/gtest.h>

#include "common/protocol.h"
#include "tests/support/test_movies.h"
#include "worker/decode/movie_reader.h"
#include "worker/index/movie_index.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

namespace framewire::testing {

std::string openGopMp4Movie() {
  return generateMovie(
      "h264-opengop-320x240.mp4",
      "-f lavfi -i testsrc2=size=320x240:rate=24 -vf noise=alls=10:allf=t -frames:v 72 "
      "-c:v libx264 -preset veryfast -pix_fmt yuv420p -g 12 -bf 3 "
      "-x264-params scenecut=0:open-gop=1");
}

std::string openGopMkvMovie() {
  return generateMovie("h264-opengop-320x240.mkv", "-i '" + openGopMp4Movie() + "' -c copy");
}

std::string h264TsMovie() {
  return generateMovie("h264-bframes-320x240.ts", "-i '" + h264BFramesMovie() + "' -c copy");
}

std::string hevc10Movie() {
  return generateMovie(
      "hevc10-320x240.mp4",
      "-f lavfi -i testsrc2=size=320x240:rate=24 -vf noise=alls=10:allf=t -frames:v 48 "
      "-c:v libx265 -preset ultrafast -pix_fmt yuv420p10le "
      "-x265-params bframes=3:keyint=12:min-keyint=12:scenecut=0:log-level=error");
}

std::string oddSizeMovie() {
  return generateMovie(
      "h264-444-321x241.mkv",
      "-f lavfi -i testsrc2=size=320x240:rate=24 -vf scale=321:241,noise=alls=10:allf=t "
      "-frames:v 48 -c:v libx264 -preset veryfast -pix_fmt yuv444p -g 12 -bf 3");
}

std::string longGopMovie() {
  return generateMovie(
      "h264-gop250-320x240.mp4",
      "-f lavfi -i testsrc2=size=320x240:rate=24 -frames:v 260 -c:v libx264 -preset ultrafast "
      "-tune zerolatency -x264-params bframes=2:keyint=250:min-keyint=250:scenecut=0 -pix_fmt yuv420p");
}

std::string editListMovie() {
  return generateMovie("h264-editlist-320x240.mp4",
                       "-ss 0.3 -i '" + openGopMp4Movie() + "' -c copy -t 1.5");
}

std::string audioFirstMovie() {
  return generateMovie(
      "audio-first-prores-320x240.mov",
      "-f lavfi -i sine=frequency=440:sample_rate=48000 -f lavfi -i testsrc2=size=320x240:rate=24 "
      "-map 0:a -map 1:v -frames:v 24 -t 1 -c:a pcm_s16le -c:v prores_ks -profile:v 0");
}

std::string aviBFramesMovie() {
  return generateMovie(
      "h264-bframes-320x240.avi",
      "-f lavfi -i testsrc2=size=320x240:rate=24 -frames:v 30 -c:v libx264 -preset veryfast "
      "-g 10 -bf 2 -pix_fmt yuv420p");
}

std::string audioOnlyMovie() {
  return generateMovie("audio-only.m4a", "-f lavfi -i sine=frequency=440:duration=1 -c:a aac");
}

std::string bt709Movie() {
  return generateMovie(
      "h264-bt709-320x240.mp4",
      "-f lavfi -i testsrc2=size=320x240:rate=24 -frames:v 24 -c:v libx264 -preset veryfast "
      "-pix_fmt yuv420p -colorspace bt709 -color_primaries bt709 -color_trc bt709 -color_range tv");
}

std::string fragmentedProresMovie() {
  return generateMovie("prores-fragmented-320x240.mov",
                       "-i '" + proresMovie() + "' -c copy -movflags frag_keyframe+empty_moov+skip_trailer");
}

namespace {
const char kSource[] = "-f lavfi -i testsrc2=size=320x240:rate=24 ";
}  // namespace

std::string prores4444AlphaMovie() {
  return generateMovie("prores4444-alpha-320x240.mov",
                       std::string(kSource) +
                           "-frames:v 12 -vf \"format=yuva444p10le,geq=lum='lum(X,Y)':cb='cb(X,Y)':"
                           "cr='cr(X,Y)':a='128+100*sin(X/10+N)'\" -c:v prores_ks -profile:v 4 "
                           "-pix_fmt yuva444p10le");
}

std::string hevc8Movie() {
  return generateMovie("hevc8-320x240.mkv",
                       std::string(kSource) +
                           "-vf noise=alls=10:allf=t -frames:v 48 -c:v libx265 -preset ultrafast -pix_fmt yuv420p "
                           "-x265-params bframes=3:keyint=12:min-keyint=12:scenecut=0:log-level=error");
}

std::string vfrMovie() {
  return generateMovie("h264-vfr-320x240.mp4",
                       std::string(kSource) +
                           "-vf \"select='not(eq(mod(n,3),1))',noise=alls=10:allf=t\" -fps_mode vfr -frames:v 48 "
                           "-c:v libx264 -preset veryfast -g 12 -bf 2 -pix_fmt yuv420p");
}

std::string mpeg2TsMovie() {
  return generateMovie("mpeg2-320x240.ts", std::string(kSource) +
                                               "-vf noise=alls=10:allf=t -frames:v 48 -c:v mpeg2video -bf 2 -g 12 -q:v 4");
}

std::string mpeg4Mp4Movie() {
  return generateMovie("mpeg4-320x240.mp4", std::string(kSource) +
                                                "-vf noise=alls=10:allf=t -frames:v 48 -c:v mpeg4 -bf 2 -g 12 -q:v 4");
}

std::string mpeg4AviMovie() {
  return generateMovie("mpeg4-320x240.avi", "-i '" + mpeg4Mp4Movie() + "' -c copy");
}

std::string mjpegAviMovie() {
  return generateMovie("mjpeg-320x240.avi", std::string(kSource) + "-frames:v 24 -c:v mjpeg -q:v 5");
}

std::string vp9WebmMovie() {
  return generateMovie("vp9-altref-320x240.webm",
                       std::string(kSource) +
                           "-vf noise=alls=10:allf=t -frames:v 48 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 "
                           "-b:v 300k -auto-alt-ref 1 -lag-in-frames 16 -g 24");
}

const std::vector<std::string>& oracleMd5s(const std::string& movie) {
  static std::mutex mutex;
  static std::map<std::string, std::vector<std::string>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(movie);
  if (it == cache.end()) it = cache.emplace(movie, frameMd5s(movie)).first;
  return it->second;
}

const std::vector<uint8_t>& oracleRgb24(const std::string& movie) {
  static std::mutex mutex;
  static std::map<std::string, std::vector<uint8_t>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(movie);
  if (it == cache.end()) it = cache.emplace(movie, rgb24Frames(movie)).first;
  return it->second;
}

flatbuffers::DetachedBuffer buildRequest(const RequestSpec& spec) {
  flatbuffers::FlatBufferBuilder builder;
  const auto movie = builder.CreateString(spec.movie);
  const auto frames = builder.CreateVector(spec.frames);
  const auto times = builder.CreateVector(spec.times);
  const auto format = builder.CreateString(spec.format);
  const auto encoding = builder.CreateString(spec.encoding);
  flatbuffers::Offset<proto::SharedMemory> shared;
  if (spec.shared) {
    shared = proto::CreateSharedMemoryDirect(builder, spec.shared->path.c_str(), spec.shared->token.c_str(),
                                             spec.shared->size, &spec.shared->extents);
  }
  proto::RequestBuilder request(builder);
  request.add_id(spec.id);
  request.add_kind(spec.kind);
  request.add_movie(movie);
  request.add_frames(frames);
  request.add_times(times);
  request.add_format(format);
  request.add_encoding(encoding);
  request.add_quality(spec.quality);
  if (spec.crop) request.add_crop(&*spec.crop);
  request.add_width(spec.width);
  request.add_height(spec.height);
  request.add_stream(spec.stream);
  if (spec.shared) request.add_shared_memory(shared);
  builder.Finish(request.Finish());
  return builder.Release();
}

FrameOutput syntheticFrame(int64_t index, uint64_t bytes, uint8_t fill) {
  FrameOutput out;
  out.index = index;
  auto buffer = std::make_shared<std::vector<uint8_t>>(bytes, fill);
  out.image.parts.push_back(PayloadPart{buffer, buffer->data(), buffer->size()});
  out.image.planes.push_back(ImagePlane{0, 0, static_cast<uint32_t>(bytes), static_cast<uint32_t>(bytes), 1});
  out.image.width = static_cast<int>(bytes);
  out.image.height = 1;
  out.image.pixel_format = "gray";
  out.image.size = bytes;
  out.stages.decode_us = 10;
  return out;
}

const proto::Request* requestOf(const flatbuffers::DetachedBuffer& buffer) {
  const proto::Request* request = protocol::verifyRequest(buffer.data(), buffer.size());
  EXPECT_NE(request, nullptr) << "request does not verify";
  return request;
}

const proto::Reply* replyOf(const WorkerReply& reply) {
  const proto::Reply* header = protocol::verifyReply(reply.header.data(), reply.header.size());
  EXPECT_NE(header, nullptr) << "reply header does not verify";
  return header;
}

JsonValue workerStats(RequestHandler& handler, const std::string& worker) {
  RequestSpec spec;
  spec.kind = proto::RequestKind::STATS;
  const WorkerReply reply = handler.handle(*requestOf(buildRequest(spec)), 0, worker);
  const proto::Reply* header = replyOf(reply);
  EXPECT_EQ(header->status(), proto::StatusCode::OK);
  auto json = JsonValue::parse(header->stats_json() ? header->stats_json()->str() : "");
  EXPECT_TRUE(json.ok()) << json.status().toString();
  return json.ok() ? *json : JsonValue::object();
}

std::vector<uint8_t> packedPixels(const WorkerReply& reply, const proto::FrameHeader& frame) {
  std::vector<uint8_t> bytes;
  if (!frame.planes()) {
    ADD_FAILURE() << "frame without planes";
    return bytes;
  }
  for (const proto::Plane* plane : *frame.planes()) {
    if (plane->part() >= reply.payload.size()) {
      ADD_FAILURE() << "plane refers to part " << plane->part() << " of " << reply.payload.size();
      return {};
    }
    const PayloadPart& part = reply.payload[plane->part()];
    EXPECT_GE(plane->stride(), plane->row_bytes());
    if (plane->rows() == 0) continue;
    const uint64_t end = plane->offset() + uint64_t(plane->stride()) * (plane->rows() - 1) + plane->row_bytes();
    if (end > part.size) {
      ADD_FAILURE() << "plane reaches byte " << end << " of a " << part.size << "-byte part";
      return {};
    }
    for (uint32_t row = 0; row < plane->rows(); ++row) {
      const uint8_t* begin = part.data + plane->offset() + uint64_t(row) * plane->stride();
      bytes.insert(bytes.end(), begin, begin + plane->row_bytes());
    }
  }
  return bytes;
}

UniqueAVFrame decodeImage(const std::vector<uint8_t>& bytes, AVCodecID codec_id) {
  const AVCodec* codec = avcodec_find_decoder(codec_id);
  if (!codec) return nullptr;
  UniqueAVCodecContext context(avcodec_alloc_context3(codec));
  if (!context || avcodec_open2(context.get(), codec, nullptr) < 0) return nullptr;
  UniqueAVPacket packet = allocatePacket();
  if (av_new_packet(packet.get(), static_cast<int>(bytes.size())) < 0) return nullptr;
  std::copy(bytes.begin(), bytes.end(), packet->data);
  UniqueAVFrame frame = allocateFrame();
  if (avcodec_send_packet(context.get(), packet.get()) < 0) return nullptr;
  avcodec_send_packet(context.get(), nullptr);
  if (avcodec_receive_frame(context.get(), frame.get()) < 0) return nullptr;
  return frame;
}

std::vector<uint8_t> packedPlane0(const AVFrame& frame, int row_bytes) {
  std::vector<uint8_t> bytes;
  for (int row = 0; row < frame.height; ++row) {
    const uint8_t* begin = frame.data[0] + ptrdiff_t(row) * frame.linesize[0];
    bytes.insert(bytes.end(), begin, begin + row_bytes);
  }
  return bytes;
}

std::vector<uint8_t> packedImage(const OutputImage& image) {
  std::vector<uint8_t> bytes;
  for (const ImagePlane& plane : image.planes) {
    const PayloadPart& part = image.parts[plane.part];
    for (uint32_t row = 0; row < plane.rows; ++row) {
      const uint8_t* begin = part.data + plane.offset + uint64_t(row) * plane.stride;
      bytes.insert(bytes.end(), begin, begin + plane.row_bytes);
    }
  }
  return bytes;
}

std::vector<uint8_t> swscaleDirect(const AVFrame& frame, AVPixelFormat format) {
  SwsContext* sws = sws_alloc_context();
  av_opt_set_int(sws, "srcw", frame.width, 0);
  av_opt_set_int(sws, "srch", frame.height, 0);
  av_opt_set_int(sws, "src_format", frame.format, 0);
  av_opt_set_int(sws, "dstw", frame.width, 0);
  av_opt_set_int(sws, "dsth", frame.height, 0);
  av_opt_set_int(sws, "dst_format", format, 0);
  av_opt_set_int(sws, "sws_flags", SWS_BICUBIC, 0);
  EXPECT_GE(sws_init_context(sws, nullptr, nullptr), 0);
  // The frame's colour matrix and range, as ffmpeg's scale filter takes them.
  int* inverse_table = nullptr;
  int* table = nullptr;
  int source_range = 0, destination_range = 0, brightness = 0, contrast = 0, saturation = 0;
  if (sws_getColorspaceDetails(sws, &inverse_table, &source_range, &table, &destination_range, &brightness,
                               &contrast, &saturation) >= 0) {
    if (frame.color_range != AVCOL_RANGE_UNSPECIFIED) source_range = frame.color_range == AVCOL_RANGE_JPEG;
    sws_setColorspaceDetails(sws, sws_getCoefficients(frame.colorspace), source_range, table, destination_range,
                             brightness, contrast, saturation);
  }
  // Into rows with room (as ffmpeg's own frames have: some converters write whole groups of
  // pixels), then packed.
  UniqueAVFrame converted = allocateFrame();
  converted->format = format;
  converted->width = frame.width;
  converted->height = frame.height;
  EXPECT_GE(av_frame_get_buffer(converted.get(), 64), 0);
  sws_scale(sws, frame.data, frame.linesize, 0, frame.height, converted->data, converted->linesize);
  sws_freeContext(sws);
  std::vector<uint8_t> out(size_t(av_image_get_buffer_size(format, frame.width, frame.height, 1)));
  av_image_copy_to_buffer(out.data(), int(out.size()), converted->data, converted->linesize, format, frame.width,
                          frame.height, 1);
  return out;
}

UniqueAVFrame decodedFrame(const std::string& movie, int64_t n) {
  auto signature = fileSignature(movie);
  if (!signature.ok()) {
    ADD_FAILURE() << signature.status().toString();
    return nullptr;
  }
  auto index = MovieIndex::build(movie, *signature);
  if (!index.ok()) {
    ADD_FAILURE() << index.status().toString();
    return nullptr;
  }
  auto reader = MovieReader::open(*index, 2);
  if (!reader.ok()) {
    ADD_FAILURE() << reader.status().toString();
    return nullptr;
  }
  StageTimings timings;
  auto frame = (*reader)->readFrame(n, &timings);
  if (!frame.ok()) {
    ADD_FAILURE() << frame.status().toString();
    return nullptr;
  }
  return std::move(frame).value();
}

}  // namespace framewire::testing
