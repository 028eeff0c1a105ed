#include "worker/index/movie_catalog.h"

#include <algorithm>
#include <chrono>
#include <exception>

namespace framewire {

MovieCatalog::MovieCatalog(size_t capacity, Builder builder)
    : capacity_(std::max<size_t>(1, capacity)),
      builder_(builder ? std::move(builder) : Builder([](const std::string& path, const FileSignature& signature) {
        return MovieIndex::build(path, signature);
      })) {}

size_t MovieCatalog::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

std::shared_ptr<const MovieIndex> MovieCatalog::peek(const std::string& path, const FileSignature& signature) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(path);
  if (it == entries_.end() || !(it->second.signature == signature)) return nullptr;
  const std::shared_future<IndexResult>& result = it->second.result;
  if (result.wait_for(std::chrono::seconds(0)) != std::future_status::ready || !result.get().ok()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return *result.get();
}

MovieCatalog::IndexResult MovieCatalog::get(const std::string& path, const FileSignature& signature) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto it = entries_.find(path);
  if (it != entries_.end() && it->second.signature == signature) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    std::shared_future<IndexResult> result = it->second.result;
    lock.unlock();
    return result.get();  // waits when another thread is still building it
  }
  if (it != entries_.end()) {  // the file changed: forget the old index
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }
  std::promise<IndexResult> promise;
  Entry entry;
  entry.signature = signature;
  entry.result = promise.get_future().share();
  entry.generation = next_generation_++;
  lru_.push_front(path);
  entry.lru = lru_.begin();
  const uint64_t generation = entry.generation;
  entries_.emplace(path, std::move(entry));
  lock.unlock();

  IndexResult result = Status::internal("index build did not run");
  try {
    result = builder_(path, signature);
  } catch (const std::exception& e) {
    result = Status::internal(std::string("indexing failed: ") + e.what());
  } catch (...) {
    result = Status::internal("indexing failed");
  }
  promise.set_value(result);

  lock.lock();
  it = entries_.find(path);
  if (!result.ok() && it != entries_.end() && it->second.generation == generation) {
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }
  // Evict least recently used entries. One still being built may go too: its waiters hold
  // their own copy of the future.
  while (entries_.size() > capacity_ && !lru_.empty()) {
    entries_.erase(lru_.back());
    lru_.pop_back();
  }
  return result;
}

}  // namespace framewire
