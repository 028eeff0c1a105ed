// The mov/mp4 sample table parser: hand-built boxes (every table kind, FFmpeg's ctts quirks),
// real movies against FFmpeg's own packets, and damaged input that must fail cleanly.
#include "worker/index/mov_sample_table.h"

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/support/test_movies.h"
#include "tests/worker/worker_test_support.h"

namespace framewire {
namespace {

// Bytes in memory as a ByteSource.
class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::string bytes) : bytes_(std::move(bytes)) {}
  Result<size_t> readAt(uint64_t offset, uint8_t* data, size_t size, uint64_t) override {
    if (offset >= bytes_.size()) return size_t(0);
    const size_t n = std::min<size_t>(size, bytes_.size() - size_t(offset));
    std::memcpy(data, bytes_.data() + offset, n);
    return n;
  }
  uint64_t size() const override { return bytes_.size(); }
  const std::string& name() const override { return name_; }

 private:
  std::string bytes_;
  std::string name_ = "memory";
};

std::string u32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[size_t(i)] = char((v >> (24 - 8 * i)) & 0xff);
  return s;
}
std::string u64(uint64_t v) { return u32(uint32_t(v >> 32)) + u32(uint32_t(v)); }
std::string box(const char* type, const std::string& payload) { return u32(uint32_t(8 + payload.size())) + type + payload; }
std::string fullBox(const char* type, const std::string& payload) { return box(type, std::string(4, '\0') + payload); }

std::string tkhd(uint32_t track_id) {
  return fullBox("tkhd", u32(0) + u32(0) + u32(track_id) + std::string(72, '\0'));
}
std::string stsz(const std::vector<uint32_t>& sizes) {
  std::string p = u32(0) + u32(uint32_t(sizes.size()));
  for (uint32_t s : sizes) p += u32(s);
  return fullBox("stsz", p);
}
// stsc entries: (first chunk, samples per chunk)
std::string stsc(const std::vector<std::pair<uint32_t, uint32_t>>& entries) {
  std::string p = u32(uint32_t(entries.size()));
  for (auto [first, count] : entries) p += u32(first) + u32(count) + u32(1);
  return fullBox("stsc", p);
}
std::string stco(const std::vector<uint32_t>& chunks) {
  std::string p = u32(uint32_t(chunks.size()));
  for (uint32_t c : chunks) p += u32(c);
  return fullBox("stco", p);
}
std::string ctts(const std::vector<std::pair<int32_t, int32_t>>& entries) {
  std::string p = u32(uint32_t(entries.size()));
  for (auto [count, offset] : entries) p += u32(uint32_t(count)) + u32(uint32_t(offset));
  return fullBox("ctts", p);
}
std::string trak(uint32_t track_id, const std::string& tables) {
  return box("trak", tkhd(track_id) + box("mdia", box("minf", box("stbl", tables))));
}
std::string moovPayload(const std::string& traks) { return box("mvhd", std::string(100, '\0')) + traks; }

Result<MovTrackSamples> parse(const std::string& moov_payload, uint32_t track_id, bool* fragmented = nullptr) {
  return parseMovTrackSamples(reinterpret_cast<const uint8_t*>(moov_payload.data()), moov_payload.size(),
                              track_id, {}, fragmented);
}

TEST(MovSampleTableTest, OffsetsFollowChunksAndSizes) {
  // 5 samples: chunks 1-2 hold 2 samples each, chunk 3 holds 1.
  const std::string tables = stsz({10, 20, 30, 40, 50}) + stsc({{1, 2}, {3, 1}}) + stco({1000, 2000, 3000});
  auto track = parse(moovPayload(trak(7, tables)), 7);
  ASSERT_TRUE(track.ok()) << track.status().toString();
  EXPECT_EQ(track->offsets, (std::vector<uint64_t>{1000, 1010, 2000, 2030, 3000}));
  EXPECT_EQ(track->sizes, (std::vector<uint32_t>{10, 20, 30, 40, 50}));
  EXPECT_TRUE(track->composition_offsets.empty());
  EXPECT_EQ(track->dts_shift, 0);
}

TEST(MovSampleTableTest, PicksTheTrackByItsId) {
  const std::string a = trak(1, stsz({5}) + stsc({{1, 1}}) + stco({100}));
  const std::string b = trak(2, stsz({9, 9}) + stsc({{1, 2}}) + stco({500}));
  auto track = parse(moovPayload(a + b), 2);
  ASSERT_TRUE(track.ok());
  EXPECT_EQ(track->offsets, (std::vector<uint64_t>{500, 509}));
  EXPECT_FALSE(parse(moovPayload(a + b), 3).ok());
}

