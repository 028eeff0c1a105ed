// JsonWriter: builds small JSON documents (what `framewire info` prints) without a library.
//
//   JsonWriter json;
//   json.beginObject().key("width").value(1920).key("codec").value("prores").endObject();
//   std::puts(json.str().c_str());
//
// Strings are escaped per RFC 8259; doubles print in their shortest round-trip form, and
// NaN or infinity (which JSON cannot carry) print as null. Output is indented (2 spaces per
// level) unless constructed with indent 0. Not thread-safe; one writer per document.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace framewire::cli {

class JsonWriter {
 public:
  explicit JsonWriter(int indent = 2) : indent_(indent) {}

  JsonWriter& beginObject();
  JsonWriter& endObject();
  JsonWriter& beginArray();
  JsonWriter& endArray();
  JsonWriter& key(std::string_view name);  // inside an object, before each value

  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(const std::string& text) { return value(std::string_view(text)); }
  JsonWriter& value(int64_t number);
  JsonWriter& value(uint64_t number);
  JsonWriter& value(int number) { return value(static_cast<int64_t>(number)); }
  JsonWriter& value(double number);
  JsonWriter& value(bool flag);
  JsonWriter& null();

  const std::string& str() const { return out_; }

 private:
  void beforeValue();
  void newline();
  void open(char bracket, bool is_object);
  void close(char bracket);

  struct Level {
    bool is_object;
    size_t members;
  };
  int indent_;
  std::string out_;
  std::vector<Level> levels_;
  bool after_key_ = false;
};

// `text` as a JSON string literal, quotes included.
std::string jsonQuote(std::string_view text);

}  // namespace framewire::cli
