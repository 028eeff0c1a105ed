#include "client/cli/progress_bar.h"

#include <algorithm>

namespace framewire::cli {

ProgressBar::ProgressBar(FILE* out, bool enabled, uint64_t total, std::string unit)
    : out_(out), enabled_(enabled), total_(total), unit_(std::move(unit)),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

std::string ProgressBar::render(uint64_t done, uint64_t total, double seconds, const std::string& unit, int width) {
  const double fraction = total > 0 ? std::min(1.0, double(done) / double(total)) : 1.0;
  const int filled = static_cast<int>(fraction * width + 0.5);
  std::string text = "[" + std::string(size_t(filled), '#') + std::string(size_t(width - filled), '.') + "] ";
  char numbers[160];
  const double rate = seconds > 0 ? done / seconds : 0.0;
  std::snprintf(numbers, sizeof numbers, "%llu/%llu %s  %3.0f%%  %.1f %s/s", static_cast<unsigned long long>(done),
                static_cast<unsigned long long>(total), unit.c_str(), fraction * 100.0, rate, unit.c_str());
  text += numbers;
  if (rate > 0 && done < total) {
    std::snprintf(numbers, sizeof numbers, "  ETA %.0f s", double(total - done) / rate);
    text += numbers;
  }
  return text;
}

void ProgressBar::update(uint64_t done) {
  done_ = done;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw();
}

void ProgressBar::finish() {
  if (!enabled_) return;
  draw();
  std::fputc('\n', out_);
  std::fflush(out_);
}

void ProgressBar::draw() {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // \r, the bar, then erase whatever a longer previous line left behind.
  std::fprintf(out_, "\r%s\033[K", render(done_, total_, seconds, unit_).c_str());
  std::fflush(out_);
  drawn_ = true;
}

}  // namespace framewire::cli
