// TestHttpServer: a real HTTP server process serving a folder on a free loopback port, for the
// tests of remote movies.
//
// Kinds:
// - kNginx: Debian's nginx (/usr/sbin/nginx, from nginx-light) with a generated config in a
//   temporary folder: `autoindex on`, an access log with each request's method, URI, status,
//   $bytes_sent, $body_bytes_sent, $http_range and $connection (which shows connection
//   reuse), pid/error log/temp paths inside the folder,
//   one process (`master_process off; daemon off;`) that is stopped by its PID. Besides the
//   served folder it answers /moved/PATH with a 302 to /PATH (a redirect inside the server)
//   and /away/PATH with a 302 to http://127.0.0.2:PORT/PATH (elsewhere).
// - kQuirky: tests/support/quirky_http_server.py under /usr/bin/python3: ranges done right
//   under /ok/, and the misbehaviours the client must survive under other prefixes (see that
//   file): /norange/ answers 200 with the whole file to Range requests, /flaky/ answers 503 to
//   every other request, /cut/ cuts every other body short, /gzip/ claims a compressed body,
//   /badrange/ sends a wrong Content-Range, /nohead/ refuses HEAD.
// Both log requests to the access log that accessLog() parses.
//
// The process gets SIGKILL if the test process dies (PR_SET_PDEATHSIG) and is stopped by the
// destructor; stop() and start() restart it on the same port (a server that goes away and
// comes back). Not thread-safe: one test thread owns it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace framewire::testing {

class TestHttpServer {
 public:
  enum class Kind { kNginx, kQuirky };

  // Serves `root`; starts at once (check ok()).
  explicit TestHttpServer(std::string root, Kind kind = Kind::kNginx);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  // True when this kind of server can run here (nginx or python3 installed).
  static bool available(Kind kind = Kind::kNginx);

  bool ok() const { return error_.empty(); }
  const std::string& why() const { return error_; }
  int port() const { return port_; }
  // "http://127.0.0.1:PORT/" + path
  std::string url(const std::string& path = "") const;

  bool start();  // again, on the same port; false (with why()) when it did not come up
  void stop();   // SIGTERM and wait (SIGKILL after 3 s)
  bool running() const { return pid_ > 0; }

  struct LogEntry {
    std::string method;
    std::string uri;
    int status = 0;
    uint64_t bytes_sent = 0;  // headers + body
    uint64_t body_bytes = 0;
    std::string range;        // the Range header, "-" when none
    std::string connection;   // nginx's connection serial number ("-" from the quirky server)
  };
  // The requests logged so far (since the last clearLog()). nginx writes a request's line
  // after the response has left, so a client that has its answer may look too early: give
  // `at_least` (the requests the client sent) to wait (up to 5 s) until they are all there.
  std::vector<LogEntry> accessLog(size_t at_least = 0) const;
  void clearLog();
  std::string errorLog() const;

 private:
  bool writeConfig();
  std::vector<LogEntry> parseAccessLog() const;
  const std::string root_;
  const Kind kind_;
  std::string dir_;  // config, logs, pid, temp folders
  int port_ = 0;
  pid_t pid_ = -1;
  std::string error_;
};

}  // namespace framewire::testing
