// Frames in a client's shared memory (PROTOCOL.md 3, "Frames in shared memory").
//
// A client on the worker's host offers extents of a sealed memfd of its own; the worker puts
// a reply's payload parts there and sends only the header. For 1080p rgb24 that trades two
// socket copies, the socket's CPU and the client's fresh receive buffer (page faults on 6.2 MB
// a frame) for one copy into pages the client keeps reusing; a frame converted for the request
// is even written there by the conversion itself, next to the copy the frame cache keeps
// (reserve(), ~1.4 ms less per 1080p frame than copying it afterwards).
//
// SharedSegment: one verified, mapped client segment (unmapped when the last user lets go).
// SharedSegments: the worker's segments, opened once and reused while the client uses them.
// SharedPlacement: where one request's parts go. Placement depends only on the request (the
// extents, and each distinct frame's parts in order of its first request position), so a
// request dispatched again to another worker on the host writes the same bytes to the same
// offsets: frames the client already holds from the first worker stay intact.
//
// Nothing here trusts the client: a segment is written only after the path, the file kind,
// its size, its seals and its token check out, and only inside the extents the request names.
//
// Thread-safety: SharedSegments and SharedPlacement may be used from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "framewire_generated.h"
#include "worker/worker_reply.h"

namespace framewire {

class SharedSegment {
 public:
  static constexpr uint64_t kHeaderBytes = 4096;  // the segment's first page: magic + token
  static constexpr uint64_t kPartAlignment = 64;
  static constexpr size_t kMaxExtents = 64;

  // Opens, checks and maps the client's segment; an error says which check failed.
  static Result<std::shared_ptr<SharedSegment>> open(const std::string& path, const std::string& token,
                                                     uint64_t size);
  ~SharedSegment();
  SharedSegment(const SharedSegment&) = delete;
  SharedSegment& operator=(const SharedSegment&) = delete;

  uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  // True while `path` still names the file this segment mapped (the client has not closed it).
  bool stillAt(const std::string& path) const;

 private:
  SharedSegment(uint8_t* data, uint64_t size, dev_t device, ino_t inode)
      : data_(data), size_(size), device_(device), inode_(inode) {}

  uint8_t* data_;
  uint64_t size_;
  dev_t device_;
  ino_t inode_;
};

// Where one request's payload parts go. An inactive placement (no offer, or one that did not
// check out) keeps every part in the message.
class SharedPlacement {
 public:
  struct Extent {
    uint64_t offset = 0;
    uint64_t length = 0;
  };

  SharedPlacement() = default;
  SharedPlacement(std::shared_ptr<SharedSegment> segment, std::vector<Extent> extents);

  bool active() const { return segment_ != nullptr; }
  // The segment (null when inactive): whoever points into it holds this to keep it mapped.
  const std::shared_ptr<SharedSegment>& segment() const { return segment_; }

  // The places of distinct frame `frame`'s `parts`: copied into the segment on the first call
  // (first fit, in extent order) unless the frame was written there already (reserve()), the
  // same places on later calls. One entry per part: its offset and size, or {0, 0} for a part
  // that stays in the message (no room, or parts of another size than reserved).
  std::vector<proto::SharedPart> place(size_t frame, const std::vector<PayloadPart>& parts);

  // Converting straight into the segment: reserve() gives distinct frame `frame` the place
  // place() would give a single part of `size` bytes, now. (Placement stays a function of the
  // request alone only if every frame is reserved, in order of first request position, before
  // any is placed.) reservedFor() is then where to write those bytes: null unless the frame
  // was reserved for exactly `size` bytes and room was found. Whoever wrote them says so with
  // writtenInPlace(), and place() does not copy the frame again.
  // `slack` bytes after the place are reserved as well (for writers that may overrun).
  void reserve(size_t frame, uint64_t size, uint64_t slack = 0);
  uint8_t* reservedFor(size_t frame, uint64_t size) const;
  void writtenInPlace(size_t frame);

  uint64_t partsPlaced() const;
  uint64_t bytesPlaced() const;
  uint64_t partsWrittenInPlace() const;

 private:
  struct Placed {
    std::vector<proto::SharedPart> places;
    bool written = false;  // the bytes are in the segment
  };

  // First-fit places for parts of `sizes`, each taking `slack` bytes more room (mutex_ held).
  std::vector<proto::SharedPart> assign(const std::vector<uint64_t>& sizes, uint64_t slack = 0);
  // Marks the frame's bytes as in the segment and counts its parts; returns how many (mutex_ held).
  uint64_t markWrittenLocked(Placed* placed);

  std::shared_ptr<SharedSegment> segment_;
  mutable std::mutex mutex_;
  std::vector<Extent> room_;  // what is left of each extent
  std::unordered_map<size_t, Placed> placed_;
  uint64_t parts_placed_ = 0;
  uint64_t bytes_placed_ = 0;
  uint64_t parts_written_in_place_ = 0;
};

class SharedSegments {
 public:
  struct Counters {
    uint64_t opened = 0;         // segments opened and mapped
    uint64_t refused = 0;        // offers not used: a check failed (last_refusal says which)
    uint64_t parts_placed = 0;   // payload parts written into client segments
    uint64_t bytes_placed = 0;
    uint64_t parts_written_in_place = 0;  // of which converted straight into the segment
    std::string last_refusal;
  };

  explicit SharedSegments(size_t max_segments = 8, std::chrono::seconds max_idle = std::chrono::seconds(60));

  // The placement for `request`'s offer (inactive without one, or when it does not check out).
  std::shared_ptr<SharedPlacement> placementFor(const proto::Request& request);

  // Counts what a finished request's placement wrote.
  void account(const SharedPlacement& placement);

  Counters counters() const;
  size_t mapped() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::string key;  // path + token
    std::shared_ptr<SharedSegment> segment;
    Clock::time_point last_used;
  };

  Result<std::shared_ptr<SharedSegment>> segmentFor(const std::string& path, const std::string& token, uint64_t size);
  void refuse(const std::string& why);

  const size_t max_segments_;
  const std::chrono::seconds max_idle_;
  mutable std::mutex mutex_;
  std::list<Entry> entries_;  // most recently used first
  Counters counters_;
};

}  // namespace framewire
