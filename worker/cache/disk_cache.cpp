#include "worker/cache/disk_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/log.h"
#include "common/xxhash64.h"
#include "worker/cache/disk_cache_entry.h"

namespace fs = std::filesystem;

namespace framewire {
namespace {

constexpr const char* kLog = "disk-cache";
constexpr const char* kSuffix = ".fwf";
constexpr const char* kTempMarker = ".tmp.";
constexpr uint64_t kBlock = 4096;

uint64_t diskBytes(uint64_t file_bytes) { return (file_bytes + kBlock - 1) / kBlock * kBlock; }

std::string hex64(uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

bool isEntryName(const std::string& name) {
  if (name.size() != 32 + std::strlen(kSuffix)) return false;
  if (name.compare(32, std::string::npos, kSuffix) != 0) return false;
  return std::all_of(name.begin(), name.begin() + 32, [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// Writes all of [data, data + size) to `fd`; false on any error.
bool writeAll(int fd, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// A read-only mapping of a whole file, unmapped when the last owner goes.
std::shared_ptr<const void> mapFile(int fd, size_t size) {
  // MAP_POPULATE: one pass through the page cache now instead of a fault per page while the
  // checksum and then ZeroMQ read it.
  void* base = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (base == MAP_FAILED) return nullptr;
  return std::shared_ptr<const void>(base, [size](const void* p) { ::munmap(const_cast<void*>(p), size); });
}

}  // namespace

Result<std::unique_ptr<DiskCache>> DiskCache::open(DiskCacheOptions options) {
  if (options.dir.empty()) return Status::invalidArgument("the disk cache needs a folder");
  const std::string entries_dir = options.dir + "/frames-v" + std::to_string(kDiskEntryVersion);
  std::error_code error;
  fs::create_directories(entries_dir, error);
  if (error || !fs::is_directory(entries_dir)) {
    return Status::invalidArgument("cannot use " + entries_dir + " as the disk cache: " +
                                   (error ? error.message() : "not a folder"));
  }
  const std::string lock_path = entries_dir + "/.lock";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) return Status::invalidArgument("cannot open " + lock_path + ": " + std::strerror(errno));
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    ::close(lock_fd);
    if (e == EWOULDBLOCK) {
      return Status::invalidArgument("the disk cache " + options.dir +
                                     " is in use by another worker process; give each its own folder");
    }
    return Status::invalidArgument("cannot lock " + lock_path + ": " + std::strerror(e));
  }
  // Entries of other format versions are ours and can never be read again.
  for (const auto& item : fs::directory_iterator(options.dir, error)) {
    const std::string name = item.path().filename().string();
    if (name.rfind("frames-v", 0) == 0 && item.path() != fs::path(entries_dir) && item.is_directory()) {
      std::error_code ignored;
      fs::remove_all(item.path(), ignored);
    }
  }
  std::unique_ptr<DiskCache> cache(new DiskCache(std::move(options), entries_dir, lock_fd));
  cache->scan();
  cache->writer_ = std::thread([c = cache.get()] { c->writerLoop(); });
  return cache;
}

DiskCache::DiskCache(DiskCacheOptions options, std::string entries_dir, int lock_fd)
    : options_(std::move(options)), entries_dir_(std::move(entries_dir)), lock_fd_(lock_fd) {
  stats_.dir = entries_dir_;
  stats_.capacity_bytes = options_.capacity_bytes;
}

DiskCache::~DiskCache() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  queue_changed_.notify_all();
  if (writer_.joinable()) writer_.join();
  ::close(lock_fd_);  // releases the flock
}

std::string DiskCache::nameOf(const std::string& key) const {
  return hex64(xxhash64(key, 0)) + hex64(xxhash64(key, 1)) + kSuffix;
}

std::string DiskCache::pathOf(const std::string& name) const {
  return entries_dir_ + "/" + name.substr(0, 2) + "/" + name;
}

std::string DiskCache::entryPath(const std::string& key) const { return pathOf(nameOf(key)); }

void DiskCache::scan() {
  struct Found {
    fs::file_time_type mtime;
    std::string name;
    uint64_t bytes;
  };
  std::vector<Found> found;
  std::error_code error;
  for (const auto& sub : fs::directory_iterator(entries_dir_, error)) {
    if (!sub.is_directory()) continue;
    std::error_code sub_error;
    for (const auto& item : fs::directory_iterator(sub.path(), sub_error)) {
      const std::string name = item.path().filename().string();
      std::error_code ignored;
      if (name.find(kTempMarker) != std::string::npos) {
        fs::remove(item.path(), ignored);  // a write that never finished: only we write here
        continue;
      }
      if (!isEntryName(name) || !item.is_regular_file(ignored)) continue;
      const uint64_t size = item.file_size(ignored);
      const auto mtime = item.last_write_time(ignored);
      found.push_back({mtime, name, diskBytes(size)});
    }
  }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.mtime < b.mtime; });
  std::vector<std::string> victims;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Found& f : found) addLocked(f.name, f.bytes);  // oldest first: newest ends in front
    stats_.scanned_entries = found.size();
    victims = evictLocked();
  }
  unlinkAll(victims);
  FW_LOG(kInfo, kLog) << entries_dir_ << ": " << found.size() << " entries, " << stats().bytes
                      << " bytes (capacity " << options_.capacity_bytes << ")";
}

