// Helpers for the worker tests: more generated movies, building requests, reading replies,
// and decoding encoded images back with FFmpeg.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "common/json_value.h"
#include "framewire_generated.h"
#include "worker/decode/ffmpeg_handles.h"
#include "worker/output/output_image.h"
#include "worker/reply_builder.h"
#include "worker/request_handler.h"
#include "worker/worker_reply.h"

namespace framewire::testing {

// Generated movies beyond tests/support (small, cached like the others).
std::string openGopMp4Movie();     // H.264 open GOP (x264 open-gop), GOP 12, 3 B-frames, 72 frames
std::string openGopMkvMovie();     // the same stream in Matroska
std::string h264TsMovie();         // H.264 with B-frames in MPEG-TS, 72 frames
std::string hevc10Movie();         // HEVC yuv420p10le with B-frames, 48 frames, .mp4
std::string oddSizeMovie();        // 321x241 H.264 yuv444p with B-frames, 48 frames, .mkv
std::string longGopMovie();        // H.264, GOP 250, 260 frames
std::string editListMovie();       // openGopMp4Movie cut with -ss/-c copy: an edit list into a GOP
std::string audioFirstMovie();     // stream 0 audio, stream 1 ProRes video, .mov
std::string aviBFramesMovie();     // H.264 with B-frames in AVI: packets without pts
std::string audioOnlyMovie();      // no video stream, .m4a
std::string bt709Movie();             // H.264 tagged BT.709, limited range, 24 frames
std::string fragmentedProresMovie();  // proresMovie as fragmented MP4: moof boxes, no mfra

// More of the exactness cases of issue 4:
std::string prores4444AlphaMovie();  // ProRes 4444 with a varying alpha plane, 12 frames, .mov
std::string hevc8Movie();            // HEVC yuv420p with B-frames, GOP 12, 48 frames, .mkv
std::string vfrMovie();              // H.264 with B-frames, every third frame dropped (gaps), .mp4
std::string mpeg2TsMovie();          // MPEG-2 with B-frames in MPEG-TS, 48 frames
std::string mpeg4Mp4Movie();         // MPEG-4 part 2 with B-frames, 48 frames, .mp4
std::string mpeg4AviMovie();         // the same in AVI (packed B-frames, no pts)
std::string mjpegAviMovie();         // MJPEG in AVI, 24 frames
std::string vp9WebmMovie();          // VP9 with hidden alt-ref frames (superframes), 48 frames, .webm

// The oracle, computed once per movie per test process.
const std::vector<std::string>& oracleMd5s(const std::string& movie);
const std::vector<uint8_t>& oracleRgb24(const std::string& movie);

struct RequestSpec {
  proto::RequestKind kind = proto::RequestKind::FRAMES;
  uint64_t id = 42;
  std::string movie;
  std::vector<int64_t> frames;
  std::vector<double> times;
  std::string format;
  std::string encoding;
  int quality = 0;
  std::optional<proto::Rect> crop;
  int width = 0;
  int height = 0;
  bool stream = false;
  // Request.shared_memory, when set.
  struct SharedOffer {
    std::string path;
    std::string token;
    uint64_t size = 0;
    std::vector<proto::Extent> extents;
  };
  std::optional<SharedOffer> shared;
};
flatbuffers::DetachedBuffer buildRequest(const RequestSpec& spec);
const proto::Request* requestOf(const flatbuffers::DetachedBuffer& buffer);

// The verified reply header; fails the test (and returns null) when it does not verify.
const proto::Reply* replyOf(const WorkerReply& reply);

// The handler's STATS, answered as `worker` (an empty object, and a failed test, when the reply
// does not parse).
JsonValue workerStats(RequestHandler& handler, const std::string& worker = "test");

// The frame's planes concatenated without row padding (the `-f rawvideo` layout). Checks that
// every plane lies inside its payload part.
std::vector<uint8_t> packedPixels(const WorkerReply& reply, const proto::FrameHeader& frame);

// A raw frame of `bytes` bytes, every byte `fill`, in one part (one plane, one row) of a buffer of
// its own: for the reply and stream builders, no decoding.
FrameOutput syntheticFrame(int64_t index, uint64_t bytes, uint8_t fill);

// A converted image's planes concatenated without row padding (the `-f rawvideo` layout).
std::vector<uint8_t> packedImage(const OutputImage& image);

// Frame `n` of `movie` (a path), decoded by a MovieReader of its own; null (and a test
// failure) when that fails.
UniqueAVFrame decodedFrame(const std::string& movie, int64_t n);

// Decodes an image file (png, jpeg, bmp) with FFmpeg; null on failure.
UniqueAVFrame decodeImage(const std::vector<uint8_t>& bytes, AVCodecID codec);

// Copies the rows of a decoded image frame, plane 0, without padding.
std::vector<uint8_t> packedPlane0(const AVFrame& frame, int row_bytes);

// swscale's own conversion of `frame` to `format` at the same size, packed, with the frame's
// colour matrix and range (ffmpeg's): the reference of the worker's faster conversions.
std::vector<uint8_t> swscaleDirect(const AVFrame& frame, AVPixelFormat format);

}  // namespace framewire::testing
