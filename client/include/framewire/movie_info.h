// MovieInfo and ListEntry: what INFO and LIST requests return, as plain values.
//
// Plain copyable structs, independent of the received messages; safe on any thread.
#pragma once

#include <cstdint>
#include <string>

namespace framewire {

// A movie's metadata (proto::MovieInfo).
struct MovieInfo {
  std::string movie;        // the path it was asked for
  int64_t numFrames = 0;    // frames a full decode yields; valid indices are 0..numFrames-1
  int width = 0;
  int height = 0;
  double fps = 0;           // average frame rate
  double duration = 0;      // seconds
  std::string codec;        // FFmpeg codec name: "prores", "h264"
  std::string pixelFormat;  // native pixel format: "yuv422p10le"
  int bitDepth = 0;
  uint64_t fileSize = 0;    // bytes
  int64_t keyframes = 0;    // number of keyframes
  int timeBaseNum = 0;      // the video stream's time base, the unit of Frame::pts()
  int timeBaseDen = 0;
  double startTime = 0;     // seconds of the first frame's pts
};

// One entry of a LIST reply (proto::ListEntry).
struct ListEntry {
  std::string name;   // folders end in "/"
  uint64_t size = 0;  // bytes (files)

  bool isFolder() const { return !name.empty() && name.back() == '/'; }
};

}  // namespace framewire
