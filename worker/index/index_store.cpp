#include "worker/index/index_store.h"

#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/log.h"
#include "common/xxhash64.h"
#include "worker/source/byte_source.h"
#include "worker/index/movie_index_codec.h"

namespace fs = std::filesystem;

namespace framewire {
namespace {

constexpr size_t kHashedBytes = size_t(64) << 10;  // at each end of the movie
constexpr uint64_t kMaxIndexFile = uint64_t(1) << 30;

}  // namespace

Result<std::shared_ptr<IndexStore>> IndexStore::open(const std::string& dir) {
  const std::string folder =
      (fs::path(dir) / ("index-v" + std::to_string(MovieIndexCodec::kFormatVersion))).string();
  std::error_code error;
  fs::create_directories(folder, error);
  if (error || !fs::is_directory(folder, error)) {
    return Status::invalidArgument("cannot use state folder " + dir + ": " +
                                   (error ? error.message() : std::string("not a folder")));
  }
  return std::shared_ptr<IndexStore>(new IndexStore(folder));
}

std::string IndexStore::fileFor(const std::string& movie_path) const {
  char name[32];
  std::snprintf(name, sizeof name, "%016" PRIx64 ".fwidx", xxhash64(movie_path, 0));
  return (fs::path(folder_) / name).string();
}

Result<uint64_t> IndexStore::contentHash(const std::string& path) {
  FW_ASSIGN_OR_RETURN(std::shared_ptr<LocalFileSource> source, LocalFileSource::open(path));
  const uint64_t size = source->size();
  XxHash64 hash(0);
  hash.update(&size, sizeof size);
  std::vector<uint8_t> buffer(kHashedBytes);
  FW_ASSIGN_OR_RETURN(size_t head, source->readAt(0, buffer.data(), buffer.size()));
  hash.update(buffer.data(), head);
  if (size > kHashedBytes) {
    const uint64_t tail_at = size - std::min<uint64_t>(size - kHashedBytes, kHashedBytes);
    FW_ASSIGN_OR_RETURN(size_t tail, source->readAt(tail_at, buffer.data(), size_t(size - tail_at)));
    hash.update(buffer.data(), tail);
  }
  return hash.digest();
}

Result<std::shared_ptr<const MovieIndex>> IndexStore::load(const std::string& path, const FileSignature& signature) {
  FW_ASSIGN_OR_RETURN(uint64_t content_hash, contentHash(path));
  return loadWithHash(path, signature, content_hash);
}

Result<std::shared_ptr<const MovieIndex>> IndexStore::loadWithHash(const std::string& path,
                                                                   const FileSignature& signature,
                                                                   uint64_t content_hash) {
  const std::string file = fileFor(path);
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::notFound("no stored index for " + path);
  std::error_code error;
  const uintmax_t size = fs::file_size(file, error);
  if (error || size > kMaxIndexFile) {
    ++rejected_;
    return Status::decodeError("stored index " + file + " is unreadable or too large");
  }
  std::string bytes(size_t(size), '\0');
  in.read(bytes.data(), std::streamsize(bytes.size()));
  if (size_t(in.gcount()) != bytes.size()) {
    ++rejected_;
    return Status::decodeError("stored index " + file + " could not be read whole");
  }
  Result<MovieIndexCodec::Decoded> decoded = MovieIndexCodec::decode(bytes);
  if (!decoded.ok()) {
    ++rejected_;
    FW_LOG(kInfo, "index") << "ignoring " << file << ": " << decoded.status().message();
    return decoded.status();
  }
  const MovieIndex& index = *decoded->index;
  if (index.path() != path || index.signature() != signature || decoded->content_hash != content_hash) {
    ++rejected_;
    return Status::decodeError("stored index of " + path + " is for another version of the file");
  }
  ++loaded_;
  return decoded->index;
}

Status IndexStore::save(const MovieIndex& index) {
  FW_ASSIGN_OR_RETURN(uint64_t content_hash, contentHash(index.path()));
  return saveWithHash(index, content_hash);
}

Status IndexStore::saveWithHash(const MovieIndex& index, uint64_t content_hash) {
  const std::string file = fileFor(index.path());
  const std::string temp = file + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(temp_counter_++);
  const std::string bytes = MovieIndexCodec::encode(index, content_hash);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    out.close();
    if (!out) {
      std::error_code ignored;
      fs::remove(temp, ignored);
      ++save_failures_;
      return Status::unavailable("cannot write " + temp + ": " + std::strerror(errno));
    }
  }
  std::error_code error;
  fs::rename(temp, file, error);
  if (error) {
    fs::remove(temp, error);
    ++save_failures_;
    return Status::unavailable("cannot rename " + temp + " into place: " + error.message());
  }
  ++saved_;
  return Status::ok();
}

MovieCatalog::Builder IndexStore::cachingBuilder(std::shared_ptr<IndexStore> store, MovieCatalog::Builder build) {
  if (!store) return build;
  return [store = std::move(store), build = std::move(build)](
             const std::string& path, const FileSignature& signature) -> MovieCatalog::IndexResult {
    // Local files only (remote movies are named by URL, and their bytes cost more to hash).
    if (path.empty() || path[0] != '/') return build(path, signature);
    Result<uint64_t> content_hash = contentHash(path);
    if (content_hash.ok()) {
      auto stored = store->loadWithHash(path, signature, *content_hash);
      if (stored.ok()) return stored;
    }
    MovieCatalog::IndexResult built = build(path, signature);
    if (built.ok() && content_hash.ok()) {
      // The movie may have changed while it was indexed: store only what is still true.
      Result<FileSignature> now = fileSignature(path);
      if (now.ok() && *now == signature) {
        Status saved = store->saveWithHash(**built, *content_hash);
        if (!saved.isOk()) {
          FW_LOG(kWarn, "index") << "index of " << path << " not stored: " << saved.message();
        }
      }
    }
    return built;
  };
}

IndexStore::Counters IndexStore::counters() const {
  Counters c;
  c.loaded = loaded_.load();
  c.rejected = rejected_.load();
  c.saved = saved_.load();
  c.save_failures = save_failures_.load();
  return c;
}

}  // namespace framewire
