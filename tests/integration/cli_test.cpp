// The `framewire` command line as a user runs it: real processes against a real server,
// checking output, files and exit codes (0 ok, 1 request failed, 2 usage error).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/integration/integration_test.h"
#include "tests/support/test_movies.h"

namespace framewire::testing {
namespace {

std::vector<uint8_t> readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class CliTest : public IntegrationTest {
 protected:
  void SetUp() override {
    IntegrationTest::SetUp();
    out_dir_ = makeTempDir("fw-cli-test");
  }
  void TearDown() override {
    IntegrationTest::TearDown();
    std::filesystem::remove_all(out_dir_);
  }
  // framewire COMMAND --server <the test server> ARGS...
  CommandResult run(const std::string& command, std::vector<std::string> args) {
    return runFramewire(command, server_->frontend(), args);
  }
  std::string out_dir_;
};

TEST_F(CliTest, GetWritesAViewablePng) {
  const std::string png = out_dir_ + "/frame.png";
  const CommandResult r = run("get", {kProres, "5", "-o", png});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const std::vector<uint8_t> bytes = readBytes(png);
  const std::vector<uint8_t> signature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  ASSERT_GE(bytes.size(), 100u);
  EXPECT_TRUE(std::equal(signature.begin(), signature.end(), bytes.begin()));
  // ffmpeg reads it back as a 320x240 picture.
  std::string probe;
  EXPECT_EQ(runCommand("ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0 '" + png +
                           "'",
                       &probe),
            0);
  EXPECT_EQ(probe, "320,240\n");
  // The header and the timings are printed.
  EXPECT_NE(r.out.find("frame 5"), std::string::npos) << describe(r);
  EXPECT_NE(r.out.find("keyframe"), std::string::npos) << describe(r);
  EXPECT_NE(r.out.find("timings"), std::string::npos) << describe(r);
  EXPECT_NE(r.out.find("decode"), std::string::npos) << describe(r);
}

TEST_F(CliTest, GetWritesJpegBmpAndRaw) {
  const std::string jpg = out_dir_ + "/frame.jpg";
  CommandResult r = run("get", {kH264, "3", "-o", jpg, "--quality", "80"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  auto bytes = readBytes(jpg);
  ASSERT_GE(bytes.size(), 3u);
  EXPECT_EQ(bytes[0], 0xff);
  EXPECT_EQ(bytes[1], 0xd8);

  const std::string bmp = out_dir_ + "/frame.bmp";
  r = run("get", {kH264, "3", "-o", bmp});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  bytes = readBytes(bmp);
  ASSERT_GE(bytes.size(), 2u);
  EXPECT_EQ(bytes[0], 'B');
  EXPECT_EQ(bytes[1], 'M');

  // Raw native pixels are exactly what ffmpeg decodes.
  const std::string raw = out_dir_ + "/frame.raw";
  r = run("get", {kH264, "17", "--format", "native", "-o", raw});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  bytes = readBytes(raw);
  EXPECT_EQ(bytes.size(), 320u * 240 * 3 / 2);
  EXPECT_EQ(md5Hex(bytes.data(), bytes.size()), oracleMd5s(kH264)[17]);

  // Raw rgb24 with crop and resize has the asked-for size.
  const std::string small = out_dir_ + "/small.raw";
  r = run("get", {kProres, "2", "--format", "rgb24", "--crop", "0,0,160,120", "--width", "80", "-o", small});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(readBytes(small).size(), 80u * 60 * 3);

  // By time: 0.75 s is frame 18 of a 24 fps movie (shown from 0.75 s to 0.79 s).
  const std::string at_time = out_dir_ + "/at-time.raw";
  r = run("get", {kH264, "--time", "0.77", "--format", "native", "-o", at_time});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("frame 18 of"), std::string::npos) << describe(r);
  bytes = readBytes(at_time);
  EXPECT_EQ(md5Hex(bytes.data(), bytes.size()), oracleMd5s(kH264)[18]);
}

TEST_F(CliTest, InfoPrintsJson) {
  const CommandResult r = run("info", {kProres});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out.front(), '{');
  EXPECT_NE(r.out.find("\"num_frames\": 48"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"width\": 320"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"codec\": \"prores\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"pixel_format\": \"yuv422p10le\""), std::string::npos) << r.out;
  // Python's json module agrees that it is JSON.
  const std::string json_path = out_dir_ + "/info.json";
  std::ofstream(json_path) << r.out;
  std::string parsed;
  EXPECT_EQ(runCommand("python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"num_frames\"])' '" +
                           json_path + "'",
                       &parsed),
            0);
  EXPECT_EQ(parsed, "48\n");
}

TEST_F(CliTest, LsListsEntries) {
  CommandResult r = run("ls", {});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find(std::string(kProres) + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::string(kH264) + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sub/\n"), std::string::npos) << r.out;
  r = run("ls", {"sub"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "nested.mov\n");
  r = run("ls", {"--long", "sub"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find(std::to_string(std::filesystem::file_size(server_->root() + "/sub/nested.mov"))),
            std::string::npos)
      << r.out;
}

TEST_F(CliTest, ServerErrorsExitWithOne) {
  CommandResult r = run("get", {"missing.mov", "0", "-o", out_dir_ + "/x.png"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find("framewire: NOT_FOUND"), std::string::npos) << describe(r);
  EXPECT_FALSE(std::filesystem::exists(out_dir_ + "/x.png"));

  r = run("get", {kProres, "48", "-o", out_dir_ + "/x.png"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find("framewire: OUT_OF_RANGE"), std::string::npos) << describe(r);

  r = run("info", {"../etc/passwd"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find("framewire: FORBIDDEN"), std::string::npos) << describe(r);

  r = run("ls", {"no-such-folder"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find("framewire: NOT_FOUND"), std::string::npos) << describe(r);
}

TEST_F(CliTest, ServerFromTheEnvironment) {
  ASSERT_EQ(setenv("FRAMEWIRE_SERVER", server_->frontend().c_str(), 1), 0);
  const CommandResult r = runProgram({binaryPath("framewire"), "ls"});
  unsetenv("FRAMEWIRE_SERVER");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find(kProres), std::string::npos) << describe(r);
}

// No server needed below; they run in this fixture for brevity.
TEST_F(CliTest, UnreachableServerTimesOut) {
  const CommandResult r = runProgram(
      {binaryPath("framewire"), "info", "--server", "tcp://127.0.0.1:1", "--timeout", "0.3", "--retries", "1", kProres});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find("framewire: TIMEOUT"), std::string::npos) << describe(r);
}

TEST_F(CliTest, HelpEverywhereAndUsageErrorsExitWithTwo) {
  const std::string framewire = binaryPath("framewire");
  CommandResult r = runProgram({framewire, "--help"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  for (const char* command : {"serve", "info", "get", "ls"}) {
    EXPECT_NE(r.out.find(command), std::string::npos) << "--help does not mention " << command;
    const CommandResult help = runProgram({framewire, command, "--help"});
    EXPECT_EQ(help.exit_code, 0) << command << " --help: " << describe(help);
    EXPECT_NE(help.out.find("Usage: framewire " + std::string(command)), std::string::npos) << describe(help);
  }
  for (const std::vector<std::string>& usage_error : std::vector<std::vector<std::string>>{
           {framewire},
           {framewire, "frobnicate"},
           {framewire, "get", kProres},                                 // no frame index
           {framewire, "get", kProres, "five", "-o", "x.png"},          // not a number
           {framewire, "get", kProres, "5", "-o", "x.tiff"},            // unknown output type
           {framewire, "get", kProres, "5", "-o", "x.png", "--encoding", "jpeg"},
           {framewire, "get", kProres, "5", "--crop", "1,2,3"},
           {framewire, "get", kProres, "5", "--time", "0.5"},           // both an index and a time
           {framewire, "get", kProres, "--time", "soon"},
           {framewire, "info"},                                         // no movie
           {framewire, "info", kProres, "--timeout", "-1"},
           {framewire, "ls", "--bogus"},
       }) {
    r = runProgram(usage_error);
    std::string line;
    for (const auto& a : usage_error) line += a + " ";
    EXPECT_EQ(r.exit_code, 2) << line << "\n" << describe(r);
    EXPECT_FALSE(r.err.empty()) << line;
  }
}

}  // namespace
}  // namespace framewire::testing
