// RAII owners for FFmpeg objects, in the spirit of torchcodec's UniqueAVFrame & co.
//
// Every FFmpeg object the worker creates lives in one of these aliases, so an early return on
// an error path can never leak a context, a frame or a packet. They are plain unique_ptrs:
// movable, not copyable, and as thread-safe as the object they own (that is: not at all; one
// thread at a time).
//
// Also here: turning FFmpeg's error codes into words, and quieting FFmpeg's own logging.
#pragma once

#include <memory>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/buffer.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

namespace framewire {

struct AVFormatContextCloser {
  void operator()(AVFormatContext* context) const { avformat_close_input(&context); }
};
struct AVCodecContextFreer {
  void operator()(AVCodecContext* context) const { avcodec_free_context(&context); }
};
struct AVFrameFreer {
  void operator()(AVFrame* frame) const { av_frame_free(&frame); }
};
struct AVPacketFreer {
  void operator()(AVPacket* packet) const { av_packet_free(&packet); }
};
struct SwsContextFreer {
  void operator()(SwsContext* context) const { sws_freeContext(context); }
};
struct AVBufferRefUnref {
  void operator()(AVBufferRef* buffer) const { av_buffer_unref(&buffer); }
};
struct AVDictionaryFreer {
  void operator()(AVDictionary* dictionary) const { av_dict_free(&dictionary); }
};

// An input opened with avformat_open_input (closed with avformat_close_input).
using UniqueAVFormatContext = std::unique_ptr<AVFormatContext, AVFormatContextCloser>;
using UniqueAVCodecContext = std::unique_ptr<AVCodecContext, AVCodecContextFreer>;
using UniqueAVFrame = std::unique_ptr<AVFrame, AVFrameFreer>;
using UniqueAVPacket = std::unique_ptr<AVPacket, AVPacketFreer>;
using UniqueSwsContext = std::unique_ptr<SwsContext, SwsContextFreer>;
using UniqueAVBufferRef = std::unique_ptr<AVBufferRef, AVBufferRefUnref>;

// Allocating helpers; they return null only when memory is exhausted.
inline UniqueAVFrame allocateFrame() { return UniqueAVFrame(av_frame_alloc()); }
inline UniqueAVPacket allocatePacket() { return UniqueAVPacket(av_packet_alloc()); }

// A new reference to `frame`'s buffers (av_frame_ref); null when that fails.
UniqueAVFrame referenceFrame(const AVFrame* frame);

// A shared owner of one more reference to `buffer`: the PayloadPart::owner of zero-copy
// payloads. The reference is dropped (av_buffer_unref) when the last copy goes away, on
// whatever thread that happens; AVBufferRef reference counting is atomic, so that is safe.
std::shared_ptr<const void> shareBuffer(const AVBufferRef* buffer);

// A shared owner of a whole packet (its data stays valid while the owner lives).
std::shared_ptr<const void> sharePacket(UniqueAVPacket packet);

// FFmpeg's words for an error code (av_strerror), e.g. "Invalid data found when processing input".
std::string avErrorString(int error);

// Sets FFmpeg's log level to errors only, once per process. FFmpeg's log level is global, so
// this affects every FFmpeg user in the process; the worker is the only one.
void quietFfmpegLogging();

}  // namespace framewire
