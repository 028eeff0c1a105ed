#include "client/cli/json_writer.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "common/json_value.h"

namespace framewire::cli {

std::string jsonQuote(std::string_view text) {
  std::string out;
  appendJsonString(out, text);
  return out;
}

void JsonWriter::newline() {
  if (indent_ <= 0) return;
  out_ += '\n';
  out_.append(levels_.size() * static_cast<size_t>(indent_), ' ');
}

void JsonWriter::beforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (levels_.empty()) return;
  Level& level = levels_.back();
  if (level.members++ > 0) out_ += ',';
  newline();
}

void JsonWriter::open(char bracket, bool is_object) {
  beforeValue();
  out_ += bracket;
  levels_.push_back({is_object, 0});
}

void JsonWriter::close(char bracket) {
  if (levels_.empty()) return;
  const bool had_members = levels_.back().members > 0;
  levels_.pop_back();
  if (had_members) newline();
  out_ += bracket;
}

JsonWriter& JsonWriter::beginObject() {
  open('{', true);
  return *this;
}
JsonWriter& JsonWriter::endObject() {
  close('}');
  return *this;
}
JsonWriter& JsonWriter::beginArray() {
  open('[', false);
  return *this;
}
JsonWriter& JsonWriter::endArray() {
  close(']');
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  beforeValue();
  out_ += jsonQuote(name);
  out_ += indent_ > 0 ? ": " : ":";
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view text) {
  beforeValue();
  out_ += jsonQuote(text);
  return *this;
}

JsonWriter& JsonWriter::value(int64_t number) {
  beforeValue();
  out_ += std::to_string(number);
  return *this;
}

JsonWriter& JsonWriter::value(uint64_t number) {
  beforeValue();
  out_ += std::to_string(number);
  return *this;
}

JsonWriter& JsonWriter::value(double number) {
  if (!std::isfinite(number)) return null();
  beforeValue();
  char text[32];
  const auto result = std::to_chars(text, text + sizeof text, number);
  out_.append(text, result.ptr);
  return *this;
}

JsonWriter& JsonWriter::value(bool flag) {
  beforeValue();
  out_ += flag ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  beforeValue();
  out_ += "null";
  return *this;
}

}  // namespace framewire::cli
