// Remote movies end to end: a real nginx serving generated movies, framewire-broker and a
// framewire-worker with --remote-base (and overlays), the C++ client and the command line.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <thread>

#include "framewire/client.h"
#include "tests/integration/child_process.h"
#include "tests/integration/integration_test.h"
#include "tests/support/test_http_server.h"
#include "tests/support/test_movies.h"

namespace fs = std::filesystem;

namespace framewire::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kDeep = "RS03ASHS/PN03B/06-CAMHDA301/2016/07/24/CAMHDA301-20160724T030000Z.mov";
constexpr const char* kH264Remote = "h264/bframes.mp4";

// framemd5 of a generated movie, computed once per process.
const std::vector<std::string>& md5s(const std::string& movie) {
  static std::map<std::string, std::vector<std::string>> cache;
  auto it = cache.find(movie);
  if (it == cache.end()) it = cache.emplace(movie, frameMd5s(movie)).first;
  return it->second;
}

FrameOptions native() {
  FrameOptions options;
  options.format = "native";
  return options;
}

// nginx serving <dir>/www, a broker and one worker reading it remotely.
class RemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TestHttpServer::available()) GTEST_SKIP() << "nginx is not installed";
    dir_ = makeTempDir("fw-remote-it");
    place(proresMovie(), "www/" + std::string(kDeep));
    place(h264BFramesMovie(), "www/" + std::string(kH264Remote));
    fs::create_directories(dir_ + "/root");
    nginx_ = std::make_unique<TestHttpServer>(dir_ + "/www");
    ASSERT_TRUE(nginx_->ok()) << nginx_->why();
  }

  void TearDown() override {
    if (HasFailure()) {
      if (worker_) std::cerr << "--- worker log:\n" << worker_->log();
      if (nginx_) std::cerr << "--- nginx error log:\n" << nginx_->errorLog();
    }
    worker_.reset();
    broker_.reset();
    nginx_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  void place(const std::string& from, const std::string& to) {
    const fs::path target = fs::path(dir_) / to;
    fs::create_directories(target.parent_path());
    fs::copy_file(from, target, fs::copy_options::overwrite_existing);
  }

  // Starts the broker and a worker with `extra` flags after --remote-base.
  void startServer(std::vector<std::string> extra = {}) {
    broker_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{binaryPath("framewire-broker"), "--frontend", "tcp://127.0.0.1:0", "--backend",
                                 "tcp://127.0.0.1:0", "--heartbeat-ms", "200"},
        dir_ + "/broker.log");
    static const std::regex endpoints(R"(framewire-broker: frontend (\S+) backend (\S+)\n)");
    std::smatch match;
    std::string text;
    for (int look = 0; look < 500 && !std::regex_search(text, match, endpoints); ++look) {
      std::this_thread::sleep_for(10ms);
      text = broker_->log();
    }
    ASSERT_TRUE(std::regex_search(text, match, endpoints)) << text;
    frontend_ = match[1];
    std::vector<std::string> argv = {binaryPath("framewire-worker"), "--broker", match[2], "--heartbeat-ms", "200",
                                     "--root", dir_ + "/root", "--remote-base", nginx_->url(),
                                     "--remote-revalidate-ms", "100"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    worker_ = std::make_unique<ChildProcess>(argv, dir_ + "/worker.log");
    Client probe = client();
    auto listed = probe.list("");
    ASSERT_TRUE(listed.ok()) << listed.status().toString() << "\n" << worker_->log();
  }

  Client client() const {
    ClientOptions options;
    options.timeout = 15s;
    options.retries = 0;
    return Client(frontend_, options);
  }

  void expectFrame(Client& c, const std::string& movie, int64_t n, const std::string& oracle_movie) {
    auto frame = c.getFrame(movie, n, native());
    ASSERT_TRUE(frame.ok()) << movie << " frame " << n << ": " << frame.status().toString();
    EXPECT_EQ(packedMd5(*frame), md5s(oracle_movie).at(size_t(n))) << movie << " frame " << n;
  }

  std::string dir_;
  std::unique_ptr<TestHttpServer> nginx_;
  std::unique_ptr<ChildProcess> broker_, worker_;
  std::string frontend_;
};

TEST_F(RemoteTest, ServesExactFramesByPathAndByUrl) {
  startServer();
  Client c = client();
  auto info = c.info(kDeep);
  ASSERT_TRUE(info.ok()) << info.status().toString();
  EXPECT_EQ(info->numFrames, 48);
  EXPECT_EQ(info->fileSize, fs::file_size(proresMovie()));
  for (const int64_t n : {0, 47, 13, 12, 30}) expectFrame(c, kDeep, n, proresMovie());
  for (const int64_t n : {71, 0, 25, 24}) expectFrame(c, kH264Remote, n, h264BFramesMovie());
  expectFrame(c, nginx_->url(kDeep), 7, proresMovie());
  auto batch = c.getFrames(kDeep, {40, 2, 40}, native());
  ASSERT_TRUE(batch.ok()) << batch.status().toString();
  EXPECT_EQ(packedMd5((*batch)[0]), md5s(proresMovie())[40]);
  EXPECT_EQ(packedMd5((*batch)[1]), md5s(proresMovie())[2]);
}

