// XXH64: a fast non-cryptographic 64-bit hash (Yann Collet's xxHash, 64-bit variant).
//
// framewire uses it where it needs a well-spread hash of bytes that is stable across runs,
// machines and versions: the disk frame cache (file names of entries, and the checksum that
// catches a damaged entry) and the broker's rendezvous hashing (which worker a movie goes
// to). Its output equals the reference implementation's (libxxhash XXH64) for every input
// and seed, so files written by one build are read by another. Not for anything adversarial.
//
// Thread-safety: xxhash64() is a pure function; an XxHash64 object is used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace framewire {

// The hash of [data, data + size) with `seed` (no default: ("text", 7) must not read 7 bytes).
uint64_t xxhash64(const void* data, size_t size, uint64_t seed);
inline uint64_t xxhash64(std::string_view text, uint64_t seed = 0) {
  return xxhash64(text.data(), text.size(), seed);
}

// The same hash over data that arrives in pieces: update() any number of times, then
// digest() (which may be called again after more updates).
class XxHash64 {
 public:
  explicit XxHash64(uint64_t seed = 0);
  void update(const void* data, size_t size);
  uint64_t digest() const;

 private:
  uint64_t seed_;
  uint64_t total_ = 0;
  uint64_t lanes_[4];
  unsigned char buffer_[32];
  size_t buffered_ = 0;
};

}  // namespace framewire
