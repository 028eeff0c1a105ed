// ProgressBar: "[#########.........] 120/600 frames  20%  48.2 frames/s  ETA 10 s" redrawn in
// place on a terminal (at most ten times a second), for long commands such as `framewire warm`.
// Not on a terminal it draws nothing: the command prints a plain summary instead.
// Not thread-safe; one thread drives it.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace framewire::cli {

class ProgressBar {
 public:
  // `enabled` false: every call is a no-op (standard error is not a terminal).
  ProgressBar(FILE* out, bool enabled, uint64_t total, std::string unit);
  void update(uint64_t done);
  // Draws the final state and ends the line.
  void finish();

  // The bar's text for `done` of `total` after `seconds` (no carriage return); for tests.
  static std::string render(uint64_t done, uint64_t total, double seconds, const std::string& unit, int width = 30);

 private:
  void draw();

  FILE* out_;
  bool enabled_;
  uint64_t total_;
  uint64_t done_ = 0;
  std::string unit_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
};

}  // namespace framewire::cli
