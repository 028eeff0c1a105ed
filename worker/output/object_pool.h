// ObjectPool<T>: a small free list of reusable objects that are costly to set up and not
// thread-safe themselves (FrameConverter with its cached swscale contexts).
//
// take() hands out an idle object or makes a new one; give() puts it back, keeping at most
// `max_idle`. Thread-safety: take() and give() may be called concurrently.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace framewire {

template <typename T>
class ObjectPool {
 public:
  ObjectPool(size_t max_idle, std::function<std::unique_ptr<T>()> make)
      : max_idle_(max_idle), make_(std::move(make)) {}

  std::unique_ptr<T> take() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        std::unique_ptr<T> object = std::move(idle_.back());
        idle_.pop_back();
        return object;
      }
    }
    return make_();
  }

  void give(std::unique_ptr<T> object) {
    if (!object) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (idle_.size() < max_idle_) idle_.push_back(std::move(object));
  }

 private:
  const size_t max_idle_;
  const std::function<std::unique_ptr<T>()> make_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<T>> idle_;
};

}  // namespace framewire
