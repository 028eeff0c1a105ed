// Opening a movie: its demuxer (with the video stream chosen) and a decoder for that stream.
//
// Shared by the index builder and the readers so both see exactly the same stream, with the
// same timestamps. The video stream is the first one that is video and not an attached
// picture (cover art): what `ffmpeg -map 0:v:0` decodes for ordinary movies.
//
// Threading of the decoder, and why:
// - Intra-only codecs (ProRes, MJPEG, ...) get slice threads only. Every request decodes one
//   packet per frame; slice threads spread that one frame over the cores, while frame threads
//   would hold output back until `threads` packets were queued (wasted work for random access).
// - Other codecs (H.264, HEVC, ...) get frame threads (with slice threads as fallback). Random
//   access there means decoding forward from a keyframe, often several frames, and sequential
//   requests continue the same pass: frame threads give nearly linear throughput for that,
//   whereas typical H.264 has one slice per frame so slice threads would give nothing. The
//   price is a pipeline of threads-1 frames: the reader keeps feeding packets until the
//   target comes out, and packets decoded past it serve the next forward request.
// - How many: by default FFmpeg's own choice, one thread per core plus one (fewer for small
//   pictures). Measured on 2 cores, in paired runs against one thread per core: a random 1080p
//   ProRes frame 0.6-0.9 ms (3%) sooner, a random 1080p H.264 frame (GOP 60) 4-6 ms sooner,
//   batches no slower; a fourth thread was slower again. Most likely the extra thread keeps
//   both cores busy while another thread (the socket thread, the broker) or the host holds one
//   for a moment; in-process PyAV, with none of those threads, gained nothing from it.
// Frame-threaded and slice-threaded decoding are bit-exact, so threading never changes pixels.
//
// Thread-safety: free functions; the returned objects belong to the caller (one thread at a time).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "worker/source/byte_source.h"
#include "worker/source/byte_source_avio.h"
#include "worker/decode/ffmpeg_handles.h"

namespace framewire {

struct MovieInput {
  UniqueAVFormatContext format;
  int stream_index = -1;
  AVStream* stream = nullptr;  // owned by `format`
  // The custom I/O the demuxer reads through when the movie came as a ByteSource (remote
  // movies); null when FFmpeg opened a local file itself. Declared after `format` so the
  // defaulted move assignment closes the old demuxer before freeing the I/O it read through;
  // the destructor closes the demuxer first for the same reason.
  std::unique_ptr<ByteSourceAvio> io;

  MovieInput() = default;
  MovieInput(MovieInput&&) = default;
  MovieInput& operator=(MovieInput&&) = default;
  ~MovieInput() { format.reset(); }

  // The I/O failure behind a failed demuxer call (UNAVAILABLE / NOT_FOUND naming the URL and
  // the reason), or OK when there is none (local files, or the failure was in the data).
  Status ioError() const { return io && io->failed() ? io->lastError() : Status::ok(); }
};

// avformat_open_input + avformat_find_stream_info, picks the video stream and tells the
// demuxer to skip every other stream. Not a movie, damaged, or no video stream: DECODE_ERROR.
Result<MovieInput> openMovieInput(const std::string& path);

// The same, reading through `bytes` (a ByteSource: remote movies) when it is not null; `path`
// then only names the movie (messages, format probing by extension). The demuxer may not open
// any other file or URL (no nested I/O: a playlist or reference inside a remote file cannot
// make the worker fetch elsewhere). I/O failures return the ByteSource's status.
Result<MovieInput> openMovieInput(const std::string& path, const std::shared_ptr<ByteSource>& bytes);

// A decoder for `stream`, opened with the threading described above. `threads` 0 means
// FFmpeg's own choice (one per core plus one).
Result<UniqueAVCodecContext> openVideoDecoder(const AVStream* stream, int threads);

// True when every frame of the codec is a keyframe (AV_CODEC_PROP_INTRA_ONLY).
bool isIntraOnly(AVCodecID codec);

// True when the demuxer's seek takes a keyframe's presentation timestamp: mov/mp4 (its seek
// subtracts the stream's composition shift from the target, so a keyframe's decode timestamp
// lands one keyframe early when B-frames delay presentation) and matroska (cues hold pts).
// Other demuxers seek by decode timestamp.
bool seeksByPresentationTime(const AVInputFormat* format);

// True when the decoder implements skip_frame = AVDISCARD_NONREF by dropping exactly the
// frames no other frame refers to: H.264 (nal_ref_idc == 0) and MPEG-1/2 (B-frames). Not
// HEVC: its "sub-layer non-reference" pictures may still be references of higher layers.
bool canSkipNonReferenceFrames(AVCodecID codec);

}  // namespace framewire
