#include "common/zero_copy.h"

#include <gtest/gtest.h>

#include <vector>

namespace framewire {
namespace {

TEST(ZeroCopy, MessagePointsIntoTheBufferAndReleasesItsOwner) {
  auto buffer = std::make_shared<std::vector<uint8_t>>(4096, 7);
  std::weak_ptr<std::vector<uint8_t>> watch = buffer;
  {
    zmq::message_t message = messageOverSharedBuffer(buffer, buffer->data() + 16, 1024);
    buffer.reset();
    EXPECT_FALSE(watch.expired());  // the message keeps it alive
    EXPECT_EQ(message.data<uint8_t>(), watch.lock()->data() + 16);
    EXPECT_EQ(message.size(), 1024u);
  }
  EXPECT_TRUE(watch.expired());
}

TEST(ZeroCopy, FlatBufferMessageKeepsTheBytes) {
  flatbuffers::FlatBufferBuilder builder;
  builder.Finish(builder.CreateString("hello"));
  const size_t size = builder.GetSize();
  zmq::message_t message = messageOverFlatBuffer(builder.Release());
  EXPECT_EQ(message.size(), size);
}

}  // namespace
}  // namespace framewire
