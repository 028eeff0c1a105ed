#include "tests/support/test_http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/test_movies.h"

namespace fs = std::filesystem;

namespace framewire::testing {
namespace {

constexpr const char* kNginx = "/usr/sbin/nginx";
constexpr const char* kPython = "/usr/bin/python3";

int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

bool accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return ok;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

bool TestHttpServer::available(Kind kind) {
  return ::access(kind == Kind::kNginx ? kNginx : kPython, X_OK) == 0;
}

TestHttpServer::TestHttpServer(std::string root, Kind kind) : root_(std::move(root)), kind_(kind) {
  dir_ = makeTempDir(kind == Kind::kNginx ? "fw-nginx" : "fw-quirky-http");
  fs::create_directories(fs::path(dir_) / "tmp");
  // The port is free when asked, but another process may take it before the server binds it:
  // then try another.
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = freePort();
    if (port_ == 0) {
      error_ = "no free port";
      return;
    }
    if (kind_ == Kind::kNginx && !writeConfig()) return;
    if (start()) return;
  }
}

TestHttpServer::~TestHttpServer() {
  stop();
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string TestHttpServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/" + path;
}

bool TestHttpServer::writeConfig() {
  const std::string port = std::to_string(port_);
  std::ofstream conf(dir_ + "/nginx.conf");
  // One process, in the foreground, everything it writes inside dir_. `user` is not set:
  // without a master process nginx does not switch users, so it reads what the test wrote.
  conf << "daemon off;\n"
          "master_process off;\n"
          "worker_processes 1;\n"
          "pid " << dir_ << "/nginx.pid;\n"
          "error_log " << dir_ << "/error.log warn;\n"
          "events { worker_connections 256; }\n"
          "http {\n"
          "  default_type application/octet-stream;\n"
          "  sendfile on;\n"
          "  keepalive_requests 100000;\n"
          "  client_body_temp_path " << dir_ << "/tmp/body;\n"
          "  proxy_temp_path " << dir_ << "/tmp/proxy;\n"
          "  fastcgi_temp_path " << dir_ << "/tmp/fastcgi;\n"
          "  uwsgi_temp_path " << dir_ << "/tmp/uwsgi;\n"
          "  scgi_temp_path " << dir_ << "/tmp/scgi;\n"
          "  log_format ranges '$request_method $request_uri $status $bytes_sent $body_bytes_sent \"$http_range\" $connection';\n"
          "  access_log " << dir_ << "/access.log ranges;\n"
          "  server {\n"
          "    listen 127.0.0.1:" << port << ";\n"
          "    root " << root_ << ";\n"
          "    autoindex on;\n"
          "    autoindex_exact_size on;\n"
          "    location /moved/ { rewrite ^/moved/(.*)$ /$1 redirect; }\n"
          "    location /away/ { return 302 http://127.0.0.2:" << port << "/$request_uri; }\n"
          "  }\n"
          "}\n";
  if (!conf) {
    error_ = "cannot write " + dir_ + "/nginx.conf";
    return false;
  }
  return true;
}

bool TestHttpServer::start() {
  if (pid_ > 0) return true;
  error_.clear();
  std::vector<std::string> argv;
  if (kind_ == Kind::kNginx) {
    argv = {kNginx, "-p", dir_, "-c", dir_ + "/nginx.conf", "-e", dir_ + "/error.log"};
  } else {
    argv = {kPython, sourcePath("tests/support/quirky_http_server.py"), "--port", std::to_string(port_),
            "--root", root_, "--log", dir_ + "/access.log"};
  }
  const std::string output = dir_ + "/output.log";
  const pid_t pid = ::fork();
  if (pid < 0) {
    error_ = "fork failed";
    return false;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    std::vector<char*> args;
    for (auto& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error_ = "the server exited at start: " + readFile(output) + readFile(dir_ + "/error.log");
      return false;
    }
    if (accepts(port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop();
  error_ = "the server did not accept connections on port " + std::to_string(port_);
  return false;
}

void TestHttpServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  int status = 0;
  for (;;) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
}

std::vector<TestHttpServer::LogEntry> TestHttpServer::accessLog(size_t at_least) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    std::vector<LogEntry> entries = parseAccessLog();
    if (entries.size() >= at_least || std::chrono::steady_clock::now() > deadline) return entries;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::vector<TestHttpServer::LogEntry> TestHttpServer::parseAccessLog() const {
  std::vector<LogEntry> entries;
  std::istringstream lines(readFile(dir_ + "/access.log"));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    LogEntry entry;
    fields >> entry.method >> entry.uri >> entry.status >> entry.bytes_sent >> entry.body_bytes;
    std::string range;
    std::getline(fields, range);
    const size_t open = range.find('"'), close = range.rfind('"');
    entry.range = open != std::string::npos && close > open ? range.substr(open + 1, close - open - 1) : "-";
    std::istringstream rest(close != std::string::npos ? range.substr(close + 1) : std::string());
    if (!(rest >> entry.connection)) entry.connection = "-";
    if (!entry.method.empty()) entries.push_back(entry);
  }
  return entries;
}

void TestHttpServer::clearLog() {
  // Both servers append (O_APPEND), so truncating in place is safe.
  ::truncate((dir_ + "/access.log").c_str(), 0);
}

std::string TestHttpServer::errorLog() const { return readFile(dir_ + "/error.log") + readFile(dir_ + "/output.log"); }

}  // namespace framewire::testing
