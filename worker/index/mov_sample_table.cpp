#include "worker/index/mov_sample_table.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>

namespace framewire {
namespace {

constexpr uint32_t fourcc(const char (&text)[5]) {
  return (uint32_t(uint8_t(text[0])) << 24) | (uint32_t(uint8_t(text[1])) << 16) |
         (uint32_t(uint8_t(text[2])) << 8) | uint32_t(uint8_t(text[3]));
}

Status malformed(const std::string& what) { return Status::decodeError("mov sample tables: " + what); }

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
uint64_t be64(const uint8_t* p) { return (uint64_t(be32(p)) << 32) | be32(p + 4); }

// A bounds-checked view of bytes; every read fails instead of stepping outside.
class Span {
 public:
  Span(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t size() const { return size_; }
  const uint8_t* data() const { return data_; }
  bool has(size_t offset, size_t count) const { return offset <= size_ && count <= size_ - offset; }
  Span sub(size_t offset, size_t count) const { return Span(data_ + offset, count); }

 private:
  const uint8_t* data_;
  size_t size_;
};

struct Box {
  uint32_t type = 0;
  size_t header = 0;   // bytes before the payload
  Span payload{nullptr, 0};
};

// The boxes directly inside `span`, or an error when one does not fit.
Result<std::vector<Box>> childBoxes(Span span) {
  std::vector<Box> boxes;
  size_t at = 0;
  while (at < span.size()) {
    if (!span.has(at, 8)) {
      // Some writers pad containers with fewer than 8 zero bytes; FFmpeg stops there too.
      break;
    }
    uint64_t size = be32(span.data() + at);
    const uint32_t type = be32(span.data() + at + 4);
    size_t header = 8;
    if (size == 1) {
      if (!span.has(at, 16)) return malformed("truncated 64-bit box size");
      size = be64(span.data() + at + 8);
      header = 16;
    } else if (size == 0) {
      size = span.size() - at;  // to the end of the parent
    }
    if (size < header) return malformed("a box smaller than its header");
    if (size > span.size() - at) return malformed("a box runs past its parent");
    Box box;
    box.type = type;
    box.header = header;
    box.payload = span.sub(at + header, size_t(size) - header);
    boxes.push_back(box);
    at += size_t(size);
  }
  return boxes;
}

const Box* findBox(const std::vector<Box>& boxes, uint32_t type) {
  for (const Box& box : boxes) {
    if (box.type == type) return &box;
  }
  return nullptr;
}

// A "full box" payload: version, flags, then `fixed` more bytes and `count` entries of
// `entry_size` bytes at `entries_at`. Checks that they are all present.
Status checkTable(Span payload, size_t entries_at, uint64_t count, size_t entry_size, const char* name) {
  if (!payload.has(0, entries_at)) return malformed(std::string("truncated ") + name);
  const uint64_t available = (payload.size() - entries_at) / entry_size;
  if (count > available) {
    return malformed(std::string(name) + " lists " + std::to_string(count) + " entries but holds " +
                     std::to_string(available));
  }
  return Status::ok();
}

uint32_t trackId(Span tkhd) {
  if (!tkhd.has(0, 4)) return 0;
  const uint8_t version = tkhd.data()[0];
  const size_t at = version == 1 ? 4 + 16 : 4 + 8;
  return tkhd.has(at, 4) ? be32(tkhd.data() + at) : 0;
}

Status readSizes(const Box* stsz, const Box* stz2, const MovParseLimits& limits, std::vector<uint32_t>* sizes) {
  if (stsz) {
    const Span p = stsz->payload;
    FW_RETURN_IF_ERROR(checkTable(p, 12, 0, 1, "stsz"));
    const uint32_t constant = be32(p.data() + 4);
    const uint32_t count = be32(p.data() + 8);
    if (count > limits.max_samples) return malformed("too many samples: " + std::to_string(count));
    if (constant != 0) {
      sizes->assign(count, constant);
      return Status::ok();
    }
    FW_RETURN_IF_ERROR(checkTable(p, 12, count, 4, "stsz"));
    sizes->resize(count);
    for (uint32_t i = 0; i < count; ++i) (*sizes)[i] = be32(p.data() + 12 + size_t(i) * 4);
    return Status::ok();
  }
  if (stz2) {
    const Span p = stz2->payload;
    FW_RETURN_IF_ERROR(checkTable(p, 12, 0, 1, "stz2"));
    const unsigned field = p.data()[7];
    const uint32_t count = be32(p.data() + 8);
    if (count > limits.max_samples) return malformed("too many samples: " + std::to_string(count));
    if (field != 4 && field != 8 && field != 16) return malformed("stz2 field size " + std::to_string(field));
    const uint64_t bytes = (uint64_t(count) * field + 7) / 8;
    FW_RETURN_IF_ERROR(checkTable(p, 12, bytes, 1, "stz2"));
    sizes->resize(count);
    const uint8_t* table = p.data() + 12;
    for (uint32_t i = 0; i < count; ++i) {
      if (field == 16) {
        (*sizes)[i] = (uint32_t(table[2 * size_t(i)]) << 8) | table[2 * size_t(i) + 1];
      } else if (field == 8) {
        (*sizes)[i] = table[i];
      } else {
        const uint8_t byte = table[i / 2];
        (*sizes)[i] = (i % 2 == 0) ? (byte >> 4) : (byte & 0x0f);
      }
    }
    return Status::ok();
  }
  return malformed("no stsz or stz2 box");
}

Status readChunkOffsets(const Box* stco, const Box* co64, std::vector<uint64_t>* chunks) {
  const Box* box = stco ? stco : co64;
  if (!box) return malformed("no stco or co64 box");
  const size_t entry = stco ? 4 : 8;
  const Span p = box->payload;
  FW_RETURN_IF_ERROR(checkTable(p, 8, 0, 1, stco ? "stco" : "co64"));
  const uint32_t count = be32(p.data() + 4);
  FW_RETURN_IF_ERROR(checkTable(p, 8, count, entry, stco ? "stco" : "co64"));
  chunks->resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* at = p.data() + 8 + size_t(i) * entry;
    (*chunks)[i] = stco ? be32(at) : be64(at);
  }
  return Status::ok();
}

// Sample offsets: chunk by chunk (stsc says how many samples each holds), samples packed.
Status computeOffsets(const Box* stsc, const std::vector<uint64_t>& chunks, const std::vector<uint32_t>& sizes,
                      std::vector<uint64_t>* offsets) {
  if (!stsc) return malformed("no stsc box");
  const Span p = stsc->payload;
  FW_RETURN_IF_ERROR(checkTable(p, 8, 0, 1, "stsc"));
  const uint32_t count = be32(p.data() + 4);
  FW_RETURN_IF_ERROR(checkTable(p, 8, count, 12, "stsc"));
  if (count == 0) {
    if (sizes.empty()) return Status::ok();
    return malformed("stsc is empty but the track has samples");
  }
  offsets->clear();
  offsets->reserve(sizes.size());
  size_t sample = 0;
  for (uint32_t e = 0; e < count; ++e) {
    const uint8_t* entry = p.data() + 8 + size_t(e) * 12;
    const uint32_t first = be32(entry);                 // 1-based chunk number
    const uint32_t per_chunk = be32(entry + 4);
    const uint32_t next_first = e + 1 < count ? be32(entry + 12) : uint32_t(chunks.size()) + 1;
    if (first == 0 || (e == 0 && first != 1) || next_first < first || next_first > chunks.size() + 1) {
      return malformed("stsc chunk numbers out of order");
    }
    for (uint32_t chunk = first; chunk < next_first; ++chunk) {
      uint64_t at = chunks[chunk - 1];
      if (per_chunk > sizes.size() - sample) return malformed("the chunks hold more samples than stsz lists");
      for (uint32_t i = 0; i < per_chunk; ++i, ++sample) {
        offsets->push_back(at);
        at += sizes[sample];
      }
    }
  }
  if (sample != sizes.size()) return malformed("the chunks hold fewer samples than stsz lists");
  return Status::ok();
}

// Composition offsets as FFmpeg's mov_read_ctts + mov_build_index see them.
Status readCompositionOffsets(const Box* ctts, size_t samples, MovTrackSamples* track) {
  track->composition_offsets.clear();
  track->dts_shift = 0;
  if (!ctts) return Status::ok();
  const Span p = ctts->payload;
  FW_RETURN_IF_ERROR(checkTable(p, 8, 0, 1, "ctts"));
  const uint32_t entries = be32(p.data() + 4);
  FW_RETURN_IF_ERROR(checkTable(p, 8, entries, 8, "ctts"));
  std::vector<int32_t>& offsets = track->composition_offsets;
  offsets.reserve(samples);
  int64_t shift = 0;
  for (uint32_t i = 0; i < entries; ++i) {
    const uint8_t* entry = p.data() + 8 + size_t(i) * 8;
    const auto count = static_cast<int32_t>(be32(entry));
    const auto offset = static_cast<int32_t>(be32(entry + 4));
    if (count <= 0) continue;
    const bool counted = uint64_t(i) + 2 < entries;
    const int64_t magnitude = std::llabs(int64_t(offset));
    if (magnitude > (int64_t(1) << 28) && counted) {  // FFmpeg: "CTTS invalid", table dropped
      offsets.clear();
      track->dts_shift = 0;
      return Status::ok();
    }
    if (counted && offset < 0) {
      shift = std::max<int64_t>(shift, offset == INT32_MIN ? int64_t(INT32_MAX) : -int64_t(offset));
    }
    for (int32_t k = 0; k < count && offsets.size() < samples; ++k) offsets.push_back(offset);
  }
  track->dts_shift = shift;
  return Status::ok();
}

Result<MovTrackSamples> parseTrack(Span trak, uint32_t track_id, const MovParseLimits& limits) {
  FW_ASSIGN_OR_RETURN(std::vector<Box> trak_boxes, childBoxes(trak));
  const Box* mdia = findBox(trak_boxes, fourcc("mdia"));
  if (!mdia) return malformed("trak without mdia");
  FW_ASSIGN_OR_RETURN(std::vector<Box> mdia_boxes, childBoxes(mdia->payload));
  const Box* minf = findBox(mdia_boxes, fourcc("minf"));
  if (!minf) return malformed("mdia without minf");
  FW_ASSIGN_OR_RETURN(std::vector<Box> minf_boxes, childBoxes(minf->payload));
  const Box* stbl = findBox(minf_boxes, fourcc("stbl"));
  if (!stbl) return malformed("minf without stbl");
  FW_ASSIGN_OR_RETURN(std::vector<Box> tables, childBoxes(stbl->payload));

  MovTrackSamples track;
  track.track_id = track_id;
  FW_RETURN_IF_ERROR(
      readSizes(findBox(tables, fourcc("stsz")), findBox(tables, fourcc("stz2")), limits, &track.sizes));
  std::vector<uint64_t> chunks;
  FW_RETURN_IF_ERROR(readChunkOffsets(findBox(tables, fourcc("stco")), findBox(tables, fourcc("co64")), &chunks));
  FW_RETURN_IF_ERROR(computeOffsets(findBox(tables, fourcc("stsc")), chunks, track.sizes, &track.offsets));
  FW_RETURN_IF_ERROR(readCompositionOffsets(findBox(tables, fourcc("ctts")), track.sizes.size(), &track));
  return track;
}

}  // namespace

Result<MovTrackSamples> parseMovTrackSamples(const uint8_t* moov_payload, size_t size, uint32_t track_id,
                                             const MovParseLimits& limits, bool* fragmented) {
  FW_ASSIGN_OR_RETURN(std::vector<Box> boxes, childBoxes(Span(moov_payload, size)));
  if (fragmented) *fragmented = findBox(boxes, fourcc("mvex")) != nullptr;
  if (findBox(boxes, fourcc("cmov"))) return malformed("compressed moov atom");
  for (const Box& box : boxes) {
    if (box.type != fourcc("trak")) continue;
    FW_ASSIGN_OR_RETURN(std::vector<Box> children, childBoxes(box.payload));
    const Box* tkhd = findBox(children, fourcc("tkhd"));
    if (!tkhd || trackId(tkhd->payload) != track_id) continue;
    return parseTrack(box.payload, track_id, limits);
  }
  return malformed("no track with id " + std::to_string(track_id));
}

Result<MovFileLayout> readMovLayout(ByteSource& source, const MovParseLimits& limits) {
  const uint64_t file_size = source.size();
  MovFileLayout layout;
  bool found = false;
  uint64_t at = 0;
  for (int boxes = 0; at < file_size; ++boxes) {
    if (boxes == limits.max_top_level_boxes) {
      if (found && layout.fragmented) return layout;  // enough known: moov, and fragments follow
      return malformed("no moov among the first " + std::to_string(boxes) + " boxes");
    }
    uint8_t header[16];
    const size_t want = size_t(std::min<uint64_t>(16, file_size - at));
    FW_ASSIGN_OR_RETURN(size_t got, source.readAt(at, header, want));
    if (got < 8) break;  // trailing bytes too short for a box: the end, as for FFmpeg
    uint64_t size = be32(header);
    const uint32_t type = be32(header + 4);
    uint64_t header_size = 8;
    if (size == 1) {
      if (got < 16) return malformed("truncated 64-bit box size");
      size = be64(header + 8);
      header_size = 16;
    } else if (size == 0) {
      size = file_size - at;
    }
    if (size < header_size) return malformed("a top-level box smaller than its header");
    const bool truncated = size > file_size - at;
    if (type == fourcc("moov")) {
      if (truncated) return malformed("the moov atom is cut short");
      if (found) return malformed("two moov atoms");
      found = true;
      layout.moov_offset = at;
      layout.moov_size = size;
      layout.moov_header = header_size;
    } else if (type == fourcc("moof")) {
      layout.fragmented = true;
    }
    if (truncated) break;  // an mdat cut short at the end of a truncated file
    at += size;
    if (found && layout.fragmented) break;  // nothing more to learn
  }
  if (!found) return malformed("no moov atom");
  return layout;
}

Result<MovTrackSamples> readMovTrackSamples(ByteSource& source, MovFileLayout* layout, uint32_t track_id,
                                            const MovParseLimits& limits) {
  const uint64_t payload = layout->moov_size - layout->moov_header;
  if (payload > limits.max_moov_bytes) {
    return malformed("moov atom of " + std::to_string(payload) + " bytes is over the limit");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(payload));
  FW_ASSIGN_OR_RETURN(size_t got, source.readAt(layout->moov_offset + layout->moov_header, bytes.data(), bytes.size()));
  if (got != bytes.size()) return malformed("the moov atom could not be read whole");
  bool mvex = false;
  Result<MovTrackSamples> track = parseMovTrackSamples(bytes.data(), bytes.size(), track_id, limits, &mvex);
  if (mvex) layout->fragmented = true;
  return track;
}

}  // namespace framewire
