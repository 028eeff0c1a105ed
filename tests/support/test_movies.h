// Test movies and the frame-identity oracle, shared by the C++ tests.
//
// Movies are generated with the ffmpeg command line into a per-user cache folder the first
// time a test asks for them (small ones, a few hundred KB) and reused afterwards, so no
// binary is ever committed. The oracle is `ffmpeg -map 0:v:0 -fps_mode passthrough -f
// framemd5`: one MD5 per decoded frame in presentation order, in the native pixel format.
// Functions are safe to call from several test processes at once (files are written to a
// temporary name and renamed into place).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace framewire::testing {

// Folder holding generated movies ($FRAMEWIRE_TEST_MOVIES, else /tmp/framewire-test-movies-UID).
std::string movieCacheDir();

// A fresh empty folder for one test (removed by the caller if it cares).
std::string makeTempDir(const std::string& prefix);

// Runs a shell command; returns its exit status and (optionally) its standard output.
int runCommand(const std::string& command, std::string* output = nullptr);

// Generates `name` in movieCacheDir() by running `ffmpeg -y -v error <ffmpeg_args> <path>`
// unless it is already there; returns the full path. Aborts the test on failure.
std::string generateMovie(const std::string& name, const std::string& ffmpeg_args);

// Ready-made small movies:
std::string proresMovie();        // 320x240 ProRes 422 HQ (yuv422p10le), 48 frames @ 24 fps, .mov
std::string h264BFramesMovie();   // 320x240 H.264 yuv420p, GOP 12, 3 B-frames, 72 frames @ 24 fps, .mp4

// One MD5 (hex) per frame of the movie's first video stream, in presentation order.
std::vector<std::string> frameMd5s(const std::string& movie);

// The same frames converted by ffmpeg to packed rgb24, concatenated (width*height*3 each).
std::vector<uint8_t> rgb24Frames(const std::string& movie);

std::string md5Hex(const void* data, size_t size);

// PSNR in dB between two byte buffers of equal size (infinity when identical).
double psnr(const uint8_t* a, const uint8_t* b, size_t size);

// Paths of the built binaries (build/bin/framewire, ...) and the source tree.
std::string binaryPath(const std::string& name);
std::string sourcePath(const std::string& relative);

}  // namespace framewire::testing
