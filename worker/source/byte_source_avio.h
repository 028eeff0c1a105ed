// ByteSourceAvio: an FFmpeg AVIOContext that reads a ByteSource, so a demuxer reads a remote
// movie (HTTP range requests, block cache) exactly as it reads a local file.
//
// It owns the AVIOContext and its buffer (freed in the destructor, RAII: FFmpeg may have
// replaced the buffer, so the context's current one is freed). The AVFormatContext that
// reads through it must be closed first: see MovieInput, which holds both in that order.
//
// Reads report how far the current sequential run goes (ByteSource's sequential_hint), so a
// block-fetching source reads ahead while a demuxer walks forward and not on random seeks.
// A read error reaches FFmpeg as AVERROR(EIO); lastError() keeps the ByteSource's Status
// (UNAVAILABLE / NOT_FOUND with the URL and the reason) so the caller can report it instead
// of FFmpeg's generic "I/O error".
//
// Thread-safety: none; one demuxer, one thread at a time (the ByteSource below may be shared).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/status.h"
#include "worker/source/byte_source.h"

extern "C" {
#include <libavformat/avio.h>
}

namespace framewire {

class ByteSourceAvio {
 public:
  // 64 KiB: FFmpeg reads headers through this buffer; large packet reads bypass it.
  static constexpr size_t kDefaultBufferSize = size_t(64) << 10;

  static Result<std::unique_ptr<ByteSourceAvio>> create(std::shared_ptr<ByteSource> source,
                                                        size_t buffer_size = kDefaultBufferSize);
  ~ByteSourceAvio();
  ByteSourceAvio(const ByteSourceAvio&) = delete;
  ByteSourceAvio& operator=(const ByteSourceAvio&) = delete;

  AVIOContext* context() const { return context_; }
  const std::shared_ptr<ByteSource>& source() const { return source_; }

  // The Status of the most recent failed read (OK when none failed yet).
  const Status& lastError() const { return error_; }
  bool failed() const { return !error_.isOk(); }
  // Bytes handed to FFmpeg so far (for tests and statistics).
  uint64_t bytesRead() const { return bytes_read_; }

 private:
  explicit ByteSourceAvio(std::shared_ptr<ByteSource> source);
  static int readPacket(void* opaque, uint8_t* buffer, int size);
  static int64_t seek(void* opaque, int64_t offset, int whence);

  std::shared_ptr<ByteSource> source_;
  AVIOContext* context_ = nullptr;
  uint64_t position_ = 0;  // where the next read starts
  uint64_t run_ = 0;       // bytes read in one sequential run ending at position_
  uint64_t bytes_read_ = 0;
  Status error_;
};

}  // namespace framewire
