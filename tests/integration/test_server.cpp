#include "tests/integration/test_server.h"

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/support/test_movies.h"

namespace fs = std::filesystem;

namespace framewire::testing {
namespace {

using namespace std::chrono_literals;

std::string tail(const std::string& text, size_t max_bytes = 4000) {
  return text.size() <= max_bytes ? text : "..." + text.substr(text.size() - max_bytes);
}

}  // namespace

TestServer::TestServer(int workers) {
  dir_ = makeTempDir("fw-integration");
  root_ = dir_ + "/root";
  prepareRoot();
  if (ok()) start(workers);
}

TestServer::~TestServer() {
  // Workers first, so the broker's last moments are not spent declaring them dead.
  for (auto& worker : workers_) worker->terminate(2000ms);
  if (broker_) broker_->terminate(2000ms);
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

void TestServer::prepareRoot() {
  const std::string prores = proresMovie();
  const std::string h264 = h264BFramesMovie();
  fs::create_directories(root_ + "/sub");
  fs::copy_file(prores, root_ + "/" + kProres);
  fs::copy_file(h264, root_ + "/" + kH264);
  fs::copy_file(prores, root_ + "/sub/nested.mov");
  fs::create_symlink(kProres, root_ + "/inside-link.mov");
  fs::create_symlink(prores, root_ + "/escape.mov");
  fs::create_symlink(fs::path(prores).parent_path(), root_ + "/escape-dir");
  std::ofstream(root_ + "/bad.mov") << "this is not a movie, just text with a .mov name\n";
  {
    std::ifstream in(prores, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bytes.resize(bytes.size() * 2 / 5);
    std::ofstream(root_ + "/truncated.mov", std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  }
  if (!fs::exists(root_ + "/" + kProres) || !fs::exists(root_ + "/" + kH264)) error_ = "could not prepare " + root_;
}

void TestServer::start(int workers) {
  const std::string heartbeat = std::to_string(kHeartbeatMs);
  broker_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{binaryPath("framewire-broker"), "--frontend", "tcp://127.0.0.1:0", "--backend",
                               "tcp://127.0.0.1:0", "--heartbeat-ms", heartbeat, "--liveness", "3"},
      dir_ + "/broker.log");
  // It prints "framewire-broker: frontend tcp://127.0.0.1:PORT backend tcp://127.0.0.1:PORT\n".
  static const std::regex endpoints(R"(framewire-broker: frontend (\S+) backend (\S+)\n)");
  std::smatch match;
  const auto log = broker_->waitForLog("framewire-broker: frontend ", 10s);
  std::string text = log.value_or("");
  for (int look = 0; look < 50 && log && !std::regex_search(text, match, endpoints); ++look) {
    std::this_thread::sleep_for(10ms);  // the line may still be on its way
    text = broker_->log();
  }
  if (!std::regex_search(text, match, endpoints)) {
    error_ = "framewire-broker did not report its endpoints:\n" + tail(broker_->log());
    return;
  }
  frontend_ = match[1];
  backend_ = match[2];
  for (int i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{binaryPath("framewire-worker"), "--broker", backend_, "--root", root_, "--name",
                                 workerName(i), "--heartbeat-ms", heartbeat},
        dir_ + "/" + workerName(i) + ".log"));
  }
  // The broker queues requests until a worker is ready, so one answered LIST means serving.
  Client probe = client(SocketType::kDealer, 15s);
  auto entries = probe.list("");
  if (!entries.ok()) error_ = "the server did not answer LIST: " + entries.status().toString() + "\n" + logs();
}

Client TestServer::client(SocketType type, std::chrono::milliseconds timeout) const {
  ClientOptions options;
  options.socketType = type;
  options.timeout = timeout;
  options.retries = 0;  // a lost reply is a test failure, not something to paper over
  return Client(frontend_, options);
}

std::string TestServer::logs() const {
  std::string text;
  if (broker_) text += "--- broker log:\n" + tail(broker_->log()) + "\n";
  for (size_t i = 0; i < workers_.size(); ++i) {
    text += "--- " + workerName(int(i)) + " log:\n" + tail(workers_[i]->log()) + "\n";
  }
  return text;
}

}  // namespace framewire::testing
