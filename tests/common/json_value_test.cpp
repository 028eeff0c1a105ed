// JsonValue: parse what the writer writes, refuse what is not JSON.
#include "common/json_value.h"

#include <gtest/gtest.h>

namespace framewire {
namespace {

TEST(JsonValueTest, RoundTripsObjectsInOrder) {
  JsonValue doc = JsonValue::object();
  JsonValue memory = JsonValue::object();
  memory.set("hits", JsonValue(int64_t(12))).set("bytes", JsonValue(uint64_t(1) << 40));
  doc.set("worker", JsonValue("w-1 \"quoted\"\n")).set("memory", memory).set("ratio", JsonValue(0.25));
  doc.set("list", JsonValue::array().push(JsonValue(true)).push(JsonValue()));
  for (int indent : {0, 2}) {
    auto back = JsonValue::parse(doc.dump(indent));
    ASSERT_TRUE(back.ok()) << back.status().toString();
    EXPECT_EQ(back->dump(), doc.dump());
    EXPECT_EQ(back->members().front().first, "worker");
    EXPECT_EQ(back->get("memory")->get("bytes")->asInt(), int64_t(1) << 40);
    EXPECT_EQ(back->get("worker")->asString(), "w-1 \"quoted\"\n");
    EXPECT_DOUBLE_EQ(back->get("ratio")->asDouble(), 0.25);
  }
  EXPECT_EQ(JsonValue::object().set("a", JsonValue(1)).dump(), "{\"a\":1}");
}

TEST(JsonValueTest, ParsesEscapesAndNumbers) {
  auto v = JsonValue::parse(R"({"s":"a\u00e9\ud83d\ude00\t","n":-1.5e2,"i":-7,"z":0})");
  ASSERT_TRUE(v.ok()) << v.status().toString();
  EXPECT_EQ(v->get("s")->asString(), "a\xc3\xa9\xf0\x9f\x98\x80\t");
  EXPECT_EQ(v->get("n")->type(), JsonValue::Type::kDouble);
  EXPECT_DOUBLE_EQ(v->get("n")->asDouble(), -150.0);
  EXPECT_EQ(v->get("i")->asInt(), -7);
  EXPECT_EQ(v->get("missing"), nullptr);
}

TEST(JsonValueTest, RefusesWhatIsNotJson) {
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "{'a':1}", "01", "1 2", "\"\x01\"", "nul",
                          "{\"a\":1,}", "[\"\\x\"]"}) {
    EXPECT_FALSE(JsonValue::parse(bad).ok()) << bad;
  }
  std::string deep(100, '[');
  EXPECT_FALSE(JsonValue::parse(deep + std::string(100, ']')).ok());
}

}  // namespace
}  // namespace framewire