TEST_F(RemoteTest, RefusesUrlsOutsideTheBaseAndReportsMissingMovies) {
  startServer();
  Client c = client();
  const std::string port = std::to_string(nginx_->port());
  for (const std::string& url :
       {"http://127.0.0.2:" + port + "/" + kDeep, "http://127.0.0.1:" + std::to_string(nginx_->port() + 1) + "/x.mov",
        "http://127.0.0.1:" + port + "/../etc/passwd", "http://127.0.0.1:" + port + "/h264/%2e%2e/%2e%2e/etc/passwd",
        "http://user:pw@127.0.0.1:" + port + "/" + kH264Remote, std::string("file:///etc/passwd")}) {
    auto frame = c.getFrame(url, 0);
    ASSERT_FALSE(frame.ok()) << url;
    EXPECT_EQ(frame.status().code(), StatusCode::kForbidden) << url << ": " << frame.status().toString();
  }
  auto missing = c.info("RS03ASHS/missing.mov");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(nginx_->url("RS03ASHS/missing.mov")), std::string::npos)
      << missing.status().toString();
  for (const auto& entry : nginx_->accessLog()) {
    EXPECT_EQ(entry.uri.find("passwd"), std::string::npos) << "a refused URL reached the server: " << entry.uri;
  }
}

TEST_F(RemoteTest, ListsRemoteFoldersFromTheAutoindex) {
  startServer();
  Client c = client();
  auto top = c.list("");
  ASSERT_TRUE(top.ok()) << top.status().toString();
  ASSERT_EQ(top->size(), 2u);
  EXPECT_EQ((*top)[0].name, "RS03ASHS/");
  EXPECT_EQ((*top)[1].name, "h264/");
  const CommandResult ls = runProgram({binaryPath("framewire"), "ls", "--server", frontend_,
                                       "RS03ASHS/PN03B/06-CAMHDA301/2016/07/24"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(ls.out.find("CAMHDA301-20160724T030000Z.mov"), std::string::npos) << ls.out;
  auto deep = c.list("RS03ASHS/PN03B/06-CAMHDA301/2016/07/24/");
  ASSERT_TRUE(deep.ok()) << deep.status().toString();
  ASSERT_EQ(deep->size(), 1u);
  EXPECT_EQ((*deep)[0].size, fs::file_size(proresMovie()));  // nginx's exact sizes
  EXPECT_EQ(c.list("nothing/here").status().code(), StatusCode::kNotFound);
}

TEST_F(RemoteTest, ServerStoppedIsUnavailableThenRecovers) {
  startServer();
  Client c = client();
  expectFrame(c, kDeep, 3, proresMovie());
  nginx_->stop();
  std::this_thread::sleep_for(150ms);  // past --remote-revalidate-ms: the worker asks the server
  auto frame = c.getFrame(kH264Remote, 30, native());
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.status().code(), StatusCode::kUnavailable) << frame.status().toString();
  EXPECT_NE(frame.status().message().find(nginx_->url(kH264Remote)), std::string::npos) << frame.status().toString();
  frame = c.getFrame(kDeep, 44, native());
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.status().code(), StatusCode::kUnavailable) << frame.status().toString();
  ASSERT_TRUE(nginx_->start()) << nginx_->why();
  expectFrame(c, kH264Remote, 30, h264BFramesMovie());
  expectFrame(c, kDeep, 44, proresMovie());
}

TEST_F(RemoteTest, AFileReplacedOnTheServerServesNewFrames) {
  startServer();
  Client c = client();
  expectFrame(c, kDeep, 5, proresMovie());
  place(h264BFramesMovie(), "www/" + std::string(kDeep));  // same name, other movie
  std::this_thread::sleep_for(150ms);                       // past --remote-revalidate-ms
  expectFrame(c, kDeep, 5, h264BFramesMovie());
  auto info = c.info(kDeep);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->numFrames, 72);
}

TEST_F(RemoteTest, OverlayCopiesWin) {
  // The overlay holds other movies under the remote names: what is served shows which won.
  place(h264BFramesMovie(), "overlay/" + std::string(kDeep));
  place(proresMovie(), "flat/bframes.mp4");
  startServer({"--file-overlay", dir_ + "/overlay"});
  Client c = client();
  expectFrame(c, kDeep, 9, h264BFramesMovie());
  expectFrame(c, kH264Remote, 9, h264BFramesMovie());  // not in the overlay: remote
  nginx_->clearLog();
  expectFrame(c, nginx_->url(kDeep), 10, h264BFramesMovie());
  EXPECT_EQ(nginx_->accessLog().size(), 0u) << "the overlay copy was not used";

  worker_.reset();
  broker_.reset();
  startServer({"--file-overlay", dir_ + "/flat", "--file-overlay-flatten"});
  Client flat = client();
  expectFrame(flat, kH264Remote, 11, proresMovie());   // by file name from the flat folder
  expectFrame(flat, kDeep, 11, proresMovie());         // not there: remote
}

}  // namespace
}  // namespace framewire::testing
