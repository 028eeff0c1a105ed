// RemoteFile: a ByteSource over one version of one remote movie (HTTP range requests through
// the worker's BlockCache).
//
// A read maps its byte range to blocks; the block cache returns cached blocks, waits for
// blocks other readers are fetching, and fetches the missing ones with one range request per
// contiguous run (worker/source/remote/block_cache.h). Sequential readers get read-ahead: once a
// reader has read RemoteReadConfig::readahead_after_bytes (and two blocks) in one forward run
// (sequential_hint), a fetch is extended by half as much as the run so far, up to
// max_readahead_bytes. Opening a movie (probe, moov, the first packets) stays below that, and
// random reads (a seek to a frame) fetch exactly the blocks they touch.
//
// Versions: the RemoteFile stands for the file as RemoteFileInfo describes it (size, ETag,
// Last-Modified). Every range answer is checked against it; when the server holds another
// version the read fails (UNAVAILABLE, "changed on the server"), changed() turns true and the
// on_changed callback runs, so the owner re-checks the file and builds a new RemoteFile (with a
// new id, so the old blocks are never read again).
//
// Servers that ignore Range (answer 200 with the whole file): the first such answer is used
// from byte 0 up to the requested end; afterwards, while the file is at most
// RemoteReadConfig::ignored_range_limit bytes, reads fetch the whole file once (every block,
// one request) so later reads are cache hits; larger files fail with a clear UNAVAILABLE.
//
// Thread-safety: readAt() may be called concurrently; the rest is immutable or atomic.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "worker/source/byte_source.h"
#include "worker/source/remote/block_cache.h"
#include "worker/source/remote/http_range_reader.h"

namespace framewire {

struct RemoteReadConfig {
  uint64_t readahead_after_bytes = uint64_t(1) << 20;  // sequential run before read-ahead starts
  uint64_t max_readahead_bytes = uint64_t(4) << 20;
  // Largest file read from its start when the server ignores Range requests.
  uint64_t ignored_range_limit = uint64_t(64) << 20;
};

class RemoteFile final : public ByteSource {
 public:
  // `http` and `cache` must outlive the RemoteFile (RemoteArchive keeps them in a shared_ptr
  // the file holds: `keep_alive`). `id` names this version in the block cache.
  RemoteFile(RemoteFileInfo info, uint64_t id, HttpRangeReader* http, BlockCache* cache,
             RemoteReadConfig config, std::shared_ptr<const void> keep_alive,
             std::function<void()> on_changed = {});

  Result<size_t> readAt(uint64_t offset, uint8_t* data, size_t size, uint64_t sequential_hint = 0) override;
  uint64_t size() const override { return info_.size; }
  const std::string& name() const override { return info_.url; }

  const RemoteFileInfo& info() const { return info_; }
  uint64_t id() const { return id_; }
  bool changed() const { return changed_.load(); }
  bool rangesIgnored() const { return ranges_ignored_.load(); }

 private:
  Result<std::vector<BlockCache::Block>> fetchBlocks(uint64_t first, uint64_t count);

  const RemoteFileInfo info_;
  const uint64_t id_;
  HttpRangeReader* const http_;
  BlockCache* const cache_;
  const RemoteReadConfig config_;
  const std::shared_ptr<const void> keep_alive_;
  const std::function<void()> on_changed_;
  std::atomic<bool> changed_{false};
  std::atomic<bool> ranges_ignored_{false};
};

}  // namespace framewire
