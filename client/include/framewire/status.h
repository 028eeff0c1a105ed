// Status and Result<T>: the error type of every fallible call on the data path.
//
// A Status is a code (the same codes the wire protocol carries, see proto/framewire.fbs)
// plus a human message. Result<T> holds either a value or a non-OK Status. Both are
// plain values: cheap to move, safe to use from any thread. No exceptions cross the
// data path; they are reserved for programming errors and startup configuration.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace framewire {

// Numbering matches proto::StatusCode (checked in common/protocol.cpp).
enum class StatusCode : int {
  kOk = 0,
  kNotFound = 1,
  kOutOfRange = 2,
  kInvalidArgument = 3,
  kForbidden = 4,
  kBusy = 5,
  kTimeout = 6,
  kDecodeError = 7,
  kUnavailable = 8,
  kInternal = 9,
};

// "OK", "NOT_FOUND", ...: the names used on the wire and in PROTOCOL.md.
const char* statusCodeName(StatusCode code);

class Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  static Status notFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status outOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
  static Status invalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status forbidden(std::string m) { return {StatusCode::kForbidden, std::move(m)}; }
  static Status busy(std::string m) { return {StatusCode::kBusy, std::move(m)}; }
  static Status timeout(std::string m) { return {StatusCode::kTimeout, std::move(m)}; }
  static Status decodeError(std::string m) { return {StatusCode::kDecodeError, std::move(m)}; }
  static Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool isOk() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return isOk(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NOT_FOUND: no movie a/b.mov under the roots"
  std::string toString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { assert(!status_.isOk()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Status& status() const { return status_; }

  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace framewire

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define FW_RETURN_IF_ERROR(expr)                     \
  do {                                               \
    ::framewire::Status fw_status_ = (expr);         \
    if (!fw_status_.isOk()) return fw_status_;       \
  } while (0)

#define FW_CONCAT_INNER(a, b) a##b
#define FW_CONCAT(a, b) FW_CONCAT_INNER(a, b)
// FW_ASSIGN_OR_RETURN(auto x, makeX()): binds the value or returns the error Status.
#define FW_ASSIGN_OR_RETURN(decl, expr)                                   \
  auto FW_CONCAT(fw_result_, __LINE__) = (expr);                          \
  if (!FW_CONCAT(fw_result_, __LINE__).ok())                              \
    return FW_CONCAT(fw_result_, __LINE__).status();                      \
  decl = std::move(FW_CONCAT(fw_result_, __LINE__)).value()
