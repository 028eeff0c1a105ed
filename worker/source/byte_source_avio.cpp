#include "worker/source/byte_source_avio.h"

#include <cstdio>

extern "C" {
#include <libavutil/error.h>
#include <libavutil/mem.h>
}

namespace framewire {

ByteSourceAvio::ByteSourceAvio(std::shared_ptr<ByteSource> source) : source_(std::move(source)) {}

Result<std::unique_ptr<ByteSourceAvio>> ByteSourceAvio::create(std::shared_ptr<ByteSource> source,
                                                               size_t buffer_size) {
  if (!source) return Status::internal("no byte source to read");
  std::unique_ptr<ByteSourceAvio> avio(new ByteSourceAvio(std::move(source)));
  auto* buffer = static_cast<unsigned char*>(av_malloc(buffer_size));
  if (!buffer) return Status::internal("out of memory allocating an I/O buffer");
  avio->context_ = avio_alloc_context(buffer, static_cast<int>(buffer_size), /*write_flag=*/0,
                                      avio.get(), &ByteSourceAvio::readPacket, nullptr,
                                      &ByteSourceAvio::seek);
  if (!avio->context_) {
    av_free(buffer);
    return Status::internal("out of memory allocating an I/O context");
  }
  avio->context_->seekable = AVIO_SEEKABLE_NORMAL;
  return avio;
}

ByteSourceAvio::~ByteSourceAvio() {
  if (context_) {
    // FFmpeg may have reallocated the buffer: free the one the context holds now.
    av_freep(&context_->buffer);
    avio_context_free(&context_);
  }
}

int ByteSourceAvio::readPacket(void* opaque, uint8_t* buffer, int size) {
  auto* self = static_cast<ByteSourceAvio*>(opaque);
  if (size <= 0) return 0;
  Result<size_t> got = self->source_->readAt(self->position_, buffer, size_t(size), self->run_);
  if (!got.ok()) {
    self->error_ = got.status();
    self->run_ = 0;
    return AVERROR(EIO);
  }
  if (*got == 0) return AVERROR_EOF;
  self->position_ += *got;
  self->run_ += *got;
  self->bytes_read_ += *got;
  return static_cast<int>(*got);
}

int64_t ByteSourceAvio::seek(void* opaque, int64_t offset, int whence) {
  auto* self = static_cast<ByteSourceAvio*>(opaque);
  const int64_t size = static_cast<int64_t>(self->source_->size());
  int64_t target;
  switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return size;
    case SEEK_SET: target = offset; break;
    case SEEK_CUR: target = static_cast<int64_t>(self->position_) + offset; break;
    case SEEK_END: target = size + offset; break;
    default: return AVERROR(EINVAL);
  }
  if (target < 0) return AVERROR(EINVAL);
  if (uint64_t(target) != self->position_) self->run_ = 0;
  self->position_ = uint64_t(target);
  return target;
}

}  // namespace framewire
