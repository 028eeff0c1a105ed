#include "worker/source/remote/http_range_reader.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <utility>

namespace framewire {
namespace {

// Error pages are read (so the connection can be reused) up to this size, then cut off.
constexpr size_t kMaxDiscardedBody = size_t(64) << 10;

enum class Mode { kHead, kProbe, kRange, kText };
enum class Outcome { kDone, kRedirect, kRetry, kFail };

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return text;
}

std::string trim(const std::string& text) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return text.substr(begin, end - begin);
}

bool parseUnsigned(const std::string& text, uint64_t* value) {
  if (text.empty() || text.size() > 19) return false;
  uint64_t v = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint64_t(c - '0');
  }
  *value = v;
  return true;
}

bool retryableCurlError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

std::string statusText(long status) {
  switch (status) {
    case 400: return "400 Bad Request";
    case 401: return "401 Unauthorized";
    case 403: return "403 Forbidden";
    case 404: return "404 Not Found";
    case 405: return "405 Method Not Allowed";
    case 410: return "410 Gone";
    case 416: return "416 Range Not Satisfiable";
    case 429: return "429 Too Many Requests";
    case 500: return "500 Internal Server Error";
    case 501: return "501 Not Implemented";
    case 502: return "502 Bad Gateway";
    case 503: return "503 Service Unavailable";
    case 504: return "504 Gateway Timeout";
    default: return std::to_string(status);
  }
}

}  // namespace

bool parseContentRange(const std::string& value, uint64_t* start, uint64_t* end, uint64_t* total) {
  const std::string text = trim(value);
  if (text.size() < 6 || lower(text.substr(0, 6)) != "bytes ") return false;
  const std::string rest = trim(text.substr(6));
  const size_t dash = rest.find('-');
  const size_t slash = rest.find('/');
  if (dash == std::string::npos || slash == std::string::npos || dash > slash) return false;
  if (!parseUnsigned(rest.substr(0, dash), start)) return false;
  if (!parseUnsigned(rest.substr(dash + 1, slash - dash - 1), end)) return false;
  const std::string total_text = rest.substr(slash + 1);
  if (total_text == "*") {
    *total = UINT64_MAX;
  } else if (!parseUnsigned(total_text, total)) {
    return false;
  }
  return *start <= *end && (*total == UINT64_MAX || *end < *total);
}

// One request and its response, and what the callbacks decided about it.
struct HttpRangeReader::Exchange {
  Mode mode = Mode::kRange;
  std::string url;  // the URL asked now (changes with redirects)

  // kRange
  const RangeRequest* range = nullptr;
  const BodySink* sink = nullptr;
  // kText
  size_t max_bytes = 0;
  std::string text;

  // The response.
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  CURLcode code = CURLE_OK;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  uint64_t body_bytes = 0;

  // What the body callback decided at the first body byte.
  bool decided = false;
  bool deliver = false;
  bool ranges_ignored = false;
  uint64_t position = 0;   // file offset of the next delivered byte
  uint64_t end = 0;        // exclusive end of what is wanted
  bool complete = false;   // everything wanted was delivered
  size_t discarded = 0;

  // The verdict.
  Outcome outcome = Outcome::kFail;
  Status failure;
  bool changed = false;
  std::string redirect;  // Location, for kRedirect
  RemoteFileInfo info;   // kHead / kProbe
  std::string content_type;  // kText: lower case, without parameters
  bool head_refused = false; // kHead: the server does not answer HEAD usefully; probe instead

  void resetResponse() {
    status = 0;
    headers.clear();
    code = CURLE_OK;
    error_buffer[0] = '\0';
    text.clear();
    decided = deliver = ranges_ignored = complete = false;
    position = end = 0;
    discarded = 0;
    outcome = Outcome::kFail;
    failure = Status::ok();
    changed = false;
    redirect.clear();
    info = RemoteFileInfo();
    content_type.clear();
    head_refused = false;
  }

