// ByteSource: random-access reads of one version of one movie's bytes, wherever they live.
//
// The demuxer (through ByteSourceAvio, worker/source/byte_source_avio.h) and anything else that reads
// a movie's bytes directly (a moov/sample-table parser, head/tail hashing) read through this
// interface, so they work the same for a local file and for a remote movie read with HTTP
// range requests (worker/source/remote/remote_file.h). A ByteSource stands for one version of the
// file (the FileSignature it was opened for): when the bytes underneath change, reads fail
// instead of mixing two versions.
//
// Errors are Status values: NOT_FOUND when the file is gone, UNAVAILABLE when it cannot be
// read now (the server is down, times out, or answers nonsense), with the file's name and the
// reason in the message.
//
// Thread-safety: implementations must allow concurrent readAt() calls from several threads
// (several readers of one movie share one ByteSource).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace framewire {

class ByteSource {
 public:
  virtual ~ByteSource() = default;

  // Reads up to `size` bytes at `offset` into `data`; fewer only at the end of the file
  // (0 at or past the end). `sequential_hint` is how many bytes the caller has just read
  // in one run ending at `offset` (0: a random read); sources that fetch in blocks use it to
  // read ahead.
  virtual Result<size_t> readAt(uint64_t offset, uint8_t* data, size_t size,
                                uint64_t sequential_hint = 0) = 0;

  // The file's size in bytes (of the version this source stands for).
  virtual uint64_t size() const = 0;

  // The file's name for messages and for FFmpeg's format probing: a path or a URL.
  virtual const std::string& name() const = 0;
};

// A local file read with pread(2). The file is opened once by the constructor function and
// stays open (so a later rename or unlink of the path does not change what is read).
class LocalFileSource final : public ByteSource {
 public:
  // NOT_FOUND when the file does not exist, UNAVAILABLE when it cannot be opened.
  static Result<std::shared_ptr<LocalFileSource>> open(const std::string& path);
  ~LocalFileSource() override;
  LocalFileSource(const LocalFileSource&) = delete;
  LocalFileSource& operator=(const LocalFileSource&) = delete;

  Result<size_t> readAt(uint64_t offset, uint8_t* data, size_t size,
                        uint64_t sequential_hint = 0) override;
  uint64_t size() const override { return size_; }
  const std::string& name() const override { return path_; }

 private:
  LocalFileSource(std::string path, int fd, uint64_t size);
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// `bytes` when it is set, else the local file at `path` (LocalFileSource): for code that reads a
// movie's bytes directly and must work for local and remote movies alike.
Result<std::shared_ptr<ByteSource>> openByteSource(const std::string& path,
                                                   const std::shared_ptr<ByteSource>& bytes);

}  // namespace framewire
