#include "worker/source/remote/remote_archive.h"

#include <algorithm>
#include <map>

#include "worker/source/remote/autoindex_listing.h"

namespace framewire {
namespace {

using Clock = std::chrono::steady_clock;

bool sameVersion(const RemoteFileInfo& a, const RemoteFileInfo& b) {
  return a.url == b.url && a.size == b.size && a.etag == b.etag && a.last_modified == b.last_modified;
}

}  // namespace

struct RemoteArchive::Io {
  Io(UrlPolicy p, const RemoteConfig& config)
      : policy(std::move(p)), http(config.http, &policy), cache(config.cache_bytes, config.block_size) {}
  const UrlPolicy policy;
  HttpRangeReader http;
  BlockCache cache;
};

struct RemoteArchive::Registry {
  struct Known {
    std::shared_ptr<RemoteFile> file;
    Clock::time_point checked;
    bool stale = false;
  };
  mutable std::mutex mutex;
  std::unordered_map<std::string, Known> files;  // by the URL asked (before redirects)
  uint64_t next_id = 1;

  void markStale(const std::string& url, uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = files.find(url);
    if (it != files.end() && it->second.file->id() == id) it->second.stale = true;
  }
};

Result<std::unique_ptr<RemoteArchive>> RemoteArchive::create(RemoteConfig config) {
  FW_ASSIGN_OR_RETURN(UrlPolicy policy, UrlPolicy::create(config.bases));
  if (config.block_size < 4096) return Status::invalidArgument("remote block size must be at least 4096 bytes");
  // A file read whole (its server ignores Range) is only worth it while it fits the cache.
  config.read.ignored_range_limit = std::min(config.read.ignored_range_limit, config.cache_bytes / 2);
  auto io = std::make_shared<Io>(std::move(policy), config);
  return std::unique_ptr<RemoteArchive>(new RemoteArchive(std::move(config), std::move(io)));
}

RemoteArchive::RemoteArchive(RemoteConfig config, std::shared_ptr<Io> io)
    : config_(std::move(config)), io_(std::move(io)), registry_(std::make_shared<Registry>()) {}

RemoteArchive::~RemoteArchive() = default;

const UrlPolicy& RemoteArchive::policy() const { return io_->policy; }

std::shared_ptr<RemoteFile> RemoteArchive::openIfFresh(const std::string& url) const {
  std::lock_guard<std::mutex> lock(registry_->mutex);
  auto it = registry_->files.find(url);
  if (it == registry_->files.end() || it->second.stale || it->second.file->changed()) return nullptr;
  if (Clock::now() - it->second.checked > std::chrono::milliseconds(config_.revalidate_ms)) return nullptr;
  return it->second.file;
}

std::shared_ptr<RemoteFile> RemoteArchive::lastKnown(const std::string& url) const {
  std::lock_guard<std::mutex> lock(registry_->mutex);
  auto it = registry_->files.find(url);
  return it == registry_->files.end() ? nullptr : it->second.file;
}

Result<std::shared_ptr<RemoteFile>> RemoteArchive::open(const HttpUrl& url) {
  const std::string text = url.toString();
  if (url.trailing_slash || url.segments.empty()) return Status::invalidArgument(text + " is a folder, not a movie");
  if (auto fresh = openIfFresh(text)) return fresh;
  Result<RemoteFileInfo> info = io_->http.stat(text);
  std::lock_guard<std::mutex> lock(registry_->mutex);
  auto it = registry_->files.find(text);
  if (!info.ok()) {
    // Gone: forget it. Unreachable: keep what we knew (stale until a check succeeds).
    if (it != registry_->files.end() && info.status().code() == StatusCode::kNotFound) {
      io_->cache.forget(it->second.file->id());
      registry_->files.erase(it);
    }
    return info.status();
  }
  if (it != registry_->files.end() && !it->second.file->changed() && sameVersion(it->second.file->info(), *info)) {
    it->second.checked = Clock::now();
    it->second.stale = false;
    return it->second.file;
  }
  if (it != registry_->files.end()) io_->cache.forget(it->second.file->id());
  const uint64_t id = registry_->next_id++;
  std::weak_ptr<Registry> weak = registry_;
  auto file = std::make_shared<RemoteFile>(std::move(info).value(), id, &io_->http, &io_->cache, config_.read,
                                           io_, [weak, text, id] {
                                             if (auto registry = weak.lock()) registry->markStale(text, id);
                                           });
  registry_->files[text] = Registry::Known{file, Clock::now(), false};
  if (registry_->files.size() > config_.max_known_files) {
    // Drop the least recently checked version (its readers keep their own reference).
    auto oldest = registry_->files.begin();
    for (auto i = registry_->files.begin(); i != registry_->files.end(); ++i) {
      if (i->second.checked < oldest->second.checked) oldest = i;
    }
    if (oldest->first != text) registry_->files.erase(oldest);
  }
  return file;
}

Result<RemoteArchive::Opened> RemoteArchive::openRelative(const std::string& relative) {
  const auto& bases = io_->policy.bases();
  if (bases.empty()) return Status::notFound("no movie '" + relative + "' (no --remote-base is configured)");
  Status unreachable;
  for (size_t i = 0; i < bases.size(); ++i) {
    FW_ASSIGN_OR_RETURN(HttpUrl url, io_->policy.join(i, relative));
    Result<std::shared_ptr<RemoteFile>> file = open(url);
    if (file.ok()) return Opened{url.toString(), std::move(file).value()};
    const StatusCode code = file.status().code();
    if (code == StatusCode::kNotFound) continue;
    if (code == StatusCode::kUnavailable || code == StatusCode::kTimeout) {
      if (unreachable.isOk()) unreachable = file.status();
      continue;  // another base may have it
    }
    return file.status();  // FORBIDDEN redirect, a folder, ...
  }
  if (!unreachable.isOk()) return unreachable;
  if (bases.size() == 1) {
    return Status::notFound("no movie '" + relative + "' under the roots or at " +
                            io_->policy.join(0, relative)->toString());
  }
  return Status::notFound("no movie '" + relative + "' under the roots or the " + std::to_string(bases.size()) +
                          " remote bases");
}

Result<std::vector<FolderEntry>> RemoteArchive::listUrl(const HttpUrl& folder) {
  HttpUrl url = folder;
  url.trailing_slash = true;
  FW_ASSIGN_OR_RETURN(HttpRangeReader::TextReply reply, io_->http.getText(url.toString(), config_.max_listing_bytes));
  if (reply.content_type != "text/html" && reply.content_type != "application/xhtml+xml") {
    return Status::invalidArgument(url.toString() + " is not a folder listing (Content-Type " +
                                   (reply.content_type.empty() ? std::string("none") : reply.content_type) + ")");
  }
  Result<HttpUrl> answered = parseHttpUrl(reply.url);
  const HttpUrl& listed = answered.ok() ? *answered : url;
  std::string path = "/";
  for (const auto& segment : listed.segments) path += segment + "/";
  return parseAutoindex(reply.body, path);
}

Result<std::vector<FolderEntry>> RemoteArchive::list(const std::string& relative_folder) {
  const auto& bases = io_->policy.bases();
  std::map<std::string, FolderEntry> merged;
  bool found = false;
  Status unreachable;
  for (size_t i = 0; i < bases.size(); ++i) {
    FW_ASSIGN_OR_RETURN(HttpUrl url, io_->policy.join(i, relative_folder, /*folder=*/true));
    Result<std::vector<FolderEntry>> entries = listUrl(url);
    if (!entries.ok()) {
      const StatusCode code = entries.status().code();
      if (code == StatusCode::kNotFound || code == StatusCode::kInvalidArgument) continue;
      if (unreachable.isOk()) unreachable = entries.status();
      continue;
    }
    found = true;
    for (auto& entry : *entries) merged.emplace(entry.name, entry);
  }
  if (!found) {
    if (!unreachable.isOk()) return unreachable;
    return Status::notFound("no folder '" + relative_folder + "' at the remote bases");
  }
  std::vector<FolderEntry> out;
  out.reserve(merged.size());
  for (auto& [name, entry] : merged) out.push_back(std::move(entry));
  return out;
}

BlockCache::Stats RemoteArchive::cacheStats() const { return io_->cache.stats(); }
HttpCounters RemoteArchive::httpCounters() const { return io_->http.counters(); }

JsonValue RemoteArchive::statsJson() const {
  const BlockCache::Stats cache = io_->cache.stats();
  const HttpCounters http = io_->http.counters();
  JsonValue json = JsonValue::object();
  JsonValue bases = JsonValue::array();
  for (const auto& base : io_->policy.bases()) bases.push(JsonValue(base.toString()));
  json.set("bases", bases);
  {
    std::lock_guard<std::mutex> lock(registry_->mutex);
    json.set("known_files", JsonValue(uint64_t(registry_->files.size())));
  }
  JsonValue blocks = JsonValue::object();
  blocks.set("capacity_bytes", JsonValue(cache.capacity_bytes));
  blocks.set("block_size", JsonValue(cache.block_size));
  blocks.set("bytes", JsonValue(cache.bytes));
  blocks.set("blocks", JsonValue(cache.blocks));
  blocks.set("hits", JsonValue(cache.hits));
  blocks.set("misses", JsonValue(cache.misses));
  blocks.set("readahead", JsonValue(cache.readahead));
  blocks.set("joined", JsonValue(cache.joined));
  blocks.set("fetches", JsonValue(cache.fetches));
  blocks.set("fetch_failures", JsonValue(cache.failures));
  blocks.set("evictions", JsonValue(cache.evictions));
  json.set("block_cache", blocks);
  JsonValue requests = JsonValue::object();
  requests.set("requests", JsonValue(http.requests));
  requests.set("body_bytes", JsonValue(http.body_bytes));
  requests.set("retries", JsonValue(http.retries));
  requests.set("failures", JsonValue(http.failures));
  json.set("http", requests);
  return json;
}

}  // namespace framewire
