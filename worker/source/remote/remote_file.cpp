#include "worker/source/remote/remote_file.h"

#include <algorithm>
#include <cstring>

namespace framewire {

RemoteFile::RemoteFile(RemoteFileInfo info, uint64_t id, HttpRangeReader* http, BlockCache* cache,
                       RemoteReadConfig config, std::shared_ptr<const void> keep_alive,
                       std::function<void()> on_changed)
    : info_(std::move(info)),
      id_(id),
      http_(http),
      cache_(cache),
      config_(config),
      keep_alive_(std::move(keep_alive)),
      on_changed_(std::move(on_changed)) {}

Result<std::vector<BlockCache::Block>> RemoteFile::fetchBlocks(uint64_t first, uint64_t count) {
  const uint64_t block_size = cache_->blockSize();
  const uint64_t start = first * block_size;
  const uint64_t end = std::min(info_.size, (first + count) * block_size);
  if (start >= end) return Status::internal("block fetch past the end of " + info_.url);
  std::vector<std::shared_ptr<std::vector<uint8_t>>> blocks(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t block_start = start + i * block_size;
    blocks[size_t(i)] = std::make_shared<std::vector<uint8_t>>(size_t(std::min(block_size, end - block_start)));
  }
  // Bytes land straight in their blocks; with a server ignoring Range, the bytes before
  // `start` are dropped.
  BodySink sink = [&](uint64_t offset, const uint8_t* data, size_t size) {
    if (offset + size <= start) return;
    if (offset < start) {
      data += start - offset;
      size -= size_t(start - offset);
      offset = start;
    }
    while (size > 0) {
      const uint64_t relative = offset - start;
      std::vector<uint8_t>& block = *blocks[size_t(relative / block_size)];
      const size_t within = size_t(relative % block_size);
      const size_t take = std::min(size, block.size() - within);
      std::memcpy(block.data() + within, data, take);
      data += take;
      size -= take;
      offset += take;
    }
  };
  RangeRequest request;
  request.url = info_.url;
  request.offset = start;
  request.length = end - start;
  request.expect = &info_;
  request.full_body_limit = info_.size <= config_.ignored_range_limit ? info_.size : 0;
  bool changed = false;
  Result<RangeReply> reply = http_->getRange(request, sink, &changed);
  if (!reply.ok()) {
    if (changed && !changed_.exchange(true) && on_changed_) on_changed_();
    return reply.status();
  }
  if (reply->ranges_ignored) ranges_ignored_ = true;
  std::vector<BlockCache::Block> result;
  result.reserve(blocks.size());
  for (auto& block : blocks) result.push_back(std::move(block));
  return result;
}

Result<size_t> RemoteFile::readAt(uint64_t offset, uint8_t* data, size_t size, uint64_t sequential_hint) {
  if (changed_.load()) {
    return Status::unavailable(info_.url + " changed on the server; it will be opened again");
  }
  if (offset >= info_.size || size == 0) return size_t(0);
  size = size_t(std::min<uint64_t>(size, info_.size - offset));
  const uint64_t block_size = cache_->blockSize();
  const uint64_t last_block = (info_.size - 1) / block_size;
  uint64_t first = offset / block_size;
  uint64_t last = (offset + size - 1) / block_size;
  uint64_t readahead_last = last;
  if (ranges_ignored_.load()) {
    // Each request costs the whole file from its start anyway: take it all, once.
    first = 0;
    readahead_last = last_block;
  } else if (sequential_hint >= std::max(config_.readahead_after_bytes, 2 * block_size) &&
             config_.max_readahead_bytes > 0) {
    // A reader walking forward: fetch half as much again as it has read in this run (so a
    // run that stops wastes at most a third of what was fetched), up to the limit.
    const uint64_t ahead = std::min(config_.max_readahead_bytes, sequential_hint / 2);
    readahead_last = std::min(last_block, last + (ahead + block_size - 1) / block_size);
  }
  FW_ASSIGN_OR_RETURN(std::vector<BlockCache::Block> blocks,
                      cache_->get(id_, first, last, readahead_last,
                                  [this](uint64_t run_first, uint64_t count) { return fetchBlocks(run_first, count); }));
  size_t copied = 0;
  uint64_t position = offset;
  while (copied < size) {
    const uint64_t index = position / block_size;
    const std::vector<uint8_t>& block = *blocks[size_t(index - first)];
    const size_t within = size_t(position % block_size);
    const size_t take = std::min(size - copied, block.size() - within);
    std::memcpy(data + copied, block.data() + within, take);
    copied += take;
    position += take;
  }
  return copied;
}

}  // namespace framewire
