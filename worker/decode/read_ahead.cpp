#include "worker/decode/read_ahead.h"

#include <algorithm>
#include <limits>

extern "C" {
#include <libavutil/frame.h>
}

namespace framewire {
namespace {

// What a decoded frame pins: its buffers, whole.
uint64_t pinnedBytes(const AVFrame& frame) {
  uint64_t bytes = 0;
  for (const AVBufferRef* buffer : frame.buf) {
    if (buffer) bytes += buffer->size;
  }
  for (int i = 0; i < frame.nb_extended_buf; ++i) bytes += frame.extended_buf[i]->size;
  return bytes;
}

}  // namespace

ReadAhead::ReadAhead(int depth, uint64_t max_held_bytes, std::chrono::milliseconds held_for)
    : depth_(depth), max_held_bytes_(max_held_bytes), held_for_(held_for), thread_([this] { loop(); }) {}

ReadAhead::~ReadAhead() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    jobs_.clear();
  }
  wake_.notify_all();
  progress_.notify_all();
  thread_.join();
}

bool ReadAhead::continuesLocked(const Movie& movie, int64_t n) const {
  // Two steps forward make a forward reader (n-2, n-1, n): one step may be chance.
  const auto& recent = movie.recent;
  return depth_ > 0 && std::find(recent.begin(), recent.end(), n - 1) != recent.end() &&
         std::find(recent.begin(), recent.end(), n - 2) != recent.end();
}

bool ReadAhead::continues(const std::string& movie, int64_t n) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = movies_.find(movie);
  return found != movies_.end() && continuesLocked(found->second, n);
}

bool ReadAhead::served(const std::string& movie, int64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (movies_.size() >= kMaxMovies && movies_.find(movie) == movies_.end()) {
    // Forget the movie served longest ago that no job works for.
    auto oldest = movies_.end();
    for (auto it = movies_.begin(); it != movies_.end(); ++it) {
      if (it->second.job_waiting_or_running) continue;
      if (oldest == movies_.end() || it->second.last_served < oldest->second.last_served) oldest = it;
    }
    if (oldest != movies_.end()) {
      counters_.held_bytes -= oldest->second.held_bytes;
      movies_.erase(oldest);
    }
  }
  Movie& m = movies_[movie];
  const bool continuing = continuesLocked(m, n);
  auto& recent = m.recent;
  recent.erase(std::remove(recent.begin(), recent.end(), n), recent.end());
  recent.push_back(n);
  if (recent.size() > kRecentPerMovie) recent.pop_front();
  m.last_served = std::chrono::steady_clock::now();
  // Frames no reader of the movie will ask for any more: outside every recent reader's window.
  for (auto it = m.held.begin(); it != m.held.end();) {
    const int64_t f = it->first;
    const bool wanted = std::any_of(recent.begin(), recent.end(), [&](int64_t r) { return r < f && f <= r + depth_; });
    if (wanted) {
      ++it;
    } else {
      dropHeldLocked(&m, it++);
    }
  }
  return continuing;
}

int64_t ReadAhead::positionLocked(const Movie& movie) const {
  const int64_t last = movie.recent.back();
  // A job's position counts while it is inside the window; after a jump it is somewhere else.
  if (movie.decoded_up_to >= last && movie.decoded_up_to <= last + depth_) return movie.decoded_up_to;
  return last;
}

bool ReadAhead::jobWillDecodeLocked(const Movie& movie, int64_t n) const {
  if (!movie.job_waiting_or_running || movie.recent.empty()) return false;
  const int64_t last = movie.recent.back();
  if (n <= last || n > last + depth_) return false;
  return movie.decoding == n || n > positionLocked(movie);
}

UniqueAVFrame ReadAhead::take(const std::string& movie, int64_t n, std::chrono::milliseconds limit) {
  std::unique_lock<std::mutex> lock(mutex_);
  // Looked up afresh after each wait: served() may forget a movie no job works for.
  auto ready = [&] {
    auto found = movies_.find(movie);
    return stopping_ || found == movies_.end() || found->second.held.count(n) > 0 ||
           !jobWillDecodeLocked(found->second, n);
  };
  if (!ready()) {
    ++counters_.waits;
    if (!progress_.wait_for(lock, limit, ready)) ++counters_.waits_cut_short;
  }
  auto found = movies_.find(movie);
  if (found == movies_.end()) return nullptr;
  auto frame = found->second.held.find(n);
  if (frame == found->second.held.end()) return nullptr;
  UniqueAVFrame taken = dropHeldLocked(&found->second, frame);
  ++counters_.frames_taken;
  return taken;
}

