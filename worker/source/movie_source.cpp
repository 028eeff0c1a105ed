#include "worker/source/movie_source.h"

#include <filesystem>
#include <map>

namespace framewire {
namespace {

bool isNotFound(const Status& status) { return status.code() == StatusCode::kNotFound; }

ResolvedMovie remoteMovie(const std::string& url, const std::shared_ptr<RemoteFile>& file) {
  ResolvedMovie movie;
  movie.kind = ResolvedMovie::Kind::kRemote;
  movie.key = url;
  movie.signature = remoteSignature(file->info());
  movie.bytes = file;
  return movie;
}

}  // namespace

const char* movieKindName(ResolvedMovie::Kind kind) {
  switch (kind) {
    case ResolvedMovie::Kind::kLocal: return "local";
    case ResolvedMovie::Kind::kOverlay: return "overlay";
    case ResolvedMovie::Kind::kRemote: return "remote";
  }
  return "unknown";
}

FileSignature remoteSignature(const RemoteFileInfo& info) {
  FileSignature signature;
  signature.size = info.size;
  signature.mtime_ns = info.last_modified_s * 1000000000;
  signature.inode = 0;
  // The ETag is the server's own version of the file; without one, Last-Modified's text
  // (second resolution) and the size are all there is.
  signature.version = "etag " + info.etag + "\nlast-modified " + info.last_modified;
  return signature;
}

Result<std::unique_ptr<MovieSources>> MovieSources::create(MovieSourcesConfig config) {
  std::unique_ptr<MovieSources> sources(new MovieSources(config));
  if (!config.remote.bases.empty()) {
    FW_ASSIGN_OR_RETURN(sources->remote_, RemoteArchive::create(config.remote));
  }
  return sources;
}

MovieSources::MovieSources(MovieSourcesConfig config) : config_(std::move(config)), roots_(config_.roots) {
  for (const auto& overlay : config_.overlays) overlays_.emplace_back(std::vector<std::string>{overlay});
}

Result<std::optional<ResolvedMovie>> MovieSources::fromOverlay(const std::string& relative) const {
  if (overlays_.empty()) return std::optional<ResolvedMovie>();
  std::string name = relative;
  if (config_.overlay_flatten) {
    name = std::filesystem::path(relative).filename().string();
    if (name.empty() || name == "." || name == "..") return std::optional<ResolvedMovie>();
  }
  for (const auto& overlay : overlays_) {
    Result<std::string> path = overlay.resolveMovie(name);
    if (!path.ok()) {
      if (isNotFound(path.status())) continue;
      return path.status();
    }
    FW_ASSIGN_OR_RETURN(FileSignature signature, fileSignature(*path));
    ResolvedMovie movie;
    movie.kind = ResolvedMovie::Kind::kOverlay;
    movie.key = *path;
    movie.signature = signature;
    return std::optional<ResolvedMovie>(std::move(movie));
  }
  return std::optional<ResolvedMovie>();
}

Result<ResolvedMovie> MovieSources::resolve(const std::string& name) {
  if (name.empty()) return Status::invalidArgument("empty movie name");
  if (looksLikeUrl(name)) {
    if (!remote_) {
      return Status::forbidden("movie '" + name + "' is a URL, and this worker has no --remote-base");
    }
    FW_ASSIGN_OR_RETURN(UrlPolicy::Match match, remote_->policy().check(name));
    FW_ASSIGN_OR_RETURN(std::optional<ResolvedMovie> overlay, fromOverlay(match.relative));
    if (overlay) return std::move(*overlay);
    const std::string url = match.url.toString();
    FW_ASSIGN_OR_RETURN(std::shared_ptr<RemoteFile> file, remote_->open(match.url));
    return remoteMovie(url, file);
  }
  Result<std::string> local = roots_.resolveMovie(name);
  if (local.ok()) {
    FW_ASSIGN_OR_RETURN(FileSignature signature, fileSignature(*local));
    ResolvedMovie movie;
    movie.kind = ResolvedMovie::Kind::kLocal;
    movie.key = *local;
    movie.signature = signature;
    return movie;
  }
  if (!isNotFound(local.status())) return local.status();
  FW_ASSIGN_OR_RETURN(std::optional<ResolvedMovie> overlay, fromOverlay(name));
  if (overlay) return std::move(*overlay);
  if (!remote_) return local.status();
  FW_ASSIGN_OR_RETURN(RemoteArchive::Opened opened, remote_->openRelative(name));
  return remoteMovie(opened.url, opened.file);
}

std::optional<ResolvedMovie> MovieSources::resolveWithoutNetwork(const std::string& name) {
  if (name.empty()) return std::nullopt;
  if (looksLikeUrl(name)) {
    if (!remote_) return std::nullopt;
    Result<UrlPolicy::Match> match = remote_->policy().check(name);
    if (!match.ok()) return std::nullopt;
    Result<std::optional<ResolvedMovie>> overlay = fromOverlay(match->relative);
    if (!overlay.ok()) return std::nullopt;
    if (*overlay) return std::move(**overlay);
    const std::string url = match->url.toString();
    if (auto file = remote_->openIfFresh(url)) return remoteMovie(url, file);
    return std::nullopt;
  }
  Result<std::string> local = roots_.resolveMovie(name);
  if (local.ok()) {
    Result<FileSignature> signature = fileSignature(*local);
    if (!signature.ok()) return std::nullopt;
    ResolvedMovie movie;
    movie.key = *local;
    movie.signature = *signature;
    return movie;
  }
  if (!isNotFound(local.status())) return std::nullopt;
  Result<std::optional<ResolvedMovie>> overlay = fromOverlay(name);
  if (!overlay.ok()) return std::nullopt;
  if (*overlay) return std::move(**overlay);
  if (!remote_) return std::nullopt;
  for (size_t i = 0; i < remote_->policy().bases().size(); ++i) {
    Result<HttpUrl> url = remote_->policy().join(i, name);
    if (!url.ok()) return std::nullopt;
    if (auto file = remote_->openIfFresh(url->toString())) return remoteMovie(url->toString(), file);
  }
  return std::nullopt;
}

std::shared_ptr<ByteSource> MovieSources::bytesFor(const std::string& key, const FileSignature& signature) const {
  if (!remote_ || !looksLikeUrl(key)) return nullptr;
  std::shared_ptr<RemoteFile> file = remote_->lastKnown(key);
  if (!file || remoteSignature(file->info()) != signature) return nullptr;
  return file;
}

Result<std::vector<FolderEntry>> MovieSources::list(const std::string& folder) {
  if (looksLikeUrl(folder)) {
    if (!remote_) {
      return Status::forbidden("folder '" + folder + "' is a URL, and this worker has no --remote-base");
    }
    FW_ASSIGN_OR_RETURN(UrlPolicy::Match match, remote_->policy().check(folder, /*allow_base_itself=*/true));
    return remote_->listUrl(match.url);
  }
  std::map<std::string, FolderEntry> merged;
  Result<std::vector<FolderEntry>> local = roots_.listFolder(folder);
  if (!local.ok() && !isNotFound(local.status())) return local.status();
  if (local.ok()) {
    for (auto& entry : *local) merged.emplace(entry.name, entry);
  }
  if (remote_) {
    Result<std::vector<FolderEntry>> remote = remote_->list(folder);
    if (remote.ok()) {
      for (auto& entry : *remote) merged.emplace(entry.name, entry);
    } else if (!local.ok()) {
      return remote.status();  // nothing local: the remote reason (NOT_FOUND or UNAVAILABLE)
    } else if (!isNotFound(remote.status()) && remote.status().code() != StatusCode::kUnavailable) {
      return remote.status();  // FORBIDDEN and the like
    }
    // A remote base that is down while a local root has the folder: list what is there.
  } else if (!local.ok()) {
    return local.status();
  }
  std::vector<FolderEntry> entries;
  entries.reserve(merged.size());
  for (auto& [name, entry] : merged) entries.push_back(std::move(entry));
  return entries;
}

JsonValue MovieSources::remoteStatsJson() const { return remote_ ? remote_->statsJson() : JsonValue(); }

}  // namespace framewire