TEST(MovSampleTableTest, ConstantSizeStz2AndCo64) {
  std::string constant = fullBox("stsz", u32(8) + u32(3));
  auto track = parse(moovPayload(trak(1, constant + stsc({{1, 3}}) + stco({64}))), 1);
  ASSERT_TRUE(track.ok()) << track.status().toString();
  EXPECT_EQ(track->offsets, (std::vector<uint64_t>{64, 72, 80}));

  // stz2 with 4-bit fields: sizes 1, 2, 3 (packed 0x12 0x30), 64-bit chunk offsets.
  std::string stz2 = fullBox("stz2", std::string(3, '\0') + std::string(1, char(4)) + u32(3) + "\x12\x30");
  std::string co64 = fullBox("co64", u32(1) + u64(uint64_t(5) << 32));
  track = parse(moovPayload(trak(1, stz2 + stsc({{1, 3}}) + co64)), 1);
  ASSERT_TRUE(track.ok()) << track.status().toString();
  EXPECT_EQ(track->sizes, (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(track->offsets[2], (uint64_t(5) << 32) + 3);

  std::string stz2_16 = fullBox("stz2", std::string(3, '\0') + std::string(1, char(16)) + u32(2) + std::string("\x01\x00\x00\x02", 4));
  track = parse(moovPayload(trak(1, stz2_16 + stsc({{1, 2}}) + stco({0}))), 1);
  ASSERT_TRUE(track.ok());
  EXPECT_EQ(track->sizes, (std::vector<uint32_t>{256, 2}));
}

TEST(MovSampleTableTest, CompositionOffsetsAsFfmpegReadsThem) {
  const std::string base = stsz({1, 1, 1, 1, 1, 1}) + stsc({{1, 6}}) + stco({0});
  // Entries with count 0 are ignored; offsets are expanded and cut to the sample count.
  auto track = parse(moovPayload(trak(1, base + ctts({{2, 512}, {0, 99}, {1, -1024}, {1, 256}, {9, 256}}))), 1);
  ASSERT_TRUE(track.ok());
  EXPECT_EQ(track->composition_offsets, (std::vector<int32_t>{512, 512, -1024, 256, 256, 256}));
  // dts_shift counts negative offsets except in the last two entries.
  EXPECT_EQ(track->dts_shift, 1024);
  track = parse(moovPayload(trak(1, base + ctts({{3, 0}, {1, -512}, {2, 0}}))), 1);
  ASSERT_TRUE(track.ok());
  EXPECT_EQ(track->dts_shift, 0);
  // An offset beyond 2^28 (not in the last two entries) makes FFmpeg drop the table.
  track = parse(moovPayload(trak(1, base + ctts({{1, 1 << 29}, {2, 0}, {3, 0}}))), 1);
  ASSERT_TRUE(track.ok());
  EXPECT_TRUE(track->composition_offsets.empty());
}

TEST(MovSampleTableTest, InconsistentTablesAreErrors) {
  const std::string moov_ok = moovPayload(trak(1, stsz({1, 1, 1}) + stsc({{1, 3}}) + stco({0})));
  ASSERT_TRUE(parse(moov_ok, 1).ok());
  // The chunks hold more, or fewer, samples than stsz lists.
  EXPECT_FALSE(parse(moovPayload(trak(1, stsz({1, 1, 1}) + stsc({{1, 4}}) + stco({0}))), 1).ok());
  EXPECT_FALSE(parse(moovPayload(trak(1, stsz({1, 1, 1}) + stsc({{1, 1}}) + stco({0}))), 1).ok());
  // stsc chunk numbers going backwards, or not starting at 1.
  EXPECT_FALSE(parse(moovPayload(trak(1, stsz({1, 1}) + stsc({{2, 1}, {1, 1}}) + stco({0, 9}))), 1).ok());
  EXPECT_FALSE(parse(moovPayload(trak(1, stsz({1, 1}) + stsc({{2, 1}}) + stco({0, 9}))), 1).ok());
  // A table that claims more entries than it holds.
  std::string lying = fullBox("stsz", u32(0) + u32(1000000) + u32(1));
  EXPECT_FALSE(parse(moovPayload(trak(1, lying + stsc({{1, 1}}) + stco({0}))), 1).ok());
  // Missing tables.
  EXPECT_FALSE(parse(moovPayload(trak(1, stsc({{1, 1}}) + stco({0}))), 1).ok());
  EXPECT_FALSE(parse(moovPayload(trak(1, stsz({1}) + stco({0}))), 1).ok());
  EXPECT_FALSE(parse(moovPayload(trak(1, stsz({1}) + stsc({{1, 1}}))), 1).ok());
  // A box running past its parent; a compressed moov.
  EXPECT_FALSE(parse(moovPayload(u32(0x7fffffff) + "trak"), 1).ok());
  EXPECT_FALSE(parse(box("cmov", "zzzz") + moov_ok, 1).ok());
}

TEST(MovSampleTableTest, LayoutFindsMoovAndFragments) {
  const std::string moov = box("moov", moovPayload(trak(1, stsz({4}) + stsc({{1, 1}}) + stco({16}))));
  const std::string ftyp = box("ftyp", "isom0000");
  {
    MemorySource source(ftyp + box("mdat", "abcd") + moov);
    auto layout = readMovLayout(source);
    ASSERT_TRUE(layout.ok()) << layout.status().toString();
    EXPECT_EQ(layout->moov_offset, ftyp.size() + 12);
    EXPECT_FALSE(layout->fragmented);
    auto track = readMovTrackSamples(source, &*layout, 1);
    ASSERT_TRUE(track.ok());
    EXPECT_EQ(track->offsets, std::vector<uint64_t>{16});
  }
  {
    // A 64-bit mdat size, then moov, then fragments.
    std::string mdat = u32(1) + "mdat" + u64(16 + 4) + "abcd";
    MemorySource source(ftyp + mdat + moov + box("moof", "") + box("mdat", ""));
    auto layout = readMovLayout(source);
    ASSERT_TRUE(layout.ok()) << layout.status().toString();
    EXPECT_TRUE(layout->fragmented);
  }
  {
    bool fragmented = false;
    auto track = parse(box("mvex", "") + moovPayload(trak(1, stsz({4}) + stsc({{1, 1}}) + stco({16}))), 1,
                       &fragmented);
    EXPECT_TRUE(track.ok());
    EXPECT_TRUE(fragmented);
  }
  MemorySource no_moov(ftyp + box("mdat", "abcd"));
  EXPECT_FALSE(readMovLayout(no_moov).ok());
  MemorySource cut(ftyp + moov.substr(0, moov.size() - 3));
  EXPECT_FALSE(readMovLayout(cut).ok());
  MemorySource tiny("abc");
  EXPECT_FALSE(readMovLayout(tiny).ok());
}

std::string fileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Every sample of a real B-frame movie: position, size and pts as FFmpeg's demuxer gives them.
TEST(MovSampleTableTest, AgreesWithFfmpegOnARealMovie) {
  const std::string movie = testing::h264BFramesMovie();
  MemorySource source(fileBytes(movie));
  auto layout = readMovLayout(source);
  ASSERT_TRUE(layout.ok()) << layout.status().toString();
  auto track = readMovTrackSamples(source, &*layout, 1);
  ASSERT_TRUE(track.ok()) << track.status().toString();
  ASSERT_EQ(track->offsets.size(), 72u);
  ASSERT_EQ(track->composition_offsets.size(), 72u);

  AVFormatContext* raw = nullptr;
  ASSERT_EQ(avformat_open_input(&raw, movie.c_str(), nullptr, nullptr), 0);
  UniqueAVFormatContext format(raw);
  UniqueAVPacket packet = allocatePacket();
  size_t n = 0;
  while (av_read_frame(format.get(), packet.get()) >= 0) {
    if (packet->stream_index == 0) {
      ASSERT_LT(n, track->offsets.size());
      EXPECT_EQ(uint64_t(packet->pos), track->offsets[n]) << n;
      EXPECT_EQ(uint32_t(packet->size), track->sizes[n]) << n;
      EXPECT_EQ(packet->pts - packet->dts, track->dts_shift + track->composition_offsets[n]) << n;
      ++n;
    }
    av_packet_unref(packet.get());
  }
  EXPECT_EQ(n, 72u);
}

// Damaged moov atoms (random bytes changed, cut anywhere) fail or parse, but never crash,
// hang or allocate without bound.
TEST(MovSampleTableTest, SurvivesDamagedInput) {
  const std::string bytes = fileBytes(testing::h264BFramesMovie());
  MemorySource source(bytes);
  auto layout = readMovLayout(source);
  ASSERT_TRUE(layout.ok());
  const std::string moov = bytes.substr(size_t(layout->moov_offset + layout->moov_header),
                                        size_t(layout->moov_size - layout->moov_header));
  MovParseLimits limits;
  limits.max_samples = 1 << 20;
  for (size_t cut = 0; cut < moov.size(); cut += 7) {
    (void)parseMovTrackSamples(reinterpret_cast<const uint8_t*>(moov.data()), cut, 1, limits);
  }
  std::mt19937 random(11);
  int parsed = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string damaged = moov;
    const int changes = 1 + int(random() % 4);
    for (int c = 0; c < changes; ++c) {
      damaged[random() % damaged.size()] = char(random() & 0xff);
    }
    auto track = parseMovTrackSamples(reinterpret_cast<const uint8_t*>(damaged.data()), damaged.size(), 1, limits);
    if (track.ok()) {
      ++parsed;
      EXPECT_EQ(track->offsets.size(), track->sizes.size());
      EXPECT_LE(track->composition_offsets.size(), track->sizes.size());
    }
  }
  EXPECT_GT(parsed, 0);  // most single-byte changes hit sample data, not structure
  // Whole files cut short.
  for (size_t cut : {size_t(0), size_t(7), size_t(100), bytes.size() / 2, bytes.size() - 1}) {
    MemorySource truncated(bytes.substr(0, cut));
    auto cut_layout = readMovLayout(truncated);
    if (cut_layout.ok()) (void)readMovTrackSamples(truncated, &*cut_layout, 1, limits);
  }
}

}  // namespace
}  // namespace framewire
