#include "worker/decode/movie_input.h"

#include <algorithm>

extern "C" {
#include <libavcodec/codec_desc.h>
}

namespace framewire {

bool isIntraOnly(AVCodecID codec) {
  const AVCodecDescriptor* descriptor = avcodec_descriptor_get(codec);
  return descriptor && (descriptor->props & AV_CODEC_PROP_INTRA_ONLY);
}

bool seeksByPresentationTime(const AVInputFormat* format) {
  if (!format || !format->name) return false;
  const std::string name = format->name;
  return name.find("mov") != std::string::npos || name.find("matroska") != std::string::npos;
}

bool canSkipNonReferenceFrames(AVCodecID codec) {
  return codec == AV_CODEC_ID_H264 || codec == AV_CODEC_ID_MPEG1VIDEO ||
         codec == AV_CODEC_ID_MPEG2VIDEO;
}

namespace {

// FFmpeg opens further files through io_open for some inputs (playlists, references to
// other files). A movie read through a ByteSource may not: all it reads comes from that one
// source, so a remote file can never make the worker fetch another URL.
int refuseNestedOpen(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) {
  return AVERROR(EPERM);
}

}  // namespace

Result<MovieInput> openMovieInput(const std::string& path) { return openMovieInput(path, nullptr); }

Result<MovieInput> openMovieInput(const std::string& path, const std::shared_ptr<ByteSource>& bytes) {
  MovieInput input;
  AVFormatContext* raw = nullptr;
  if (bytes) {
    FW_ASSIGN_OR_RETURN(input.io, ByteSourceAvio::create(bytes));
    raw = avformat_alloc_context();
    if (!raw) return Status::internal("out of memory allocating a demuxer");
    raw->pb = input.io->context();
    raw->flags |= AVFMT_FLAG_CUSTOM_IO;
    raw->io_open = &refuseNestedOpen;
  }
  // On failure avformat_open_input frees `raw` (but not custom I/O, which `input` owns).
  int error = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (error < 0) {
    FW_RETURN_IF_ERROR(input.ioError());
    return Status::decodeError("cannot open as a movie: " + avErrorString(error));
  }
  input.format.reset(raw);
  error = avformat_find_stream_info(raw, nullptr);
  if (error < 0) {
    FW_RETURN_IF_ERROR(input.ioError());
    return Status::decodeError("cannot read the movie's streams: " + avErrorString(error));
  }
  // A read failure the demuxer took for the end of the file still means "could not read".
  FW_RETURN_IF_ERROR(input.ioError());
  for (unsigned i = 0; i < raw->nb_streams; ++i) {
    const AVStream* stream = raw->streams[i];
    if (stream->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
        !(stream->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
      input.stream_index = static_cast<int>(i);
      input.stream = raw->streams[i];
      break;
    }
  }
  if (input.stream_index < 0) return Status::decodeError("the file has no video stream");
  // Other streams are skipped by the demuxer instead of being read and thrown away.
  for (unsigned i = 0; i < raw->nb_streams; ++i) {
    if (static_cast<int>(i) != input.stream_index) raw->streams[i]->discard = AVDISCARD_ALL;
  }
  return input;
}

Result<UniqueAVCodecContext> openVideoDecoder(const AVStream* stream, int threads) {
  const AVCodec* codec = avcodec_find_decoder(stream->codecpar->codec_id);
  if (!codec) {
    return Status::decodeError(std::string("no decoder for codec ") +
                               avcodec_get_name(stream->codecpar->codec_id));
  }
  UniqueAVCodecContext context(avcodec_alloc_context3(codec));
  if (!context) return Status::internal("out of memory allocating a decoder");
  int error = avcodec_parameters_to_context(context.get(), stream->codecpar);
  if (error < 0) {
    return Status::decodeError("bad codec parameters: " + avErrorString(error));
  }
  // What the ffmpeg command line does too; some decoders derive timestamps from it.
  context->pkt_timebase = stream->time_base;
  context->thread_count = std::max(threads, 0);  // 0: FFmpeg's own choice (see the header)
  if (isIntraOnly(stream->codecpar->codec_id)) {
    context->thread_type = FF_THREAD_SLICE;
  } else {
    context->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  }
  error = avcodec_open2(context.get(), codec, nullptr);
  if (error < 0) {
    return Status::decodeError(std::string("cannot open the ") + codec->name +
                               " decoder: " + avErrorString(error));
  }
  return context;
}

}  // namespace framewire
