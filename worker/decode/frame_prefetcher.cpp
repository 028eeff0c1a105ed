#include "worker/decode/frame_prefetcher.h"

#include <algorithm>

namespace framewire {

FramePrefetcher::FramePrefetcher(MovieReader* reader, std::vector<int64_t> planned)
    : reader_(reader), planned_(std::move(planned)) {
  // A single frame has nothing to overlap with: no helper thread at all.
  if (planned_.size() > 1) helper_ = std::thread([this] { helperLoop(); });
}

FramePrefetcher::~FramePrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (helper_.joinable()) helper_.join();
}

void FramePrefetcher::helperLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || job_ >= 0; });
    if (stopping_) return;
    const int64_t n = job_;
    job_ = -1;
    lock.unlock();
    StageTimings timings;
    Result<UniqueAVFrame> frame = reader_->readFrame(n, &timings);
    lock.lock();
    done_ = std::move(frame);
    done_frame_ = n;
    done_timings_ = timings;
    busy_ = false;
    wake_.notify_all();
  }
}

void FramePrefetcher::waitIdle(std::unique_lock<std::mutex>& lock) {
  wake_.wait(lock, [this] { return !busy_; });
}

void FramePrefetcher::startAhead(int64_t n) {
  auto next = std::upper_bound(planned_.begin(), planned_.end(), n);
  if (!helper_.joinable() || next == planned_.end()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  busy_ = true;
  job_ = *next;
  wake_.notify_all();
}

Result<UniqueAVFrame> FramePrefetcher::read(int64_t n, StageTimings* timings) {
  Result<UniqueAVFrame> frame = Status::internal("frame not decoded");
  {
    std::unique_lock<std::mutex> lock(mutex_);
    waitIdle(lock);
    if (done_frame_ == n) {
      frame = std::move(done_);
      *timings += done_timings_;
      ++ahead_hits_;
    } else {
      lock.unlock();
      frame = reader_->readFrame(n, timings);
    }
    done_frame_ = -1;
    done_ = Status::internal("nothing decoded ahead");
  }
  // Only a reader in a good state decodes on; after an error the caller gives up the reader.
  if (frame.ok()) startAhead(n);
  return frame;
}

}  // namespace framewire
