// JsonValue: a small JSON document model with a strict parser and a writer, for the STATS
// replies (a worker writes its statistics, the broker parses each worker's and merges them).
//
//   JsonValue stats = JsonValue::object();
//   stats.set("hits", JsonValue(int64_t(12))).set("dir", JsonValue("/var/cache"));
//   std::string text = stats.dump(2);
//   Result<JsonValue> back = JsonValue::parse(text);
//
// Objects keep their members in insertion order (and set() replaces a member in place), so
// output is stable and readable. Integers are kept exactly as int64; other numbers as double.
// The parser accepts RFC 8259 JSON (nesting limited to 64 levels) and nothing else; the writer
// escapes strings and writes NaN and infinity, which JSON cannot carry, as null.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace framewire {

class JsonValue {
 public:
  enum class Type { kNull, kBool, kInt, kDouble, kString, kArray, kObject };

  JsonValue() = default;  // null
  explicit JsonValue(bool b) : type_(Type::kBool), bool_(b) {}
  explicit JsonValue(int64_t i) : type_(Type::kInt), int_(i) {}
  explicit JsonValue(uint64_t u) : type_(Type::kInt), int_(static_cast<int64_t>(u)) {}
  explicit JsonValue(int i) : type_(Type::kInt), int_(i) {}
  explicit JsonValue(double d) : type_(Type::kDouble), double_(d) {}
  explicit JsonValue(std::string s) : type_(Type::kString), string_(std::move(s)) {}
  explicit JsonValue(const char* s) : type_(Type::kString), string_(s) {}
  static JsonValue object() { JsonValue v; v.type_ = Type::kObject; return v; }
  static JsonValue array() { JsonValue v; v.type_ = Type::kArray; return v; }

  static Result<JsonValue> parse(std::string_view text);
  // Indent 0: one line; otherwise that many spaces per level.
  std::string dump(int indent = 0) const;

  Type type() const { return type_; }
  bool isNumber() const { return type_ == Type::kInt || type_ == Type::kDouble; }
  bool isObject() const { return type_ == Type::kObject; }
  bool isArray() const { return type_ == Type::kArray; }
  bool isString() const { return type_ == Type::kString; }

  bool asBool() const { return bool_; }
  int64_t asInt() const { return type_ == Type::kDouble ? static_cast<int64_t>(double_) : int_; }
  double asDouble() const { return type_ == Type::kInt ? static_cast<double>(int_) : double_; }
  const std::string& asString() const { return string_; }

  // Objects: members in order; get() is null when absent; set() adds or replaces.
  const std::vector<std::pair<std::string, JsonValue>>& members() const { return members_; }
  const JsonValue* get(std::string_view name) const;
  JsonValue& set(std::string name, JsonValue value);
  // Arrays.
  const std::vector<JsonValue>& items() const { return items_; }
  JsonValue& push(JsonValue value);

 private:
  void write(std::string& out, int indent, int depth) const;

  Type type_ = Type::kNull;
  bool bool_ = false;
  int64_t int_ = 0;
  double double_ = 0;
  std::string string_;
  std::vector<JsonValue> items_;
  std::vector<std::pair<std::string, JsonValue>> members_;
};

// Appends `text` as a JSON string literal, quotes included (RFC 8259 escapes; UTF-8 passes
// through unchanged).
void appendJsonString(std::string& out, std::string_view text);

}  // namespace framewire