void ReadAhead::submit(const std::string& movie, std::function<bool()> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Movie& m = movies_[movie];
    if (stopping_ || m.job_waiting_or_running) return;
    if (jobs_.size() >= kMaxWaitingJobs) {
      movies_[jobs_.front().movie].job_waiting_or_running = false;  // the newest guess is the better one
      jobs_.pop_front();
      ++counters_.jobs_dropped;
    }
    m.job_waiting_or_running = true;
    jobs_.push_back({movie, std::move(job)});
  }
  wake_.notify_one();
  progress_.notify_all();  // a dropped job may have been what a taker waited for
}

int64_t ReadAhead::nextToDecode(const std::string& movie, int64_t end, const std::function<bool(int64_t)>& present) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = movies_.find(movie);
  if (stopping_ || found == movies_.end() || found->second.recent.empty()) return -1;
  Movie& m = found->second;
  const int64_t last = m.recent.back();
  const int64_t stop = std::min(last + depth_, end - 1);
  for (int64_t f = positionLocked(m) + 1; f <= stop; ++f) {
    if (m.held.count(f) > 0 || present(f)) continue;
    // Held frames leave only as they are taken, passed or forgotten, never to make room: a
    // frame pushed out for another movie's would be decoded again, and push out another.
    if (counters_.held_bytes + m.frame_bytes > max_held_bytes_) return -1;
    m.decoding = f;
    return f;
  }
  return -1;
}

void ReadAhead::put(const std::string& movie, int64_t n, UniqueAVFrame frame) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Movie& m = movies_[movie];
    m.decoding = -1;
    m.decoded_up_to = n;
    ++counters_.frames_decoded;
    if (frame && !stopping_) {
      auto older = m.held.find(n);
      if (older != m.held.end()) dropHeldLocked(&m, older);
      m.frame_bytes = pinnedBytes(*frame);
      m.held_bytes += m.frame_bytes;
      counters_.held_bytes += m.frame_bytes;
      m.held[n] = std::move(frame);
    }
  }
  progress_.notify_all();
}

void ReadAhead::failed(const std::string& movie) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = movies_.find(movie);
    if (found != movies_.end()) found->second.decoding = -1;
  }
  progress_.notify_all();
}

UniqueAVFrame ReadAhead::dropHeldLocked(Movie* movie, std::map<int64_t, UniqueAVFrame>::iterator frame) {
  UniqueAVFrame dropped = std::move(frame->second);
  const uint64_t bytes = pinnedBytes(*dropped);
  movie->held_bytes -= bytes;
  counters_.held_bytes -= bytes;
  movie->held.erase(frame);
  return dropped;
}

void ReadAhead::dropStaleLocked() {
  const auto now = std::chrono::steady_clock::now();
  for (auto& [name, m] : movies_) {
    if (m.job_waiting_or_running || m.held.empty() || now - m.last_served < held_for_) continue;
    while (!m.held.empty()) dropHeldLocked(&m, m.held.begin());
    m.decoded_up_to = -1;  // should the reader come back, the next job decodes its window again
  }
}

bool ReadAhead::othersWaiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return !jobs_.empty();
}

void ReadAhead::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    // Wakes at least every held_for_ to let go of frames nobody came back for.
    wake_.wait_for(lock, held_for_, [this] { return stopping_ || !jobs_.empty(); });
    if (stopping_) return;
    dropStaleLocked();
    if (jobs_.empty()) continue;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    const bool again = job.run();  // never throws: the handler's job catches everything
    lock.lock();
    ++counters_.jobs_run;
    if (again && !stopping_) {
      jobs_.push_back(std::move(job));  // after the jobs it made way for
    } else {
      Movie& m = movies_[job.movie];
      m.job_waiting_or_running = false;
      m.decoding = -1;
      progress_.notify_all();
    }
  }
}

ReadAhead::Counters ReadAhead::counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counters_;
}

}  // namespace framewire
