// Parsing and checking of `framewire get`'s arguments, apart from the command so unit tests
// reach it: frame indices and times, --crop rectangles, and which encoding an output file name implies.
// Stateless functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "framewire/client.h"

namespace framewire::cli {

// "x,y,w,h" (non-negative x and y, positive w and h) -> CropRect; INVALID_ARGUMENT otherwise.
Result<CropRect> parseCrop(const std::string& text);

// A decimal integer (a leading '-' allowed: the server answers OUT_OF_RANGE for it).
Result<int64_t> parseFrameIndex(const std::string& text);

// A time in seconds for --time: a finite decimal number ("12.5", "1e2"); a negative one is
// sent (the server answers OUT_OF_RANGE for it).
Result<double> parseFrameTime(const std::string& text);

// The encoding to request for writing `output_path`, given an optional --encoding:
// ".png" png, ".jpg"/".jpeg" jpeg, ".bmp" bmp, ".raw" raw (case-insensitive). An explicit
// --encoding wins for other names and for "-" (standard output); it must agree with a known
// extension. No output and no --encoding: raw. INVALID_ARGUMENT when it cannot be decided.
Result<std::string> chooseEncoding(const std::string& output_path, const std::string& requested_encoding);

// The output flags `get` and `warm` share, as given on the command line.
struct OutputFlags {
  std::string crop;  // --crop X,Y,W,H
  int64_t quality = 0;
  int64_t width = 0;
  int64_t height = 0;
};

// Checks `flags` and puts them into `options`; INVALID_ARGUMENT naming the flag otherwise.
Status applyOutputFlags(const OutputFlags& flags, FrameOptions* options);

}  // namespace framewire::cli
