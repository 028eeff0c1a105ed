#include "worker/shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <utility>

namespace framewire {
namespace {

constexpr char kMagic[16] = {'f', 'r', 'a', 'm', 'e', 'w', 'i', 'r', 'e', '-', 's', 'h', 'm', '-', '1', '\0'};
constexpr size_t kTokenDigits = 32;
constexpr uint64_t kPageBytes = 4096;
constexpr uint64_t kMaxSegmentBytes = uint64_t(1) << 40;
// What /proc/PID/fd/FD of a memfd made by memfd_create("framewire-...") reads as.
constexpr const char* kMemfdLinkPrefix = "/memfd:framewire-";

bool allDigits(const std::string& text, size_t begin, size_t end) {
  if (begin >= end || end - begin > 10) return false;
  for (size_t i = begin; i < end; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

// "/proc/PID/fd/FD" and nothing else: a client may only point at one of its own descriptors.
bool isProcFdPath(const std::string& path) {
  const std::string proc = "/proc/";
  if (path.compare(0, proc.size(), proc) != 0) return false;
  const size_t fd = path.find("/fd/", proc.size());
  return fd != std::string::npos && allDigits(path, proc.size(), fd) && allDigits(path, fd + 4, path.size());
}

bool isToken(const std::string& token) {
  return token.size() == kTokenDigits &&
         std::all_of(token.begin(), token.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::string errnoText(const std::string& what) { return what + ": " + std::strerror(errno); }

// Closes a descriptor when the check that opened it returns, whichever way.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { ::close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

uint64_t alignUp(uint64_t value, uint64_t alignment) { return (value + alignment - 1) / alignment * alignment; }

}  // namespace

// ---- SharedSegment ------------------------------------------------------------------------

Result<std::shared_ptr<SharedSegment>> SharedSegment::open(const std::string& path, const std::string& token,
                                                            uint64_t size) {
  if (!isProcFdPath(path)) return Status::invalidArgument("the path is not /proc/PID/fd/FD");
  if (!isToken(token)) return Status::invalidArgument("the token is not 32 hex digits");
  if (size < 2 * kPageBytes || size % kPageBytes != 0 || size > kMaxSegmentBytes) {
    return Status::invalidArgument("the size is not a multiple of 4096 between 8 KiB and 1 TiB");
  }
  // Only a memfd the client named framewire-...: never a file, a pipe or a device it points at.
  char link[256] = {};
  const ssize_t length = ::readlink(path.c_str(), link, sizeof(link) - 1);
  if (length < 0) return Status::notFound(errnoText("cannot read the link " + path));
  if (std::strncmp(link, kMemfdLinkPrefix, std::strlen(kMemfdLinkPrefix)) != 0) {
    return Status::invalidArgument("not a framewire memfd: " + std::string(link, static_cast<size_t>(length)));
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return Status::forbidden(errnoText("cannot open " + path));
  FdCloser closer(fd);
  struct stat info {};
  if (::fstat(fd, &info) != 0) return Status::internal(errnoText("fstat"));
  if (!S_ISREG(info.st_mode)) return Status::invalidArgument("not a regular file");
  if (static_cast<uint64_t>(info.st_size) != size) return Status::invalidArgument("its size is not the one offered");
  // A segment the client could shrink would make a write past its new end kill this worker.
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0 || !(seals & F_SEAL_SHRINK)) return Status::invalidArgument("not sealed against shrinking");
  char header[sizeof(kMagic) + kTokenDigits];
  if (::pread(fd, header, sizeof(header), 0) != static_cast<ssize_t>(sizeof(header)) ||
      std::memcmp(header, kMagic, sizeof(kMagic)) != 0 ||
      std::memcmp(header + sizeof(kMagic), token.data(), kTokenDigits) != 0) {
    return Status::invalidArgument("its header does not hold the token");
  }
  void* mapped = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mapped == MAP_FAILED) return Status::internal(errnoText("mmap"));
  return std::shared_ptr<SharedSegment>(
      new SharedSegment(static_cast<uint8_t*>(mapped), size, info.st_dev, info.st_ino));
}

SharedSegment::~SharedSegment() { ::munmap(data_, size_); }

bool SharedSegment::stillAt(const std::string& path) const {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && info.st_dev == device_ && info.st_ino == inode_;
}

// ---- SharedPlacement ----------------------------------------------------------------------

SharedPlacement::SharedPlacement(std::shared_ptr<SharedSegment> segment, std::vector<Extent> extents)
    : segment_(std::move(segment)), room_(std::move(extents)) {}

std::vector<proto::SharedPart> SharedPlacement::assign(const std::vector<uint64_t>& sizes, uint64_t slack) {
  std::vector<proto::SharedPart> places(sizes.size(), proto::SharedPart(0, 0));
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == 0) continue;
    const uint64_t taken = sizes[i] + slack;
    for (Extent& room : room_) {
      const uint64_t begin = alignUp(room.offset, SharedSegment::kPartAlignment);
      if (begin < room.offset + room.length && room.offset + room.length - begin >= taken) {
        places[i] = proto::SharedPart(begin, sizes[i]);
        room.length -= begin + taken - room.offset;
        room.offset = begin + taken;
        break;
      }
    }
  }
  return places;
}

std::vector<proto::SharedPart> SharedPlacement::place(size_t frame, const std::vector<PayloadPart>& parts) {
  std::vector<proto::SharedPart> places(parts.size(), proto::SharedPart(0, 0));
  if (!segment_) return places;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto known = placed_.find(frame);
    if (known == placed_.end()) {
      std::vector<uint64_t> sizes;
      for (const PayloadPart& part : parts) sizes.push_back(part.size);
      known = placed_.emplace(frame, Placed{assign(sizes)}).first;
    }
    Placed& placed = known->second;
    bool fits = placed.places.size() == parts.size();
    for (size_t i = 0; fits && i < parts.size(); ++i) {
      fits = placed.places[i].size() == 0 || placed.places[i].size() == parts[i].size;
    }
    if (!fits) return places;  // reserved for another size: this frame goes in the message
    if (placed.written) return placed.places;
    markWrittenLocked(&placed);
    places = placed.places;
  }
  // The copies, outside the lock: each part has its own bytes, and another frame's copy may run.
  for (size_t i = 0; i < parts.size(); ++i) {
    if (places[i].size() != 0) std::memcpy(segment_->data() + places[i].offset(), parts[i].data, parts[i].size);
  }
  return places;
}

void SharedPlacement::reserve(size_t frame, uint64_t size, uint64_t slack) {
  if (!segment_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (placed_.count(frame) == 0) placed_.emplace(frame, Placed{assign({size}, slack)});
}

uint8_t* SharedPlacement::reservedFor(size_t frame, uint64_t size) const {
  if (!segment_) return nullptr;
  std::lock_guard<std::mutex> lock(mutex_);
  auto known = placed_.find(frame);
  if (known == placed_.end() || known->second.written || known->second.places.size() != 1) return nullptr;
  const proto::SharedPart& place = known->second.places[0];
  return place.size() != 0 && place.size() == size ? segment_->data() + place.offset() : nullptr;
}

void SharedPlacement::writtenInPlace(size_t frame) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto known = placed_.find(frame);
  if (known == placed_.end() || known->second.written) return;
  parts_written_in_place_ += markWrittenLocked(&known->second);
}

uint64_t SharedPlacement::markWrittenLocked(Placed* placed) {
  placed->written = true;
  uint64_t parts = 0;
  for (const proto::SharedPart& place : placed->places) {
    if (place.size() == 0) continue;
    ++parts;
    bytes_placed_ += place.size();
  }
  parts_placed_ += parts;
  return parts;
}

uint64_t SharedPlacement::partsPlaced() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return parts_placed_;
}

