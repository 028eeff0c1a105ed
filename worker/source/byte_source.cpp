#include "worker/source/byte_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace framewire {

Result<std::shared_ptr<ByteSource>> openByteSource(const std::string& path,
                                                   const std::shared_ptr<ByteSource>& bytes) {
  if (bytes) return bytes;
  FW_ASSIGN_OR_RETURN(std::shared_ptr<LocalFileSource> file, LocalFileSource::open(path));
  return std::shared_ptr<ByteSource>(std::move(file));
}

Result<std::shared_ptr<LocalFileSource>> LocalFileSource::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) return Status::notFound("no file " + path);
    return Status::unavailable("cannot open " + path + ": " + std::strerror(error));
  }
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    return Status::unavailable("cannot stat " + path + ": " + std::strerror(error));
  }
  return std::shared_ptr<LocalFileSource>(new LocalFileSource(path, fd, uint64_t(info.st_size)));
}

LocalFileSource::LocalFileSource(std::string path, int fd, uint64_t size)
    : path_(std::move(path)), fd_(fd), size_(size) {}

LocalFileSource::~LocalFileSource() {
  if (fd_ >= 0) ::close(fd_);
}

Result<size_t> LocalFileSource::readAt(uint64_t offset, uint8_t* data, size_t size, uint64_t) {
  size_t done = 0;
  while (done < size) {
    const ssize_t got = ::pread(fd_, data + done, size - done, off_t(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return Status::unavailable("cannot read " + path_ + ": " + std::strerror(errno));
    }
    if (got == 0) break;  // end of file
    done += size_t(got);
  }
  return done;
}

}  // namespace framewire
