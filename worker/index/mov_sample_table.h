// MovSampleTable: where the samples of one QuickTime/MP4 track lie and when they are shown,
// read from the file's moov atom without FFmpeg.
//
// Why it exists: FFmpeg's mov demuxer builds the stream's index entries (position, size,
// decode timestamp, keyframe and discard flags, edit lists applied) from the sample tables at
// open, but the composition offsets (ctts) that turn decode timestamps into presentation
// timestamps stay inside the demuxer. For codecs with B-frames those are what numbers frames
// in presentation order, so without them the only way to a frame table is reading every
// packet of the file. This parser reads them (and the sample positions, to match FFmpeg's
// entries to samples) from the moov alone: indexing a 14 GB movie costs its moov atom.
//
// What it reads: the top-level box list (to find moov, and moof boxes that make a file
// fragmented), and in the trak whose tkhd has the wanted track_ID: stsz/stz2 (sizes),
// stsc + stco/co64 (offsets), ctts (composition offsets). Composition offsets follow FFmpeg's
// reading (mov_read_ctts): entries with a count <= 0 are ignored, offsets are signed, a table
// with an offset beyond +-2^28 (other than in its last two entries) is dropped as invalid, and
// dts_shift is how far the negative offsets reach (ignoring the last two entries).
//
// The file is untrusted: every box size is checked against its parent and the file, every
// entry count against the bytes actually present, allocations are bounded by MovParseLimits,
// and anything malformed, unsupported (compressed moov) or inconsistent (the chunks hold more
// or fewer samples than stsz lists) is an error. Callers treat errors as "index some other way".
//
// Thread-safety: free functions over the caller's objects; the ByteSource must allow reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/status.h"
#include "worker/source/byte_source.h"

namespace framewire {

struct MovParseLimits {
  uint64_t max_moov_bytes = uint64_t(256) << 20;  // larger moov atoms are refused
  uint32_t max_samples = 50'000'000;               // per track
  int max_top_level_boxes = 4096;                  // boxes walked looking for moov
};

struct MovFileLayout {
  uint64_t moov_offset = 0;  // of the moov box header
  uint64_t moov_size = 0;    // of the whole box
  uint64_t moov_header = 8;  // header bytes (8, or 16 with a 64-bit size)
  bool fragmented = false;   // moof boxes follow, or moov has an mvex box
};

struct MovTrackSamples {
  uint32_t track_id = 0;
  std::vector<uint64_t> offsets;  // per sample, in decode order
  std::vector<uint32_t> sizes;    // per sample
  // Per sample, from ctts expanded and cut to the sample count; empty when the track has no
  // ctts (or FFmpeg would drop it as invalid). May be shorter than the sample list when ctts
  // covers fewer samples.
  std::vector<int32_t> composition_offsets;
  int64_t dts_shift = 0;  // FFmpeg's sc->dts_shift
};

// Walks the top-level boxes for moov. No moov, a truncated moov, a compressed (cmov) moov or
// malformed boxes: DECODE_ERROR.
Result<MovFileLayout> readMovLayout(ByteSource& source, const MovParseLimits& limits = {});

// Reads the moov atom and parses the track with `track_id`. Also sets layout->fragmented when
// moov holds an mvex box.
Result<MovTrackSamples> readMovTrackSamples(ByteSource& source, MovFileLayout* layout, uint32_t track_id,
                                            const MovParseLimits& limits = {});

// The same from the moov box's payload (the bytes after its header), for tests and fuzzing.
// `fragmented`, when given, is set when the moov holds an mvex box.
Result<MovTrackSamples> parseMovTrackSamples(const uint8_t* moov_payload, size_t size, uint32_t track_id,
                                             const MovParseLimits& limits = {}, bool* fragmented = nullptr);

}  // namespace framewire