uint64_t SharedPlacement::bytesPlaced() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_placed_;
}

uint64_t SharedPlacement::partsWrittenInPlace() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return parts_written_in_place_;
}

// ---- SharedSegments -----------------------------------------------------------------------

SharedSegments::SharedSegments(size_t max_segments, std::chrono::seconds max_idle)
    : max_segments_(std::max<size_t>(max_segments, 1)), max_idle_(max_idle) {}

std::shared_ptr<SharedPlacement> SharedSegments::placementFor(const proto::Request& request) {
  const proto::SharedMemory* offer = request.shared_memory();
  if (!offer || !offer->free() || offer->free()->size() == 0) return std::make_shared<SharedPlacement>();
  const std::string path = offer->path() ? offer->path()->str() : "";
  const std::string token = offer->token() ? offer->token()->str() : "";
  if (offer->free()->size() > SharedSegment::kMaxExtents) {
    refuse("more than " + std::to_string(SharedSegment::kMaxExtents) + " extents");
    return std::make_shared<SharedPlacement>();
  }
  std::vector<SharedPlacement::Extent> extents;
  for (const proto::Extent* extent : *offer->free()) {
    const uint64_t offset = extent->offset();
    const uint64_t length = extent->length();
    // Inside the segment, after its header (written so that no sum can overflow).
    if (offset < SharedSegment::kHeaderBytes || offset > offer->size() || length > offer->size() - offset) {
      refuse("an extent lies outside the segment or over its header");
      return std::make_shared<SharedPlacement>();
    }
    extents.push_back({offset, length});
  }
  auto segment = segmentFor(path, token, offer->size());
  if (!segment.ok()) {
    refuse(path + ": " + segment.status().message());
    return std::make_shared<SharedPlacement>();
  }
  return std::make_shared<SharedPlacement>(std::move(segment).value(), std::move(extents));
}

Result<std::shared_ptr<SharedSegment>> SharedSegments::segmentFor(const std::string& path, const std::string& token,
                                                                  uint64_t size) {
  const std::string key = path + "\n" + token;
  const Clock::time_point now = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Let go of segments their clients stopped using (a closed client's memory is freed only
    // once no process maps it).
    entries_.remove_if([&](const Entry& entry) { return now - entry.last_used > max_idle_; });
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->key != key) continue;
      if (it->segment->size() == size && it->segment->stillAt(path)) {
        it->last_used = now;
        entries_.splice(entries_.begin(), entries_, it);
        return it->segment;
      }
      entries_.erase(it);  // the descriptor now names another file: open it afresh
      break;
    }
  }
  FW_ASSIGN_OR_RETURN(std::shared_ptr<SharedSegment> segment, SharedSegment::open(path, token, size));
  std::lock_guard<std::mutex> lock(mutex_);
  ++counters_.opened;
  entries_.push_front({key, segment, now});
  while (entries_.size() > max_segments_) entries_.pop_back();
  return segment;
}

void SharedSegments::refuse(const std::string& why) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++counters_.refused;
  counters_.last_refusal = why;
}

void SharedSegments::account(const SharedPlacement& placement) {
  if (!placement.active()) return;
  const uint64_t parts = placement.partsPlaced();
  const uint64_t bytes = placement.bytesPlaced();
  const uint64_t in_place = placement.partsWrittenInPlace();
  std::lock_guard<std::mutex> lock(mutex_);
  counters_.parts_placed += parts;
  counters_.bytes_placed += bytes;
  counters_.parts_written_in_place += in_place;
}

SharedSegments::Counters SharedSegments::counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counters_;
}

size_t SharedSegments::mapped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

}  // namespace framewire
