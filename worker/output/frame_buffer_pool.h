// FrameBufferPool: large buffers for converted frames (rgb24 and friends), reused.
//
// Why not malloc: a 1080p rgb24 frame is 6.2 MB. Fresh memory costs about 1,500 page faults,
// each zeroing a page: as long as the conversion itself. And glibc keeps freed multi-MB blocks
// in per-thread arenas (its mmap threshold grows with the blocks freed), so after one
// 100-frame batch a worker stayed ~600 MB larger for good. Buffers here come straight from
// mmap, 2 MiB aligned and marked for transparent huge pages (MADV_HUGEPAGE: 4 faults instead
// of 1,500 where the kernel allows it), go back to a free list when their last reference
// drops (the reply was sent, the frame cache let go), and are returned to the kernel beyond
// `max_idle_bytes` of idle buffers. A free list entry is reused for the same size (rounded up
// to whole pages): the frames of one output size.
//
// Buffers that outlive their reply (the frame cache keeps them) never come back while they are
// needed, so each new frame would pay for fresh pages again. A background thread therefore
// keeps a couple of buffers of the most recently missed size mapped and touched ahead of time
// (kReadyBuffers, within the idle bound): the page faults happen between requests, not in one.
//
// The process-wide pool (framePool()) is never destroyed: buffers may still be freed by
// ZeroMQ's threads while the process exits.
//
// Thread-safety: every method may be called from any thread; buffers may be freed anywhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

extern "C" {
#include <libavutil/buffer.h>
}

namespace framewire {

class FrameBufferPool {
 public:
  // `prefault`: keep buffers of the last missed size ready (a background thread).
  explicit FrameBufferPool(size_t max_idle_bytes, bool prefault = false);
  ~FrameBufferPool();
  FrameBufferPool(const FrameBufferPool&) = delete;
  FrameBufferPool& operator=(const FrameBufferPool&) = delete;

  // A buffer of at least `size` bytes (its AVBufferRef size is `size`); null when out of memory.
  AVBufferRef* allocate(size_t size);

  struct Counters {
    uint64_t allocated = 0;   // buffers handed out
    uint64_t reused = 0;      // of which came from the free list
    uint64_t idle_bytes = 0;  // kept for reuse now
    uint64_t live_bytes = 0;  // handed out and not yet freed
    uint64_t prefaulted = 0;  // buffers made ready ahead of time
  };
  Counters counters() const;

 private:
  static constexpr int kReadyBuffers = 2;

  static void release(void* opaque, uint8_t* data);
  void giveBack(uint8_t* data, size_t capacity);
  void fillLoop();

  const size_t max_idle_bytes_;
  mutable std::mutex mutex_;
  std::condition_variable wake_filler_;
  size_t ready_capacity_ = 0;  // size the filler keeps ready (0: none yet)
  uint64_t prefaulted_ = 0;
  std::thread filler_;
  std::map<size_t, std::vector<uint8_t*>> idle_;  // capacity -> buffers
  size_t idle_bytes_ = 0;
  size_t live_bytes_ = 0;
  uint64_t allocated_ = 0;
  uint64_t reused_ = 0;
};

// The pool converted frames come from: 256 MiB of idle buffers at most.
FrameBufferPool& framePool();

// Gives memory that glibc keeps in its arenas after frees back to the kernel (malloc_trim),
// at most once per second: called when decoders are closed, whose frame pools are the big
// frees left to malloc. (A fixed, low mmap threshold would do it on every free, but also
// makes swscale's per-call scratch buffers fault in afresh each time: measured 2x slower
// conversions.)
void releaseFreedHeapMemory();

}  // namespace framewire
