// Path confinement and folder listing (MovieRoots).
#include "worker/source/movie_path.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/test_movies.h"

namespace fs = std::filesystem;

namespace framewire {
namespace {

void writeFile(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << content;
}

class MovieRootsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::path(testing::makeTempDir("fw-roots"));
    root_ = base_ / "root";
    root2_ = base_ / "root2";  // shares "root" as a string prefix, not as a folder
    writeFile(root_ / "a.mov", "movie a");
    writeFile(root_ / "sub" / "b.mov", "movie bb");
    writeFile(root_ / ".hidden.mov", "hidden");
    writeFile(root2_ / "secret.mov", "secret");
    writeFile(root2_ / "only2.mov", "only in root2");
    writeFile(root2_ / "a.mov", "root2's a");
    writeFile(base_ / "outside.mov", "outside");
    fs::create_symlink(base_ / "outside.mov", root_ / "escape.mov");
    fs::create_symlink("../root2/secret.mov", root_ / "sibling.mov");
    fs::create_symlink(base_, root_ / "up");
    fs::create_symlink("sub/b.mov", root_ / "inside.mov");
    fs::create_symlink("missing.mov", root_ / "dangling.mov");
  }
  void TearDown() override { fs::remove_all(base_); }

  fs::path base_, root_, root2_;
};

TEST_F(MovieRootsTest, ResolvesRelativePaths) {
  MovieRoots roots({root_.string()});
  auto a = roots.resolveMovie("a.mov");
  ASSERT_TRUE(a.ok()) << a.status().toString();
  EXPECT_EQ(*a, fs::canonical(root_ / "a.mov").string());
  auto b = roots.resolveMovie("sub/b.mov");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(roots.resolveMovie("./sub//b.mov").ok());
  auto inside = roots.resolveMovie("inside.mov");  // a symlink that stays in the root
  ASSERT_TRUE(inside.ok()) << inside.status().toString();
  EXPECT_EQ(*inside, *b);
}

TEST_F(MovieRootsTest, ForbidsEscapes) {
  MovieRoots roots({root_.string()});
  for (const char* path : {"../outside.mov", "sub/../../outside.mov", "sub/../a.mov", "..",
                           "/etc/passwd", "escape.mov", "sibling.mov", "up/outside.mov",
                           "up/root2/secret.mov"}) {
    auto resolved = roots.resolveMovie(path);
    ASSERT_FALSE(resolved.ok()) << path;
    EXPECT_EQ(resolved.status().code(), StatusCode::kForbidden) << path << ": " << resolved.status().toString();
  }
}

TEST_F(MovieRootsTest, MissingEmptyAndSpecialFiles) {
  MovieRoots roots({root_.string()});
  EXPECT_EQ(roots.resolveMovie("nope.mov").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(roots.resolveMovie("sub/nope/x.mov").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(roots.resolveMovie("dangling.mov").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(roots.resolveMovie("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(roots.resolveMovie("sub").status().code(), StatusCode::kInvalidArgument);
  ASSERT_EQ(::mkfifo((root_ / "fifo.mov").c_str(), 0600), 0);
  EXPECT_EQ(roots.resolveMovie("fifo.mov").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(roots.resolveMovie(std::string("a.mov\0x", 7)).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(MovieRootsTest, FirstRootHoldingTheMovieWins) {
  MovieRoots roots({root_.string(), root2_.string()});
  EXPECT_EQ(*roots.resolveMovie("a.mov"), fs::canonical(root_ / "a.mov").string());
  EXPECT_EQ(*roots.resolveMovie("only2.mov"), fs::canonical(root2_ / "only2.mov").string());
  // A root that does not exist holds nothing but breaks nothing.
  MovieRoots with_missing({(base_ / "nowhere").string(), root_.string()});
  EXPECT_TRUE(with_missing.resolveMovie("a.mov").ok());
}

TEST(IsWithinTest, ComparesWholeComponents) {
  EXPECT_TRUE(isWithin("/data/root/a.mov", "/data/root"));
  EXPECT_TRUE(isWithin("/data/root", "/data/root"));
  EXPECT_FALSE(isWithin("/data/root2/a.mov", "/data/root"));
  EXPECT_FALSE(isWithin("/data/roo", "/data/root"));
  EXPECT_FALSE(isWithin("/data", "/data/root"));
  EXPECT_TRUE(isWithin("/x", "/"));
}

TEST_F(MovieRootsTest, ListsMergedSortedFolders) {
  MovieRoots roots({root_.string(), root2_.string()});
  auto entries = roots.listFolder("");
  ASSERT_TRUE(entries.ok()) << entries.status().toString();
  std::vector<std::string> names;
  for (const auto& entry : *entries) names.push_back(entry.name);
  // Hidden files, and symlinks leading out of their root, are not listed; "a.mov" once.
  EXPECT_EQ(names, (std::vector<std::string>{"a.mov", "inside.mov", "only2.mov", "secret.mov", "sub/"}));
  EXPECT_EQ((*entries)[0].size, 7u);  // root's a.mov, not root2's

  auto sub = roots.listFolder("sub/");
  ASSERT_TRUE(sub.ok());
  ASSERT_EQ(sub->size(), 1u);
  EXPECT_EQ((*sub)[0].name, "b.mov");
  EXPECT_EQ((*sub)[0].size, 8u);
  EXPECT_TRUE(roots.listFolder(".").ok());
  EXPECT_EQ(roots.listFolder("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(roots.listFolder("a.mov").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(roots.listFolder("..").status().code(), StatusCode::kForbidden);
  EXPECT_TRUE(roots.listFolder("/").ok());  // the top, as a command line user would write it
  EXPECT_EQ(roots.listFolder("/etc").status().code(), StatusCode::kForbidden);
  EXPECT_EQ(MovieRoots({root_.string()}).listFolder("up").status().code(), StatusCode::kForbidden);
}

}  // namespace
}  // namespace framewire