  const std::string* header(const char* name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return &value;
    }
    return nullptr;
  }

  void fail(Status status_value, bool retry = false) {
    failure = std::move(status_value);
    outcome = retry ? Outcome::kRetry : Outcome::kFail;
  }

  // Compares the response's validators with the expected version; sets `changed`.
  bool sameVersion(uint64_t total) {
    const RemoteFileInfo& expect = *range->expect;
    std::string why;
    if (total != UINT64_MAX && total != expect.size) {
      why = "its size is now " + std::to_string(total) + " bytes, was " + std::to_string(expect.size);
    } else if (const std::string* etag = header("etag"); etag && !expect.etag.empty() && *etag != expect.etag) {
      why = "its ETag is now " + *etag + ", was " + expect.etag;
    } else if (const std::string* modified = header("last-modified");
               modified && !expect.last_modified.empty() && *modified != expect.last_modified) {
      why = "it was modified (" + *modified + ", was " + expect.last_modified + ")";
    }
    if (why.empty()) return true;
    changed = true;
    fail(Status::unavailable(url + " changed on the server while it was being read: " + why));
    return false;
  }

  bool encodedBody() {
    const std::string* encoding = header("content-encoding");
    if (encoding && lower(trim(*encoding)) != "identity") {
      fail(Status::unavailable(url + ": the server sent a compressed body (Content-Encoding: " + *encoding +
                               "); byte ranges of it are not the file's bytes"));
      return true;
    }
    return false;
  }

  // Called at the first body byte: decides whether and where body bytes go.
  void decide(CURL* handle) {
    decided = true;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
    if (mode == Mode::kText) {
      if (status != 200 || encodedBody()) return;
      deliver = true;
      return;
    }
    if (mode != Mode::kRange) return;  // kProbe: headers are enough; the body is discarded
    const uint64_t want_end = range->offset + range->length;
    if (status == 206) {
      if (encodedBody()) return;
      if (const std::string* type = header("content-type"); type && lower(*type).find("multipart/") == 0) {
        fail(Status::unavailable(url + ": the server answered a single range with a multipart body"));
        return;
      }
      const std::string* content_range = header("content-range");
      uint64_t start = 0, last = 0, total = 0;
      if (!content_range || !parseContentRange(*content_range, &start, &last, &total)) {
        fail(Status::unavailable(url + ": 206 answer without a valid Content-Range (" +
                                 (content_range ? *content_range : std::string("none")) + ")"));
        return;
      }
      if (!sameVersion(total)) return;
      if (start != range->offset || last + 1 != want_end) {
        fail(Status::unavailable(url + ": asked for bytes " + std::to_string(range->offset) + "-" +
                                 std::to_string(want_end - 1) + ", the server sent " + *content_range));
        return;
      }
      uint64_t length = 0;
      if (const std::string* content_length = header("content-length");
          content_length && parseUnsigned(trim(*content_length), &length) && length != range->length) {
        fail(Status::unavailable(url + ": Content-Length " + *content_length + " does not match " + *content_range));
        return;
      }
      deliver = true;
      position = range->offset;
      end = want_end;
      return;
    }
    if (status == 200) {
      // The server ignores Range: the body is the whole file, from byte 0.
      if (encodedBody()) return;
      uint64_t length = UINT64_MAX;
      if (const std::string* content_length = header("content-length")) {
        if (!parseUnsigned(trim(*content_length), &length)) length = UINT64_MAX;
      }
      if (!sameVersion(length)) return;
      if (want_end > range->full_body_limit) {
        fail(Status::unavailable(
            url + ": the server ignores Range requests (it answered 200 with the whole file), and reaching bytes " +
            std::to_string(range->offset) + "-" + std::to_string(want_end - 1) + " would mean reading " +
            std::to_string(want_end) + " bytes from the start, over the limit of " +
            std::to_string(range->full_body_limit) + " for such servers"));
        return;
      }
      deliver = true;
      ranges_ignored = true;
      position = 0;
      end = want_end;
    }
  }
};

namespace {

size_t onHeader(char* data, size_t size, size_t count, void* opaque) {
  auto* exchange = static_cast<HttpRangeReader::Exchange*>(opaque);
  const size_t bytes = size * count;
  const std::string line(data, bytes);
  if (line.rfind("HTTP/", 0) == 0) {
    exchange->headers.clear();  // a new response (after 1xx)
    return bytes;
  }
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    exchange->headers.emplace_back(lower(trim(line.substr(0, colon))), trim(line.substr(colon + 1)));
  }
  return bytes;
}

