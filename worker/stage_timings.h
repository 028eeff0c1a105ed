// Per-stage time accounting for replies (the Timings struct of the wire header).
//
// StageTimer adds the time from its construction to its destruction (steady_clock,
// microseconds) to one counter. Plain values; not shared between threads.
#pragma once

#include <chrono>
#include <cstdint>

namespace framewire {

struct StageTimings {
  int64_t read_us = 0;     // opening, indexing, seeking and demuxing
  int64_t decode_us = 0;   // avcodec_send_packet / avcodec_receive_frame
  int64_t convert_us = 0;  // swscale, crop, resize
  int64_t encode_us = 0;   // png / jpeg / bmp

  StageTimings& operator+=(const StageTimings& other) {
    read_us += other.read_us;
    decode_us += other.decode_us;
    convert_us += other.convert_us;
    encode_us += other.encode_us;
    return *this;
  }
};

inline int64_t microsecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start)
      .count();
}

class StageTimer {
 public:
  explicit StageTimer(int64_t* counter)
      : counter_(counter), start_(std::chrono::steady_clock::now()) {}
  ~StageTimer() {
    if (counter_) *counter_ += microsecondsSince(start_);
  }
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

 private:
  int64_t* counter_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace framewire
