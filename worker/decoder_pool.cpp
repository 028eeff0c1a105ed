#include "worker/decoder_pool.h"

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
    : capacity_(std::max<size_t>(1, capacity)), opener_(std::move(opener)) {}

DecoderPool::~DecoderPool() = default;

size_t DecoderPool::openReaders() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return idle_.size() + busy_;
}

size_t DecoderPool::idleReaders() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return idle_.size();
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
    if (best != idle_.end()) {
      std::unique_ptr<MovieReader> reader = std::move(*best);
      idle_.erase(best);
      ++busy_;
      return Lease(this, std::move(reader));
    }
    ++busy_;  // the slot of the reader about to be opened
    trimLocked(&closing);
  }
  closing.clear();
  Result<std::unique_ptr<MovieReader>> opened = opener_(index);
  if (!opened.ok()) {
    std::lock_guard<std::mutex> lock(mutex_);
    --busy_;
    return opened.status();
  }
  return Lease(this, std::move(opened).value());
}

void DecoderPool::giveBack(std::unique_ptr<MovieReader> reader, bool discard) {
  std::list<std::unique_ptr<MovieReader>> closing;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --busy_;
    if (reader && !discard) {
      idle_.push_front(std::move(reader));
    }
    trimLocked(&closing);
  }
  reader.reset();
  closing.clear();
}

}  // namespace framewire
