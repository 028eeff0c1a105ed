// Shared pieces of the integration tests: a fixture that starts a TestServer for each test
// (and prints the server logs when the test fails), and the ffmpeg oracles for the test movies.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "framewire/client.h"
#include "tests/integration/test_server.h"

namespace framewire::testing {

class IntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A DEALER client of the server with a generous timeout and no retries.
  Client client(SocketType type = SocketType::kDealer) const { return server_->client(type); }

  std::unique_ptr<TestServer> server_;
};

// framemd5 of every frame of the movie named `movie` in the test root (kProres or kH264);
// computed once per process.
const std::vector<std::string>& oracleMd5s(const std::string& movie);
// ffmpeg's rgb24 conversion of every frame, concatenated; computed once per process.
const std::vector<uint8_t>& oracleRgb24(const std::string& movie);

// MD5 of the frame's planes without padding: framemd5's hash for a `native` frame.
std::string packedMd5(const Frame& frame);

// Fetches a few native frames of both movies and checks them against the oracle: "the server
// still serves correct frames".
void expectServesCorrectFrames(Client& client);

}  // namespace framewire::testing