CachedFramePtr DiskCache::load(const std::string& key) {
  const std::string name = nameOf(key);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (index_.find(name) == index_.end()) {
      ++stats_.misses;
      return nullptr;
    }
  }
  const std::string path = pathOf(name);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat info;
  std::shared_ptr<const void> mapping;
  if (fd >= 0 && ::fstat(fd, &info) == 0 && info.st_size > 0) {
    mapping = mapFile(fd, static_cast<size_t>(info.st_size));
    // A hit refreshes the modification time: the LRU order that a restart's scan sees.
    if (mapping) ::futimens(fd, nullptr);
  }
  if (fd >= 0) ::close(fd);  // the mapping stays valid without the descriptor
  if (!mapping) {
    std::lock_guard<std::mutex> lock(mutex_);
    forgetLocked(name);  // gone or unreadable: forget it
    ++stats_.misses;
    return nullptr;
  }
  const auto* data = static_cast<const uint8_t*>(mapping.get());
  Result<CachedFramePtr> frame = decodeDiskEntry(key, mapping, data, static_cast<size_t>(info.st_size));
  std::lock_guard<std::mutex> lock(mutex_);
  if (!frame.ok()) {
    ++stats_.misses;
    if (frame.status().code() == StatusCode::kDecodeError) {
      ++stats_.damaged;
      FW_LOG(kWarn, kLog) << path << ": " << frame.status().message() << "; deleted";
      forgetLocked(name);
      ::unlink(path.c_str());
    }
    return nullptr;
  }
  ++stats_.hits;
  touchLocked(name);
  return std::move(frame).value();
}

void DiskCache::store(const std::string& key, CachedFramePtr frame) {
  if (!frame) return;
  uint64_t bytes = 4096;
  for (const PayloadPart& part : frame->image.parts) bytes += part.size;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || diskBytes(bytes) > options_.capacity_bytes ||
        pending_bytes_ + bytes > options_.max_pending_bytes) {
      ++stats_.dropped_writes;
      return;
    }
    pending_bytes_ += bytes;
    queue_.push_back(PendingWrite{key, std::move(frame), bytes});
    stats_.pending_writes = queue_.size();
  }
  queue_changed_.notify_all();
}

void DiskCache::flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  queue_changed_.wait(lock, [this] { return queue_.empty() && !writing_; });
}

DiskCacheStats DiskCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void DiskCache::writerLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    queue_changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything is written
    PendingWrite pending = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    lock.unlock();
    write(pending);
    const uint64_t bytes = pending.bytes;
    pending.frame.reset();  // release the pixels before taking the lock again
    lock.lock();
    pending_bytes_ -= bytes;
    writing_ = false;
    stats_.pending_writes = queue_.size();
    queue_changed_.notify_all();  // flush() waiters
  }
}

void DiskCache::write(const PendingWrite& pending) {
  const std::string name = nameOf(pending.key);
  const std::string final_path = pathOf(name);
  const std::string temp_path = final_path + kTempMarker + std::to_string(::getpid()) + "." +
                                std::to_string(temp_counter_.fetch_add(1));
  const EncodedDiskEntry entry = encodeDiskEntry(pending.key, *pending.frame);

  auto fail = [&](const char* what) {
    const int e = errno;
    ::unlink(temp_path.c_str());
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.write_errors;
    FW_LOG(kWarn, kLog) << "cannot " << what << " " << temp_path << ": " << std::strerror(e);
  };

  std::error_code ignored;
  fs::create_directories(fs::path(final_path).parent_path(), ignored);
  const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return fail("create");
  bool ok = writeAll(fd, entry.header.data(), entry.header.size());
  for (const PayloadPart& part : entry.payload) {
    if (!ok) break;
    ok = writeAll(fd, part.data, part.size);
  }
  if (::close(fd) != 0) ok = false;
  if (!ok) return fail("write");
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) return fail("rename");

  std::vector<std::string> victims;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    forgetLocked(name);  // replaced
    addLocked(name, diskBytes(entry.fileBytes()));
    ++stats_.writes;
    stats_.written_bytes += entry.fileBytes();
    victims = evictLocked();
  }
  unlinkAll(victims);
}

void DiskCache::touchLocked(const std::string& name) {
  auto found = index_.find(name);
  if (found != index_.end()) lru_.splice(lru_.begin(), lru_, found->second.lru);
}

void DiskCache::addLocked(const std::string& name, uint64_t bytes) {
  lru_.push_front(name);
  index_[name] = Indexed{bytes, lru_.begin()};
  stats_.bytes += bytes;
  stats_.entries = index_.size();
}

void DiskCache::forgetLocked(const std::string& name) {
  auto found = index_.find(name);
  if (found == index_.end()) return;
  stats_.bytes -= found->second.bytes;
  lru_.erase(found->second.lru);
  index_.erase(found);
  stats_.entries = index_.size();
}

std::vector<std::string> DiskCache::evictLocked() {
  std::vector<std::string> victims;
  while (stats_.bytes > options_.capacity_bytes && !lru_.empty()) {
    const std::string name = lru_.back();
    const uint64_t bytes = index_.at(name).bytes;
    forgetLocked(name);
    ++stats_.evictions;
    stats_.evicted_bytes += bytes;
    victims.push_back(name);
  }
  return victims;
}

void DiskCache::unlinkAll(const std::vector<std::string>& names) {
  for (const std::string& name : names) ::unlink(pathOf(name).c_str());
}

}  // namespace framewire
