#include "worker/decode/read_ahead.h"

#include <algorithm>

namespace framewire {

ReadAhead::ReadAhead(int depth) : depth_(depth), thread_([this] { loop(); }) {}

ReadAhead::~ReadAhead() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    jobs_.clear();
  }
  wake_.notify_all();
  job_done_.notify_all();
  thread_.join();
}

bool ReadAhead::servedAndContinues(const std::string& key, int64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (recent_.size() >= kMaxKeys && recent_.find(key) == recent_.end()) recent_.clear();
  std::deque<int64_t>& recent = recent_[key];
  // Two steps forward make a forward reader (n-2, n-1, n): one step may be chance.
  const bool continues = std::find(recent.begin(), recent.end(), n - 1) != recent.end() &&
                         std::find(recent.begin(), recent.end(), n - 2) != recent.end();
  recent.erase(std::remove(recent.begin(), recent.end(), n), recent.end());
  recent.push_back(n);
  if (recent.size() > kRecentPerKey) recent.pop_front();
  return continues && depth_ > 0;
}

std::vector<int64_t> ReadAhead::currentWindow(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<int64_t> window;
  auto found = recent_.find(key);
  if (found == recent_.end() || found->second.empty()) return window;
  const int64_t n = found->second.back();
  for (int64_t f = n + 1; f <= n + depth_; ++f) window.push_back(f);
  return window;
}

std::vector<int64_t> ReadAhead::refill(const std::vector<int64_t>& window,
                                       const std::function<bool(int64_t)>& held) {
  std::vector<int64_t> missing;
  for (const int64_t frame : window) {
    if (!held(frame)) missing.push_back(frame);
  }
  if (2 * (window.size() - missing.size()) >= window.size() && !window.empty()) missing.clear();
  return missing;
}

void ReadAhead::submit(const std::string& key, std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    if (jobs_.size() >= kMaxWaitingJobs) {
      jobs_.pop_front();  // the newest guess is the better one
      ++dropped_;
    }
    jobs_.push_back({key, std::move(job)});
  }
  wake_.notify_one();
  job_done_.notify_all();  // a dropped job may have been what a waiter waited for
}

bool ReadAhead::waitForJobAhead(const std::string& key, int64_t n, std::chrono::milliseconds limit) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto busy = [&] {
    return running_key_ == key ||
           std::any_of(jobs_.begin(), jobs_.end(), [&](const Job& job) { return job.key == key; });
  };
  auto found = recent_.find(key);
  if (found == recent_.end() || found->second.empty() || !busy()) return false;
  const int64_t last = found->second.back();
  if (n <= last || n > last + depth_) return false;
  ++waits_;
  if (!job_done_.wait_for(lock, limit, [&] { return !busy(); })) ++waits_cut_short_;
  return true;
}

void ReadAhead::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (stopping_) return;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    running_key_ = job.key;
    lock.unlock();
    job.run();  // never throws: the handler's request path catches everything
    job.run = nullptr;
    lock.lock();
    running_key_.clear();
    ++run_;
    job_done_.notify_all();
  }
}

uint64_t ReadAhead::jobsRun() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return run_;
}

uint64_t ReadAhead::waits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waits_;
}

uint64_t ReadAhead::waitsCutShort() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waits_cut_short_;
}

uint64_t ReadAhead::jobsDropped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return dropped_;
}

flatbuffers::DetachedBuffer framesRequest(const proto::Request& request, const std::vector<int64_t>& frames) {
  flatbuffers::FlatBufferBuilder builder(256 + 8 * frames.size());
  const auto movie = builder.CreateString(request.movie() ? request.movie()->str() : "");
  const auto frames_offset = builder.CreateVector(frames);
  const auto format = builder.CreateString(request.format() ? request.format()->str() : "");
  const auto encoding = builder.CreateString(request.encoding() ? request.encoding()->str() : "");
  proto::RequestBuilder copy(builder);
  copy.add_id(request.id());
  copy.add_kind(proto::RequestKind::FRAMES);
  copy.add_movie(movie);
  copy.add_frames(frames_offset);
  copy.add_format(format);
  copy.add_encoding(encoding);
  copy.add_quality(request.quality());
  if (request.crop()) copy.add_crop(request.crop());
  copy.add_width(request.width());
  copy.add_height(request.height());
  builder.Finish(copy.Finish());
  return builder.Release();
}

}  // namespace framewire
