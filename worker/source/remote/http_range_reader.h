// HttpRangeReader: the worker's HTTP client for remote movies: HEAD, byte-range GETs and small
// text GETs (folder listings), over libcurl, with every edge of HTTP checked.
//
// What it guarantees to its callers (worker/source/remote/remote_file.h, remote_archive.h):
// - Connections are reused: libcurl easy handles (each with its live connections) are kept in
//   a pool and handed to one request at a time.
// - A range GET delivers exactly the bytes asked for, at their file offsets, or fails:
//   206 must carry a Content-Range naming the requested start, an end inside the request, and
//   the file's total size; the body must be that long. A 200 to a Range request means the
//   server ignores ranges: the body is the whole file from byte 0, which is accepted only
//   when the caller allows reading that far from the start (RangeRequest::full_body_limit),
//   and then read from byte 0 and cut off after the requested end; otherwise the request fails
//   clearly (UNAVAILABLE, "ignores Range requests"). A compressed body (Content-Encoding) or a
//   multipart answer is refused, never misread.
// - Validators: when the caller names the file version it expects (size, ETag, Last-Modified),
//   a response for another version fails with `changed` set, so blocks of two versions are
//   never mixed and the caller can drop what it knew about the file.
// - Redirects are followed by hand, at most max_redirects, and only to URLs the UrlPolicy
//   accepts (under a configured base); elsewhere: FORBIDDEN.
// - Timeouts: connect_timeout_ms to connect, timeout_ms for a whole request.
// - Retries with exponential back-off (retry_backoff_ms, doubling) after connection errors,
//   timeouts, cut-off bodies and 5xx/429 answers, at most `retries` times. 404/410: NOT_FOUND
//   at once. Other failures: UNAVAILABLE. Every message names the URL and the reason.
//
// Thread-safety: every method may be called concurrently; each request uses its own handle.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "worker/source/remote/curl_handles.h"
#include "worker/source/remote/url_policy.h"

namespace framewire {

struct HttpConfig {
  int64_t timeout_ms = 20000;         // one request, from connecting to the last byte
  int64_t connect_timeout_ms = 5000;  // capped at timeout_ms
  int retries = 3;                    // further attempts after retryable failures
  int64_t retry_backoff_ms = 100;     // before the first retry; doubles for each next one
  int max_redirects = 5;
  size_t max_idle_handles = 16;       // pooled easy handles (each keeps its connections)
};

// What a server says about one version of a file.
struct RemoteFileInfo {
  std::string url;            // canonical URL that answered (after redirects)
  uint64_t size = 0;
  std::string etag;           // as sent (quotes included); empty when none
  std::string last_modified;  // as sent; empty when none
  int64_t last_modified_s = 0;  // seconds since the epoch, 0 when unknown
};

// Where range bytes go: `data` holds the file's bytes from `offset` on.
using BodySink = std::function<void(uint64_t offset, const uint8_t* data, size_t size)>;

struct RangeRequest {
  std::string url;                 // canonical, already checked by the policy
  uint64_t offset = 0;
  uint64_t length = 0;             // > 0; offset + length <= expect->size
  const RemoteFileInfo* expect = nullptr;  // the version being read (required)
  // When the server ignores Range (answers 200 with the whole file), the body is read from
  // byte 0 as long as offset + length <= full_body_limit; beyond that the request fails.
  uint64_t full_body_limit = 0;
};

struct RangeReply {
  uint64_t delivered_from = 0;   // the first byte given to the sink: offset, or 0 when
                                 // the server ignored Range (bytes 0..offset+length)
  bool ranges_ignored = false;
};

// Counters for STATS and the tests.
struct HttpCounters {
  uint64_t requests = 0;       // HTTP requests sent (retries and redirects included)
  uint64_t body_bytes = 0;     // body bytes received
  uint64_t retries = 0;
  uint64_t failures = 0;       // calls that returned an error
};

class HttpRangeReader {
 public:
  // `policy` decides which redirect targets may be followed; it must outlive the reader.
  HttpRangeReader(HttpConfig config, const UrlPolicy* policy);
  ~HttpRangeReader();
  HttpRangeReader(const HttpRangeReader&) = delete;
  HttpRangeReader& operator=(const HttpRangeReader&) = delete;

  // The file's size and validators (HEAD; a GET of byte 0 when HEAD is refused).
  // NOT_FOUND for 404/410; a folder (redirected to ".../"): INVALID_ARGUMENT.
  Result<RemoteFileInfo> stat(const std::string& url);

  // Bytes [offset, offset + length) of `request.url` into `sink` (see the header comment).
  // `changed` (optional) is set when the server holds another version than request.expect.
  Result<RangeReply> getRange(const RangeRequest& request, const BodySink& sink, bool* changed = nullptr);

  struct TextReply {
    std::string url;           // canonical URL that answered (after redirects)
    std::string content_type;  // lower case, parameters dropped
    std::string body;
  };
  // A whole small document (an autoindex page), at most `max_bytes` (else UNAVAILABLE).
  Result<TextReply> getText(const std::string& url, size_t max_bytes);

  HttpCounters counters() const;
  const HttpConfig& config() const { return config_; }

  struct Exchange;  // one request and its response; an implementation detail of the .cpp

 private:
  UniqueCurl acquire();
  void release(UniqueCurl handle);
  // One request, no retries, no redirects followed; fills `exchange`.
  void perform(Exchange* exchange);
  // perform() with redirects and retries; the final exchange decides.
  Status run(Exchange* exchange);

  const HttpConfig config_;
  const UrlPolicy* policy_;
  std::mutex mutex_;
  std::vector<UniqueCurl> idle_;
  std::atomic<uint64_t> requests_{0}, body_bytes_{0}, retries_{0}, failures_{0};
};

// Parses "bytes START-END/TOTAL" (TOTAL may be "*", then *total is set to UINT64_MAX).
bool parseContentRange(const std::string& value, uint64_t* start, uint64_t* end, uint64_t* total);

}  // namespace framewire
