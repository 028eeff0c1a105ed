#include "worker/output/frame_buffer_pool.h"

#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <mutex>

namespace framewire {
namespace {

constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kPage = 4096;
constexpr size_t kMaxIdleBytes = size_t(256) << 20;

// Whole pages, and whole huge pages where that wastes at most an eighth of the buffer. The
// 2 MiB stretches of a buffer get huge pages and a partial one at its end ordinary pages: for
// a 1080p rgb24 frame (5.93 MiB) that is 2 faults + 496 instead of 3, and touching the buffer
// the first time took 2 ms instead of 0.6 on the development machine (each fault zeroes its
// page and, in a virtual machine, may exit to the host).
size_t roundUp(size_t size) {
  const size_t pages = (size + kPage - 1) / kPage * kPage;
  const size_t huge_pages = (size + kHugePage - 1) / kHugePage * kHugePage;
  return huge_pages - size <= size / 8 ? huge_pages : pages;
}

// `capacity` bytes (whole pages), 2 MiB aligned; null when out of memory.
uint8_t* mapAligned(size_t capacity) {
  const size_t span = capacity + kHugePage;
  void* raw = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto begin = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (begin + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > begin) ::munmap(raw, aligned - begin);
  const uintptr_t end = begin + span;
  if (end > aligned + capacity) ::munmap(reinterpret_cast<void*>(aligned + capacity), end - aligned - capacity);
  ::madvise(reinterpret_cast<void*>(aligned), capacity, MADV_HUGEPAGE);  // a hint; fine if refused
  return reinterpret_cast<uint8_t*>(aligned);
}

// What a buffer's free callback needs: its pool and how much was mapped.
struct BufferOrigin {
  FrameBufferPool* pool;
  size_t capacity;
};

}  // namespace

FrameBufferPool::FrameBufferPool(size_t max_idle_bytes, bool prefault) : max_idle_bytes_(max_idle_bytes) {
  if (prefault) filler_ = std::thread([this] { fillLoop(); });
}

FrameBufferPool::~FrameBufferPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ready_capacity_ = SIZE_MAX;  // tells the filler to stop
  }
  wake_filler_.notify_all();
  if (filler_.joinable()) filler_.join();
  for (auto& [capacity, buffers] : idle_) {
    for (uint8_t* data : buffers) ::munmap(data, capacity);
  }
}

AVBufferRef* FrameBufferPool::allocate(size_t size) {
  const size_t capacity = roundUp(std::max<size_t>(size, 1));
  uint8_t* data = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = idle_.find(capacity);
    if (it != idle_.end() && !it->second.empty()) {
      data = it->second.back();
      it->second.pop_back();
      idle_bytes_ -= capacity;
      ++reused_;
    }
  }
  if (!data) {
    data = mapAligned(capacity);
    if (filler_.joinable()) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (ready_capacity_ != SIZE_MAX) ready_capacity_ = capacity;
    }
  }
  if (filler_.joinable()) wake_filler_.notify_one();
  if (!data) return nullptr;
  auto* origin = new (std::nothrow) BufferOrigin{this, capacity};
  AVBufferRef* buffer = origin ? av_buffer_create(data, size, &FrameBufferPool::release, origin, 0) : nullptr;
  if (!buffer) {
    delete origin;
    giveBack(data, capacity);
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  live_bytes_ += capacity;
  ++allocated_;
  return buffer;
}

void FrameBufferPool::release(void* opaque, uint8_t* data) {
  auto* origin = static_cast<BufferOrigin*>(opaque);
  FrameBufferPool* pool = origin->pool;
  const size_t capacity = origin->capacity;
  delete origin;
  {
    std::lock_guard<std::mutex> lock(pool->mutex_);
    pool->live_bytes_ -= capacity;
  }
  pool->giveBack(data, capacity);
}

void FrameBufferPool::giveBack(uint8_t* data, size_t capacity) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (idle_bytes_ + capacity <= max_idle_bytes_) {
      idle_[capacity].push_back(data);
      idle_bytes_ += capacity;
      return;
    }
  }
  ::munmap(data, capacity);
}

void FrameBufferPool::fillLoop() {
  // Only when a core would otherwise idle: touching pages ahead must never slow a request.
  struct sched_param idle_param{};
  pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle_param);
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    auto idleOfReady = [this] {
      auto it = idle_.find(ready_capacity_);
      return it == idle_.end() ? size_t(0) : it->second.size();
    };
    wake_filler_.wait(lock, [&] {
      return ready_capacity_ == SIZE_MAX ||
             (ready_capacity_ > 0 && idleOfReady() < size_t(kReadyBuffers) &&
              idle_bytes_ + ready_capacity_ <= max_idle_bytes_);
    });
    if (ready_capacity_ == SIZE_MAX) return;
    const size_t capacity = ready_capacity_;
    lock.unlock();
    uint8_t* data = mapAligned(capacity);
    if (data) {
      for (size_t at = 0; at < capacity; at += kPage) data[at] = 0;  // fault every page in now
    }
    lock.lock();
    if (!data) continue;
    if (idle_bytes_ + capacity <= max_idle_bytes_ && capacity == ready_capacity_) {
      idle_[capacity].push_back(data);
      idle_bytes_ += capacity;
      ++prefaulted_;
    } else {
      lock.unlock();
      ::munmap(data, capacity);
      lock.lock();
    }
  }
}

FrameBufferPool::Counters FrameBufferPool::counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Counters c;
  c.allocated = allocated_;
  c.reused = reused_;
  c.idle_bytes = idle_bytes_;
  c.live_bytes = live_bytes_;
  c.prefaulted = prefaulted_;
  return c;
}

FrameBufferPool& framePool() {
  static FrameBufferPool* pool = new FrameBufferPool(kMaxIdleBytes, true);  // never destroyed: see header
  return *pool;
}

void releaseFreedHeapMemory() {
  static std::atomic<int64_t> last_ms{0};
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t last = last_ms.load();
  if (now - last < 1000 || !last_ms.compare_exchange_strong(last, now)) return;
  ::malloc_trim(0);
}

}  // namespace framewire
