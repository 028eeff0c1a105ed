// Minimal thread-safe logging to stderr: one line per message, prefixed with time, level
// and component. FW_LOG(kInfo, "broker") << "worker " << id << " ready";
// The level threshold comes from FRAMEWIRE_LOG (debug, info, warn, error; default info).
#pragma once

#include <sstream>
#include <string>

namespace framewire {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

bool logEnabled(LogLevel level);
void logLine(LogLevel level, const char* component, const std::string& text);

// Collects one line and writes it when destroyed.
class LogLine {
 public:
  LogLine(LogLevel level, const char* component) : level_(level), component_(component) {}
  ~LogLine() { logLine(level_, component_, stream_.str()); }
  template <typename T>
  LogLine& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  LogLevel level_;
  const char* component_;
  std::ostringstream stream_;
};

}  // namespace framewire

#define FW_LOG(level, component)                                   \
  if (!::framewire::logEnabled(::framewire::LogLevel::level)) {    \
  } else                                                           \
    ::framewire::LogLine(::framewire::LogLevel::level, component)
