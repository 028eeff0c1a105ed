#include "worker/decode/decoder_pool.h"

#include "worker/output/frame_buffer_pool.h"

#include <algorithm>
#include <limits>

namespace framewire {

DecoderPool::Lease::Lease(DecoderPool* pool, std::unique_ptr<MovieReader> reader)
    : pool_(pool), reader_(std::move(reader)) {}

DecoderPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), reader_(std::move(other.reader_)), discard_(other.discard_) {
  other.pool_ = nullptr;
}

DecoderPool::Lease& DecoderPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    pool_ = other.pool_;
    reader_ = std::move(other.reader_);
    discard_ = other.discard_;
    other.pool_ = nullptr;
  }
  return *this;
}

DecoderPool::Lease::~Lease() { release(); }

void DecoderPool::Lease::release() {
  if (pool_) pool_->giveBack(std::move(reader_), discard_);
  pool_ = nullptr;
}

DecoderPool::DecoderPool(size_t capacity, Opener opener)
    : capacity_(std::max<size_t>(1, capacity)), opener_(std::move(opener)), closer_([this] { closerLoop(); }) {}

DecoderPool::~DecoderPool() {
  {
    std::lock_guard<std::mutex> lock(closer_mutex_);
    stopping_ = true;
  }
  closer_wake_.notify_all();
  closer_.join();
}

void DecoderPool::closerLoop() {
  std::unique_lock<std::mutex> lock(closer_mutex_);
  for (;;) {
    closer_wake_.wait(lock, [this] { return stopping_ || !to_close_.empty(); });
    if (to_close_.empty() && stopping_) return;
    std::list<std::unique_ptr<MovieReader>> closing;
    closing.swap(to_close_);
    lock.unlock();
    closing.clear();
    releaseFreedHeapMemory();  // their frame pools go back to the kernel, not to an arena
    lock.lock();
  }
}

size_t DecoderPool::openReaders() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return idle_.size() + busy_;
}

size_t DecoderPool::idleReaders() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return idle_.size();
}

void DecoderPool::forgetBusyLocked(const MovieIndex* index) {
  auto it = busy_by_movie_.find(index);
  if (it != busy_by_movie_.end() && --it->second == 0) busy_by_movie_.erase(it);
}

void DecoderPool::trimLocked(std::list<std::unique_ptr<MovieReader>>* closing) {
  while (!idle_.empty() && idle_.size() + busy_ > capacity_) {
    closing->splice(closing->end(), idle_, std::prev(idle_.end()));
  }
}

Result<DecoderPool::Lease> DecoderPool::checkout(const std::shared_ptr<const MovieIndex>& index,
                                                 int64_t frame) {
  // Readers are closed outside the lock: closing a decoder joins its threads.
  std::list<std::unique_ptr<MovieReader>> closing;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto best = idle_.end();
    int64_t best_cost = std::numeric_limits<int64_t>::max();
    for (auto it = idle_.begin(); it != idle_.end();) {
      const auto& reader_index = (*it)->index();
      if (reader_index == index) {
        const int64_t cost = (*it)->costToReach(frame);
        if (cost < best_cost) {
          best_cost = cost;
          best = it;
        }
        ++it;
      } else if (reader_index->path() == index->path()) {
        auto stale = it++;
        closing.splice(closing.end(), idle_, stale);  // the file changed since it was opened
      } else {
        ++it;
      }
    }
    // Interleaved readers: rather than send a reader that stands inside a pass somewhere
    // else (a forward reader's position) off to seek, open another one, while the movie has
    // few and the pool has room.
    size_t of_movie = busy_by_movie_[index.get()];
    for (const auto& reader : idle_) of_movie += reader->index() == index;
    const bool keep_position = best != idle_.end() && !(*best)->canContinueTo(frame) &&
                               (*best)->holdsPosition() && of_movie < kMaxReadersPerMovie &&
                               idle_.size() + busy_ < capacity_;
    if (best != idle_.end() && !keep_position) {
      std::unique_ptr<MovieReader> reader = std::move(*best);
      idle_.erase(best);
      ++busy_;
      ++busy_by_movie_[index.get()];
      return Lease(this, std::move(reader));
    }
    ++busy_;  // the slot of the reader about to be opened
    ++busy_by_movie_[index.get()];
    trimLocked(&closing);
  }
  closeReaders(&closing);
  Result<std::unique_ptr<MovieReader>> opened = opener_(index);
  if (!opened.ok()) {
    std::lock_guard<std::mutex> lock(mutex_);
    --busy_;
    forgetBusyLocked(index.get());
    return opened.status();
  }
  return Lease(this, std::move(opened).value());
}

void DecoderPool::giveBack(std::unique_ptr<MovieReader> reader, bool discard) {
  std::list<std::unique_ptr<MovieReader>> closing;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --busy_;
    if (reader) forgetBusyLocked(reader->index().get());
    if (reader && !discard) {
      idle_.push_front(std::move(reader));
    }
    trimLocked(&closing);
  }
  if (reader) closing.push_back(std::move(reader));  // a discarded reader
  closeReaders(&closing);
}

void DecoderPool::closeReaders(std::list<std::unique_ptr<MovieReader>>* closing) {
  if (closing->empty()) return;
  {
    std::lock_guard<std::mutex> lock(closer_mutex_);
    to_close_.splice(to_close_.end(), *closing);
  }
  closer_wake_.notify_one();
}

}  // namespace framewire
