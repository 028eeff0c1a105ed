// HttpRangeReader against real servers: nginx (ranges, validators, redirects, autoindex,
// connection reuse, a server that goes away) and tests/support/quirky_http_server.py (the
// misbehaviours: 503s, bodies cut short, Range ignored, compressed bodies, wrong
// Content-Range, HEAD refused).
#include "worker/source/remote/http_range_reader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>

#include "tests/support/test_http_server.h"
#include "tests/support/test_movies.h"

namespace fs = std::filesystem;

namespace framewire {
namespace {

using testing::TestHttpServer;

std::vector<uint8_t> randomBytes(size_t size, unsigned seed) {
  std::mt19937 random(seed);
  std::vector<uint8_t> bytes(size);
  for (auto& byte : bytes) byte = uint8_t(random());
  return bytes;
}

void writeFile(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

class HttpRangeReaderTest : public ::testing::Test {
 protected:
  static constexpr size_t kSize = 300000;

  void SetUp() override {
    if (!TestHttpServer::available(TestHttpServer::Kind::kNginx)) GTEST_SKIP() << "nginx is not installed";
    root_ = testing::makeTempDir("fw-http-root");
    bytes_ = randomBytes(kSize, 7);
    writeFile(fs::path(root_) / "data.bin", bytes_);
    writeFile(fs::path(root_) / "sub" / "inner.bin", randomBytes(1000, 8));
    nginx_ = std::make_unique<TestHttpServer>(root_);
    ASSERT_TRUE(nginx_->ok()) << nginx_->why();
    quirky_ = std::make_unique<TestHttpServer>(root_, TestHttpServer::Kind::kQuirky);
    ASSERT_TRUE(quirky_->ok()) << quirky_->why();
    policy_ = *UrlPolicy::create({nginx_->url(), quirky_->url()});
    HttpConfig config;
    config.retry_backoff_ms = 10;
    config.timeout_ms = 5000;
    http_ = std::make_unique<HttpRangeReader>(config, &policy_);
  }

  void TearDown() override {
    http_.reset();
    nginx_.reset();
    quirky_.reset();
    if (!root_.empty()) fs::remove_all(root_);
  }

  // Reads [offset, offset + length) of `url` through getRange into a buffer.
  Result<std::vector<uint8_t>> read(const std::string& url, const RemoteFileInfo& info, uint64_t offset,
                                    uint64_t length, uint64_t full_body_limit = 0, bool* changed = nullptr,
                                    RangeReply* reply_out = nullptr) {
    std::vector<uint8_t> out(length);
    RangeRequest request;
    request.url = url;
    request.offset = offset;
    request.length = length;
    request.expect = &info;
    request.full_body_limit = full_body_limit;
    auto reply = http_->getRange(
        request,
        [&](uint64_t at, const uint8_t* data, size_t size) {
          // Bytes before the range (a server ignoring Range) are dropped here.
          for (size_t i = 0; i < size; ++i) {
            if (at + i >= offset && at + i < offset + length) out[at + i - offset] = data[i];
          }
        },
        changed);
    if (!reply.ok()) return reply.status();
    if (reply_out) *reply_out = *reply;
    return out;
  }

  std::vector<uint8_t> expected(uint64_t offset, uint64_t length) const {
    return std::vector<uint8_t>(bytes_.begin() + long(offset), bytes_.begin() + long(offset + length));
  }

  std::string root_;
  std::vector<uint8_t> bytes_;
  std::unique_ptr<TestHttpServer> nginx_, quirky_;
  UrlPolicy policy_;
  std::unique_ptr<HttpRangeReader> http_;
};

TEST_F(HttpRangeReaderTest, StatAndExactRangesFromNginxOverOneConnection) {
  auto info = http_->stat(nginx_->url("data.bin"));
  ASSERT_TRUE(info.ok()) << info.status().toString();
  EXPECT_EQ(info->size, kSize);
  EXPECT_FALSE(info->etag.empty());
  EXPECT_FALSE(info->last_modified.empty());
  EXPECT_GT(info->last_modified_s, 0);
  for (const auto& [offset, length] : std::vector<std::pair<uint64_t, uint64_t>>{
           {0, 1}, {1000, 5000}, {kSize - 10, 10}, {0, kSize}, {123457, 65536}}) {
    auto got = read(info->url, *info, offset, length);
    ASSERT_TRUE(got.ok()) << got.status().toString();
    EXPECT_TRUE(*got == expected(offset, length)) << offset << "+" << length;
  }
  const auto log = nginx_->accessLog(6);
  ASSERT_EQ(log.size(), 6u);
  EXPECT_EQ(log[0].method, "HEAD");
  EXPECT_EQ(log[2].range, "bytes=1000-5999");
  EXPECT_EQ(log[2].status, 206);
  EXPECT_EQ(log[2].body_bytes, 5000u);
  std::set<std::string> connections;
  for (const auto& entry : log) connections.insert(entry.connection);
  EXPECT_EQ(connections.size(), 1u) << "the connection was not reused";
  EXPECT_EQ(http_->counters().requests, 6u);
}

TEST_F(HttpRangeReaderTest, NotFoundFoldersAndRedirects) {
  auto missing = http_->stat(nginx_->url("nope.bin"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(nginx_->url("nope.bin")), std::string::npos);
  EXPECT_NE(missing.status().message().find("404"), std::string::npos);
  // nginx redirects a folder without its slash to the folder: not a movie.
  EXPECT_EQ(http_->stat(nginx_->url("sub")).status().code(), StatusCode::kInvalidArgument);
  // A redirect inside the allowed bases is followed, and names where the file really is.
  auto moved = http_->stat(nginx_->url("moved/data.bin"));
  ASSERT_TRUE(moved.ok()) << moved.status().toString();
  EXPECT_EQ(moved->url, nginx_->url("data.bin"));
  EXPECT_EQ(moved->size, kSize);
  // Redirects out of the allowed bases are refused.
  auto away = http_->stat(nginx_->url("away/data.bin"));
  EXPECT_EQ(away.status().code(), StatusCode::kForbidden) << away.status().toString();
  UrlPolicy narrow = *UrlPolicy::create({nginx_->url("moved/")});
  HttpRangeReader confined(HttpConfig(), &narrow);
  EXPECT_EQ(confined.stat(nginx_->url("moved/data.bin")).status().code(), StatusCode::kForbidden);
}

TEST_F(HttpRangeReaderTest, ChangedFilesAreNoticed) {
  auto info = http_->stat(nginx_->url("data.bin"));
  ASSERT_TRUE(info.ok());
  writeFile(fs::path(root_) / "data.bin", randomBytes(kSize + 5, 9));
  bool changed = false;
  auto got = read(info->url, *info, 0, 100, 0, &changed);
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(changed);
  EXPECT_NE(got.status().message().find("changed"), std::string::npos) << got.status().toString();
  // Same size, other content and time: the ETag tells.
  info = http_->stat(nginx_->url("data.bin"));
  ASSERT_TRUE(info.ok());
  fs::last_write_time(fs::path(root_) / "data.bin", fs::last_write_time(fs::path(root_) / "data.bin") - std::chrono::hours(1));
  changed = false;
  got = read(info->url, *info, 0, 100, 0, &changed);
  EXPECT_TRUE(changed) << got.status().toString();
}

TEST_F(HttpRangeReaderTest, ServerDownIsUnavailableAfterRetriesThenRecovers) {
  auto info = http_->stat(nginx_->url("data.bin"));
  ASSERT_TRUE(info.ok());
  nginx_->stop();
  const uint64_t retries_before = http_->counters().retries;
  auto got = read(info->url, *info, 0, 100);
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(got.status().message().find(info->url), std::string::npos) << got.status().toString();
  EXPECT_NE(got.status().message().find("4 attempts"), std::string::npos) << got.status().toString();
  EXPECT_EQ(http_->counters().retries - retries_before, 3u);
  ASSERT_TRUE(nginx_->start()) << nginx_->why();
  got = read(info->url, *info, 10, 100);
  ASSERT_TRUE(got.ok()) << got.status().toString();
  EXPECT_TRUE(*got == expected(10, 100));
}

TEST_F(HttpRangeReaderTest, RetriesFlakyAndCutAnswers) {
  auto info = http_->stat(quirky_->url("flaky/data.bin"));
  ASSERT_TRUE(info.ok()) << info.status().toString();
  EXPECT_EQ(info->size, kSize);
  auto got = read(info->url, *info, 4000, 20000);
  ASSERT_TRUE(got.ok()) << got.status().toString();
  EXPECT_TRUE(*got == expected(4000, 20000));
  auto cut_info = http_->stat(quirky_->url("cut/data.bin"));
  ASSERT_TRUE(cut_info.ok()) << cut_info.status().toString();
  got = read(cut_info->url, *cut_info, 100, 200000);
  ASSERT_TRUE(got.ok()) << got.status().toString();
  EXPECT_TRUE(*got == expected(100, 200000));
  EXPECT_GE(http_->counters().retries, 3u);
}

TEST_F(HttpRangeReaderTest, ServerIgnoringRangeIsReadFromTheStartOnlyWithinTheLimit) {
  auto info = http_->stat(quirky_->url("norange/data.bin"));
  ASSERT_TRUE(info.ok()) << info.status().toString();
  RangeReply reply;
  auto got = read(info->url, *info, 5000, 1000, /*full_body_limit=*/kSize, nullptr, &reply);
  ASSERT_TRUE(got.ok()) << got.status().toString();
  EXPECT_TRUE(*got == expected(5000, 1000));
  EXPECT_TRUE(reply.ranges_ignored);
  EXPECT_EQ(reply.delivered_from, 0u);
  got = read(info->url, *info, 5000, 1000, /*full_body_limit=*/0);
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(got.status().message().find("ignores Range"), std::string::npos) << got.status().toString();
}

TEST_F(HttpRangeReaderTest, RefusesAnswersThatAreNotTheBytes) {
  auto gzip = http_->stat(quirky_->url("gzip/data.bin"));
  ASSERT_TRUE(gzip.ok());
  auto got = read(gzip->url, *gzip, 0, 100);
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(got.status().message().find("Content-Encoding"), std::string::npos) << got.status().toString();
  auto bad = http_->stat(quirky_->url("badrange/data.bin"));
  ASSERT_TRUE(bad.ok());
  got = read(bad->url, *bad, 100, 100);
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(got.status().message().find("the server sent bytes 101-199"), std::string::npos) << got.status().toString();
  // HEAD refused: the size comes from a one-byte GET instead.
  auto nohead = http_->stat(quirky_->url("nohead/data.bin"));
  ASSERT_TRUE(nohead.ok()) << nohead.status().toString();
  EXPECT_EQ(nohead->size, kSize);
  EXPECT_FALSE(nohead->etag.empty());
}

TEST_F(HttpRangeReaderTest, FetchesListings) {
  auto page = http_->getText(nginx_->url(), 1 << 20);
  ASSERT_TRUE(page.ok()) << page.status().toString();
  EXPECT_EQ(page->content_type, "text/html");
  EXPECT_NE(page->body.find("href=\"data.bin\""), std::string::npos);
  EXPECT_EQ(http_->getText(nginx_->url("nothing/"), 1 << 20).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(http_->getText(nginx_->url(), 10).status().code(), StatusCode::kUnavailable);  // too large
}

TEST(ContentRangeTest, Parses) {
  uint64_t start = 0, end = 0, total = 0;
  EXPECT_TRUE(parseContentRange("bytes 0-9/300000", &start, &end, &total));
  EXPECT_EQ(start, 0u);
  EXPECT_EQ(end, 9u);
  EXPECT_EQ(total, 300000u);
  EXPECT_TRUE(parseContentRange("bytes 5-9/*", &start, &end, &total));
  EXPECT_EQ(total, UINT64_MAX);
  EXPECT_FALSE(parseContentRange("bytes 9-5/10", &start, &end, &total));
  EXPECT_FALSE(parseContentRange("bytes 0-10/10", &start, &end, &total));
  EXPECT_FALSE(parseContentRange("bytes */10", &start, &end, &total));
  EXPECT_FALSE(parseContentRange("items 0-1/2", &start, &end, &total));
  EXPECT_FALSE(parseContentRange("bytes 0-1", &start, &end, &total));
}

}  // namespace
}  // namespace framewire
