#include "worker/decode/read_ahead.h"

#include <algorithm>

namespace framewire {

ReadAhead::ReadAhead() : thread_([this] { loop(); }) {}

ReadAhead::~ReadAhead() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    jobs_.clear();
  }
  wake_.notify_all();
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
  return continues;
}

void ReadAhead::submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    if (jobs_.size() >= kMaxWaitingJobs) {
      jobs_.pop_front();  // the newest guess is the better one
      ++dropped_;
    }
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void ReadAhead::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (stopping_) return;
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();  // never throws: the handler's request path catches everything
    job = nullptr;
    lock.lock();
    ++run_;
  }
}

uint64_t ReadAhead::jobsRun() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return run_;
}

uint64_t ReadAhead::jobsDropped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return dropped_;
}

std::shared_ptr<ReplyDelivery> ReplyDelivery::watch(WorkerReply* reply) {
  auto watch = std::make_shared<ReplyDelivery>();
  if (reply->payload.empty()) {
    watch->delivered();
    return watch;
  }
  // The token's deleter runs when the last copy of the part's owner goes: after the send.
  std::shared_ptr<const void> token(nullptr, [watch](const void*) { watch->delivered(); });
  PayloadPart& part = reply->payload.front();
  using Both = std::pair<std::shared_ptr<const void>, std::shared_ptr<const void>>;
  part.owner = std::make_shared<Both>(std::move(part.owner), std::move(token));
  return watch;
}

void ReplyDelivery::delivered() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    delivered_ = true;
  }
  wake_.notify_all();
}

bool ReplyDelivery::wait(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return wake_.wait_for(lock, timeout, [this] { return delivered_; });
}

flatbuffers::DetachedBuffer singleFrameRequest(const proto::Request& request, int64_t frame) {
  flatbuffers::FlatBufferBuilder builder(256);
  const auto movie = builder.CreateString(request.movie() ? request.movie()->str() : "");
  const std::vector<int64_t> frames{frame};
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
