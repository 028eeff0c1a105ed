#include "tests/integration/integration_test.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "tests/support/test_movies.h"

namespace framewire::testing {

void IntegrationTest::SetUp() {
  server_ = std::make_unique<TestServer>();
  ASSERT_TRUE(server_->ok()) << server_->why();
}

void IntegrationTest::TearDown() {
  if (HasFailure() && server_) std::cerr << server_->logs();
  server_.reset();
}

namespace {

namespace fs = std::filesystem;

std::string sourceOf(const std::string& movie) {
  if (movie == kProres) return proresMovie();
  if (movie == kH264) return h264BFramesMovie();
  ADD_FAILURE() << "no oracle for " << movie;
  return {};
}

// Running ffmpeg for the oracles costs about a second per test process, and ctest runs each
// test in a process of its own, so the results are kept next to the generated movies, under a
// name that changes whenever the movie does (size and modification time).
std::string oracleCachePath(const std::string& source, const std::string& kind) {
  std::error_code error;
  const auto size = fs::file_size(source, error);
  const auto mtime = fs::last_write_time(source, error).time_since_epoch().count();
  return source + "." + std::to_string(size) + "-" + std::to_string(mtime) + "." + kind;
}

std::optional<std::string> readCache(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void writeCache(const std::string& path, const std::string& bytes) {
  // Write, then rename: a concurrent test process never reads half a file.
  const std::string partial = path + ".partial-" + std::to_string(getpid());
  std::ofstream(partial, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  std::error_code error;
  fs::rename(partial, path, error);
  if (error) fs::remove(partial, error);
}

std::vector<std::string> cachedFrameMd5s(const std::string& source) {
  const std::string path = oracleCachePath(source, "framemd5");
  std::vector<std::string> md5s;
  if (auto text = readCache(path)) {
    std::istringstream lines(*text);
    for (std::string line; std::getline(lines, line);) md5s.push_back(line);
    if (!md5s.empty()) return md5s;
  }
  md5s = frameMd5s(source);
  std::string text;
  for (const auto& md5 : md5s) text += md5 + "\n";
  if (!md5s.empty()) writeCache(path, text);
  return md5s;
}

std::vector<uint8_t> cachedRgb24Frames(const std::string& source) {
  const std::string path = oracleCachePath(source, "rgb24");
  if (auto bytes = readCache(path); bytes && !bytes->empty()) return std::vector<uint8_t>(bytes->begin(), bytes->end());
  std::vector<uint8_t> frames = rgb24Frames(source);
  if (!frames.empty()) writeCache(path, std::string(frames.begin(), frames.end()));
  return frames;
}

}  // namespace

const std::vector<std::string>& oracleMd5s(const std::string& movie) {
  static std::map<std::string, std::vector<std::string>> cache;
  auto it = cache.find(movie);
  if (it == cache.end()) it = cache.emplace(movie, cachedFrameMd5s(sourceOf(movie))).first;
  return it->second;
}

const std::vector<uint8_t>& oracleRgb24(const std::string& movie) {
  static std::map<std::string, std::vector<uint8_t>> cache;
  auto it = cache.find(movie);
  if (it == cache.end()) it = cache.emplace(movie, cachedRgb24Frames(sourceOf(movie))).first;
  return it->second;
}

std::string packedMd5(const Frame& frame) {
  const std::vector<uint8_t> bytes = frame.packedBytes();
  return md5Hex(bytes.data(), bytes.size());
}

void expectServesCorrectFrames(Client& client) {
  FrameOptions native;
  native.format = "native";
  for (const auto& [movie, index] : {std::pair<std::string, int64_t>{kProres, 31}, {kH264, 41}, {kH264, 7}}) {
    auto frame = client.getFrame(movie, index, native);
    ASSERT_TRUE(frame.ok()) << movie << " frame " << index << ": " << frame.status().toString();
    ASSERT_LT(size_t(index), oracleMd5s(movie).size());
    EXPECT_EQ(packedMd5(*frame), oracleMd5s(movie)[index]) << movie << " frame " << index;
  }
}

}  // namespace framewire::testing