// Where body bytes go: the exchange, and the handle to ask for the status code.
struct BodyContext {
  HttpRangeReader::Exchange* exchange;
  CURL* handle;
};

size_t onBody(char* data, size_t size, size_t count, void* opaque) {
  auto* context = static_cast<BodyContext*>(opaque);
  HttpRangeReader::Exchange& ex = *context->exchange;
  const size_t bytes = size * count;
  ex.body_bytes += bytes;
  if (!ex.decided) ex.decide(context->handle);
  if (!ex.failure.isOk()) return 0;  // abort: the reason is in ex.failure
  if (ex.mode == Mode::kProbe) {
    ex.complete = true;  // the headers told everything; no need for the body
    return 0;
  }
  if (!ex.deliver) {
    ex.discarded += bytes;
    return ex.discarded > kMaxDiscardedBody ? 0 : bytes;
  }
  if (ex.mode == Mode::kText) {
    if (ex.text.size() + bytes > ex.max_bytes) {
      ex.fail(Status::unavailable(ex.url + ": the listing is larger than " + std::to_string(ex.max_bytes) + " bytes"));
      return 0;
    }
    ex.text.append(data, bytes);
    return bytes;
  }
  const uint64_t wanted = ex.end - ex.position;
  const size_t take = static_cast<size_t>(std::min<uint64_t>(wanted, bytes));
  if (take > 0) {
    (*ex.sink)(ex.position, reinterpret_cast<const uint8_t*>(data), take);
    ex.position += take;
  }
  if (ex.position >= ex.end) {
    ex.complete = true;
    if (take < bytes) return 0;  // the rest of a whole-file answer is not needed
  }
  return bytes;
}

}  // namespace

HttpRangeReader::HttpRangeReader(HttpConfig config, const UrlPolicy* policy)
    : config_(std::move(config)), policy_(policy) {
  ensureCurlGlobalInit();
}

HttpRangeReader::~HttpRangeReader() = default;

UniqueCurl HttpRangeReader::acquire() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      UniqueCurl handle = std::move(idle_.back());
      idle_.pop_back();
      return handle;
    }
  }
  return UniqueCurl(curl_easy_init());
}

void HttpRangeReader::release(UniqueCurl handle) {
  if (!handle) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (idle_.size() < config_.max_idle_handles) idle_.push_back(std::move(handle));
}

HttpCounters HttpRangeReader::counters() const {
  HttpCounters counters;
  counters.requests = requests_.load();
  counters.body_bytes = body_bytes_.load();
  counters.retries = retries_.load();
  counters.failures = failures_.load();
  return counters;
}

