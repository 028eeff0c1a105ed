#include "tests/support/test_movies.h"

#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <sstream>

#include <gtest/gtest.h>

extern "C" {
#include <libavutil/md5.h>
}

namespace fs = std::filesystem;

namespace framewire::testing {

std::string movieCacheDir() {
  std::string dir;
  if (const char* env = std::getenv("FRAMEWIRE_TEST_MOVIES"); env && *env) {
    dir = env;
  } else {
    dir = "/tmp/framewire-test-movies-" + std::to_string(getuid());
  }
  fs::create_directories(dir);
  return dir;
}

std::string makeTempDir(const std::string& prefix) {
  std::string pattern = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << pattern;
  return pattern;
}

int runCommand(const std::string& command, std::string* output) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return -1;
  std::array<char, 65536> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    if (output) output->append(buffer.data(), n);
  }
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string generateMovie(const std::string& name, const std::string& ffmpeg_args) {
  const fs::path path = fs::path(movieCacheDir()) / name;
  if (fs::exists(path)) return path.string();
  // Write under a temporary name, then rename: concurrent test processes never see half a movie.
  const fs::path partial = path.string() + ".partial-" + std::to_string(getpid()) + path.extension().string();
  const std::string command =
      "ffmpeg -nostdin -y -v error " + ffmpeg_args + " '" + partial.string() + "' 2>&1";
  std::string output;
  const int rc = runCommand(command, &output);
  if (rc != 0) {
    ADD_FAILURE() << "could not generate " << name << ": " << command << "\n" << output;
    fs::remove(partial);
    return path.string();
  }
  fs::rename(partial, path);
  return path.string();
}

std::string proresMovie() {
  return generateMovie(
      "prores-320x240.mov",
      "-f lavfi -i testsrc2=size=320x240:rate=24 -vf noise=alls=20:allf=t -frames:v 48 "
      "-c:v prores_ks -profile:v 3 -pix_fmt yuv422p10le");
}

std::string h264BFramesMovie() {
  return generateMovie(
      "h264-bframes-320x240.mp4",
      "-f lavfi -i testsrc2=size=320x240:rate=24 -vf noise=alls=10:allf=t -frames:v 72 "
      "-c:v libx264 -preset veryfast -pix_fmt yuv420p -g 12 -bf 3 -x264-params scenecut=0");
}

std::vector<std::string> frameMd5s(const std::string& movie) {
  std::string output;
  const int rc = runCommand("ffmpeg -nostdin -v error -i '" + movie +
                                "' -map 0:v:0 -fps_mode passthrough -f framemd5 -",
                            &output);
  EXPECT_EQ(rc, 0) << "ffmpeg framemd5 failed for " << movie;
  std::vector<std::string> md5s;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto comma = line.rfind(',');
    if (comma == std::string::npos) continue;
    std::string hash = line.substr(comma + 1);
    hash.erase(0, hash.find_first_not_of(' '));
    md5s.push_back(hash);
  }
  return md5s;
}

std::vector<uint8_t> rgb24Frames(const std::string& movie) {
  const fs::path out = fs::path(makeTempDir("fw-rgb24")) / "frames.rgb";
  const int rc = runCommand("ffmpeg -nostdin -v error -i '" + movie +
                            "' -map 0:v:0 -fps_mode passthrough -pix_fmt rgb24 -f rawvideo '" +
                            out.string() + "'");
  EXPECT_EQ(rc, 0) << "ffmpeg rawvideo failed for " << movie;
  std::vector<uint8_t> bytes(fs::exists(out) ? fs::file_size(out) : 0);
  if (FILE* f = std::fopen(out.c_str(), "rb")) {
    if (std::fread(bytes.data(), 1, bytes.size(), f) != bytes.size()) bytes.clear();
    std::fclose(f);
  }
  fs::remove_all(out.parent_path());
  return bytes;
}

std::string md5Hex(const void* data, size_t size) {
  uint8_t digest[16];
  av_md5_sum(digest, static_cast<const uint8_t*>(data), static_cast<int>(size));
  char hex[33];
  for (int i = 0; i < 16; ++i) std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  return std::string(hex, 32);
}

double psnr(const uint8_t* a, const uint8_t* b, size_t size) {
  double squared = 0;
  for (size_t i = 0; i < size; ++i) {
    const double d = double(a[i]) - double(b[i]);
    squared += d * d;
  }
  if (squared == 0) return std::numeric_limits<double>::infinity();
  const double mse = squared / double(size);
  return 10.0 * std::log10(255.0 * 255.0 / mse);
}

std::string binaryPath(const std::string& name) { return std::string(FRAMEWIRE_BIN_DIR) + "/" + name; }

std::string sourcePath(const std::string& relative) {
  return std::string(FRAMEWIRE_SOURCE_DIR) + "/" + relative;
}

}  // namespace framewire::testing
