// DecoderPool: the per-process LRU of open MovieReaders (demuxer + decoder sets).
//
// A reader is checked out by one thread at a time (a Lease) and comes back to the pool when
// the lease ends. Concurrent requests for one movie get separate readers. When several idle
// readers of the movie exist, the one that reaches the requested frame with the least
// decoding is chosen (one already positioned just before it beats one that must seek).
// An idle reader that stands inside a pass of an inter-coded movie (where a forward reader left
// it) is not sent off to seek for another frame while the movie has fewer than
// kMaxReadersPerMovie readers and the pool has room: a new reader is opened instead, so two
// clients reading one movie forward at different places each keep a positioned decoder.
// The pool holds at most `capacity` readers, idle or busy; least recently used idle readers
// are closed to make room. When every reader is busy a new one is still opened (a request
// never waits for another), and the surplus is closed as leases end.
// A reader whose movie file changed (its index is no longer the catalog's) is closed when met.
//
// Readers leaving the pool are closed on a background thread, never on a request's path.
//
// Thread-safety: checkout() and Lease destruction may happen concurrently from any threads.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/status.h"
#include "worker/index/movie_index.h"
#include "worker/decode/movie_reader.h"

namespace framewire {

class DecoderPool {
 public:
  using Opener = std::function<Result<std::unique_ptr<MovieReader>>(std::shared_ptr<const MovieIndex>)>;

  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();
    MovieReader* operator->() const { return reader_.get(); }
    MovieReader& operator*() const { return *reader_; }
    // Close the reader instead of returning it (its state is not to be trusted).
    void discard() { discard_ = true; }

   private:
    friend class DecoderPool;
    Lease(DecoderPool* pool, std::unique_ptr<MovieReader> reader);
    void release();
    DecoderPool* pool_ = nullptr;
    std::unique_ptr<MovieReader> reader_;
    bool discard_ = false;
  };

  // `capacity` (at least one) readers; `opener` opens a reader for an index.
  DecoderPool(size_t capacity, Opener opener);
  ~DecoderPool();

  // A reader of the movie `index` describes, the idle one best placed for `frame` if any.
  Result<Lease> checkout(const std::shared_ptr<const MovieIndex>& index, int64_t frame);

  size_t openReaders() const;  // idle + busy
  size_t idleReaders() const;

 private:
  void giveBack(std::unique_ptr<MovieReader> reader, bool discard);
  // Moves idle readers beyond capacity into `closing` (closed by the caller, unlocked).
  void trimLocked(std::list<std::unique_ptr<MovieReader>>* closing);

  static constexpr size_t kMaxReadersPerMovie = 3;

  void forgetBusyLocked(const MovieIndex* index);
  // Hands readers to the closer thread: closing a decoder joins its threads and frees its
  // frame pool (then the heap is trimmed), which no request should wait for.
  void closeReaders(std::list<std::unique_ptr<MovieReader>>* closing);
  void closerLoop();

  const size_t capacity_;
  const Opener opener_;
  mutable std::mutex mutex_;
  std::list<std::unique_ptr<MovieReader>> idle_;  // most recently used first
  size_t busy_ = 0;
  std::unordered_map<const MovieIndex*, size_t> busy_by_movie_;  // busy readers per movie

  std::mutex closer_mutex_;
  std::condition_variable closer_wake_;
  std::list<std::unique_ptr<MovieReader>> to_close_;
  bool stopping_ = false;
  std::thread closer_;  // last: started when everything above exists
};

}  // namespace framewire