void HttpRangeReader::perform(Exchange* ex) {
  ex->resetResponse();
  UniqueCurl handle = acquire();
  if (!handle) {
    ex->fail(Status::internal("cannot create a libcurl handle"));
    return;
  }
  CURL* h = handle.get();
  // Reset keeps the handle's live connections: what the pool is for.
  curl_easy_reset(h);
  BodyContext body{ex, h};
  curl_easy_setopt(h, CURLOPT_URL, ex->url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // followed by hand, through the policy
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, long(config_.timeout_ms));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, long(std::min(config_.connect_timeout_ms, config_.timeout_ms)));
  curl_easy_setopt(h, CURLOPT_USERAGENT, "framewire");
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ex->error_buffer);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &onHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, ex);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &onBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  std::string range_text;
  switch (ex->mode) {
    case Mode::kHead:
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
      break;
    case Mode::kProbe:
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
      curl_easy_setopt(h, CURLOPT_RANGE, "0-0");
      break;
    case Mode::kRange:
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
      range_text = std::to_string(ex->range->offset) + "-" +
                   std::to_string(ex->range->offset + ex->range->length - 1);
      curl_easy_setopt(h, CURLOPT_RANGE, range_text.c_str());
      break;
    case Mode::kText:
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
      break;
  }
  ++requests_;
  const uint64_t body_before = ex->body_bytes;
  ex->code = curl_easy_perform(h);
  body_bytes_ += ex->body_bytes - body_before;
  if (ex->status == 0) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ex->status);
  if (!ex->decided && ex->code == CURLE_OK) ex->decide(h);  // empty body (HEAD, 3xx, ...)
  char* location = nullptr;
  if (ex->status >= 300 && ex->status < 400 &&
      curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location) {
    ex->redirect = location;
  }
  curl_off_t content_length = -1;
  curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &content_length);
  release(std::move(handle));

  // The callbacks decided to stop: a deliberate cut (complete) or a failure (its reason).
  if (!ex->failure.isOk()) {
    if (ex->outcome != Outcome::kRetry) ex->outcome = Outcome::kFail;
    return;
  }
  if (ex->code != CURLE_OK && !(ex->code == CURLE_WRITE_ERROR && ex->complete)) {
    std::string reason = ex->error_buffer[0] ? ex->error_buffer : curl_easy_strerror(ex->code);
    ex->fail(Status::unavailable(ex->url + ": " + reason), retryableCurlError(ex->code));
    return;
  }
  const long status = ex->status;
  if (status >= 300 && status < 400 && status != 304) {
    if (ex->redirect.empty()) {
      ex->fail(Status::unavailable(ex->url + ": answered " + std::to_string(status) + " without a Location"));
    } else {
      ex->outcome = Outcome::kRedirect;
    }
    return;
  }
  if (status == 404 || status == 410) {
    ex->fail(Status::notFound(ex->url + ": " + statusText(status)));
    return;
  }
  if (status >= 500 || status == 429 || status == 408) {
    ex->fail(Status::unavailable(ex->url + ": the server answered " + statusText(status)), true);
    return;
  }
  switch (ex->mode) {
    case Mode::kHead:
    case Mode::kProbe: {
      uint64_t size = 0;
      bool known = false;
      if (status == 206) {
        uint64_t start = 0, last = 0, total = 0;
        const std::string* content_range = ex->header("content-range");
        known = content_range && parseContentRange(*content_range, &start, &last, &total) && total != UINT64_MAX;
        size = total;
      } else if (status == 200) {
        // For the probe's 200 (Range ignored) curl knows the body length from Content-Length.
        known = content_length >= 0;
        size = uint64_t(content_length);
      } else if (ex->mode == Mode::kProbe && status == 416) {
        known = true;  // an empty file: no byte 0 to send
        size = 0;
      }
      if (ex->mode == Mode::kHead && (status == 405 || status == 501 || (status == 200 && !known))) {
        ex->fail(Status::unavailable(ex->url + ": HEAD answered " + statusText(status)));
        ex->head_refused = true;
        return;
      }
      if (!known) {
        ex->fail(Status::unavailable(ex->url + ": the server answered " + statusText(status) +
                                     " and did not say how large the file is"));
        return;
      }
      ex->info.url = ex->url;
      ex->info.size = size;
      if (const std::string* etag = ex->header("etag")) ex->info.etag = *etag;
      if (const std::string* modified = ex->header("last-modified")) {
        ex->info.last_modified = *modified;
        const time_t parsed = curl_getdate(modified->c_str(), nullptr);
        ex->info.last_modified_s = parsed > 0 ? int64_t(parsed) : 0;
      }
      ex->outcome = Outcome::kDone;
      return;
    }
    case Mode::kText:
      if (status != 200) {
        ex->fail(Status::unavailable(ex->url + ": the server answered " + statusText(status)));
        return;
      }
      if (const std::string* type = ex->header("content-type")) {
        const std::string value = lower(*type);
        ex->content_type = trim(value.substr(0, value.find(';')));
      }
      ex->outcome = Outcome::kDone;
      return;
    case Mode::kRange:
      if (status == 416) {
        ex->changed = true;
        ex->fail(Status::unavailable(ex->url + " changed on the server: bytes " + std::to_string(ex->range->offset) +
                                     "-" + std::to_string(ex->range->offset + ex->range->length - 1) +
                                     " are no longer in the file (416)"));
        return;
      }
      if (status != 200 && status != 206) {
        ex->fail(Status::unavailable(ex->url + ": the server answered " + statusText(status)));
        return;
      }
      if (!ex->complete) {
        // The connection ended early without an error from curl (a body shorter than promised).
        ex->fail(Status::unavailable(ex->url + ": the answer ended after " + std::to_string(ex->body_bytes) +
                                     " bytes, before the requested range was complete"),
                 true);
        return;
      }
      ex->outcome = Outcome::kDone;
      return;
  }
}

Status HttpRangeReader::run(Exchange* ex) {
  const std::string first_url = ex->url;
  thread_local std::minstd_rand jitter(static_cast<unsigned>(
      std::hash<std::thread::id>()(std::this_thread::get_id())));
  for (int attempt = 0;; ++attempt) {
    ex->url = first_url;
    int redirects = 0;
    for (;;) {
      perform(ex);
      if (ex->outcome != Outcome::kRedirect) break;
      if (++redirects > config_.max_redirects) {
        ex->fail(Status::unavailable(first_url + ": more than " + std::to_string(config_.max_redirects) +
                                     " redirects"));
        break;
      }
      Result<UrlPolicy::Match> target = policy_->check(ex->redirect, /*allow_base_itself=*/true);
      if (!target.ok()) {
        ++failures_;
        return Status::forbidden(ex->url + " redirects to " + ex->redirect +
                                 ", which is not under a configured --remote-base");
      }
      if ((ex->mode == Mode::kHead || ex->mode == Mode::kProbe) && target->url.trailing_slash) {
        ++failures_;  // nginx and Apache send "a/b" to "a/b/" when it is a folder
        return Status::invalidArgument(first_url + " is a folder, not a movie");
      }
      ex->url = target->url.toString();
    }
    if (ex->outcome == Outcome::kDone) return Status::ok();
    if (ex->outcome == Outcome::kRetry && attempt < config_.retries) {
      ++retries_;
      const int64_t base = config_.retry_backoff_ms << std::min(attempt, 16);
      const int64_t wait = base + int64_t(jitter() % uint64_t(base / 4 + 1));  // up to +25%
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));
      continue;
    }
    ++failures_;
    if (ex->outcome == Outcome::kRetry && attempt > 0) {
      return Status(ex->failure.code(), ex->failure.message() + " (after " + std::to_string(attempt + 1) + " attempts)");
    }
    return ex->failure;
  }
}

Result<RemoteFileInfo> HttpRangeReader::stat(const std::string& url) {
  Exchange head;
  head.mode = Mode::kHead;
  head.url = url;
  Status status = run(&head);
  if (status.isOk()) {
    RemoteFileInfo info = head.info;
    Result<HttpUrl> parsed = parseHttpUrl(info.url);
    if (parsed.ok() && parsed->trailing_slash) {
      return Status::invalidArgument(url + " is a folder, not a movie");
    }
    return info;
  }
  if (!head.head_refused) return status;  // a real failure, not "HEAD is not supported here"
  Exchange probe;
  probe.mode = Mode::kProbe;
  probe.url = url;
  FW_RETURN_IF_ERROR(run(&probe));
  return probe.info;
}

Result<RangeReply> HttpRangeReader::getRange(const RangeRequest& request, const BodySink& sink, bool* changed) {
  if (changed) *changed = false;
  if (!request.expect || request.length == 0) return Status::internal("bad range request");
  Exchange ex;
  ex.mode = Mode::kRange;
  ex.url = request.url;
  ex.range = &request;
  ex.sink = &sink;
  Status status = run(&ex);
  if (changed) *changed = ex.changed;
  if (!status.isOk()) return status;
  RangeReply reply;
  reply.delivered_from = ex.ranges_ignored ? 0 : request.offset;
  reply.ranges_ignored = ex.ranges_ignored;
  return reply;
}

Result<HttpRangeReader::TextReply> HttpRangeReader::getText(const std::string& url, size_t max_bytes) {
  Exchange ex;
  ex.mode = Mode::kText;
  ex.url = url;
  ex.max_bytes = max_bytes;
  FW_RETURN_IF_ERROR(run(&ex));
  TextReply reply;
  reply.url = ex.url;
  reply.content_type = ex.content_type;
  reply.body = std::move(ex.text);
  return reply;
}

}  // namespace framewire
