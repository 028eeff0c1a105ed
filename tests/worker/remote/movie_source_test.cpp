// MovieSources: which copy of a movie a name leads to (root, overlay, flattened overlay,
// remote base), the allow-list for full URLs, listings merged over roots and remote bases,
// and the signatures that make caches see a replaced remote file.
#include "worker/source/movie_source.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "tests/support/test_http_server.h"
#include "tests/support/test_movies.h"

namespace fs = std::filesystem;

namespace framewire {
namespace {

using testing::TestHttpServer;

constexpr const char* kDeep = "RS03ASHS/PN03B/06-CAMHDA301/2016/07/24/CAMHDA301-20160724T030000Z.mov";

void writeText(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::trunc) << text;
}

class MovieSourcesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TestHttpServer::available()) GTEST_SKIP() << "nginx is not installed";
    dir_ = testing::makeTempDir("fw-sources");
    // The "movies" are text files: resolving never opens them.
    writeText(fs::path(dir_) / "remote" / kDeep, "remote copy");
    writeText(fs::path(dir_) / "remote" / "only-remote.mov", "remote only");
    writeText(fs::path(dir_) / "remote" / "both.mov", "remote both");
    writeText(fs::path(dir_) / "remote" / "sub" / "r.mov", "r");
    writeText(fs::path(dir_) / "root" / "both.mov", "local both");
    writeText(fs::path(dir_) / "root" / "sub" / "l.mov", "l");
    writeText(fs::path(dir_) / "overlay" / kDeep, "overlay copy");
    writeText(fs::path(dir_) / "flat" / "CAMHDA301-20160724T030000Z.mov", "flat copy");
    writeText(fs::path(dir_) / "secret.mov", "outside every root");
    fs::create_symlink(fs::path(dir_) / "secret.mov", fs::path(dir_) / "overlay" / "escape.mov");
    nginx_ = std::make_unique<TestHttpServer>(dir_ + "/remote");
    ASSERT_TRUE(nginx_->ok()) << nginx_->why();
  }

  void TearDown() override {
    nginx_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::unique_ptr<MovieSources> sources(std::vector<std::string> overlays = {}, bool flatten = false,
                                        int64_t revalidate_ms = 1000) {
    MovieSourcesConfig config;
    config.roots = {dir_ + "/root"};
    config.overlays = std::move(overlays);
    config.overlay_flatten = flatten;
    config.remote.bases = {nginx_->url()};
    config.remote.revalidate_ms = revalidate_ms;
    config.remote.http.retry_backoff_ms = 10;
    auto created = MovieSources::create(config);
    EXPECT_TRUE(created.ok()) << created.status().toString();
    return std::move(created).value();
  }

  std::string dir_;
  std::unique_ptr<TestHttpServer> nginx_;
};

TEST_F(MovieSourcesTest, RootsThenRemote) {
  auto s = sources();
  auto local = s->resolve("both.mov");
  ASSERT_TRUE(local.ok()) << local.status().toString();
  EXPECT_EQ(local->kind, ResolvedMovie::Kind::kLocal);
  EXPECT_EQ(local->key, fs::canonical(fs::path(dir_) / "root" / "both.mov").string());
  EXPECT_EQ(local->bytes, nullptr);
  auto remote = s->resolve(kDeep);
  ASSERT_TRUE(remote.ok()) << remote.status().toString();
  EXPECT_EQ(remote->kind, ResolvedMovie::Kind::kRemote);
  EXPECT_EQ(remote->key, nginx_->url(kDeep));
  ASSERT_NE(remote->bytes, nullptr);
  EXPECT_EQ(remote->signature.size, std::string("remote copy").size());
  EXPECT_FALSE(remote->signature.version.empty());
  EXPECT_EQ(s->bytesFor(remote->key, remote->signature), remote->bytes);
  // The same movie by its full URL (any spelling the policy accepts) is the same key.
  auto by_url = s->resolve("HTTP://127.0.0.1:" + std::to_string(nginx_->port()) + "//" + kDeep);
  ASSERT_TRUE(by_url.ok()) << by_url.status().toString();
  EXPECT_EQ(by_url->key, remote->key);
  auto missing = s->resolve("RS03ASHS/nope.mov");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(nginx_->url("RS03ASHS/nope.mov")), std::string::npos)
      << missing.status().toString();
  EXPECT_EQ(s->resolve("../secret.mov").status().code(), StatusCode::kForbidden);
  EXPECT_EQ(s->resolve("sub").status().code(), StatusCode::kInvalidArgument);  // a remote folder
  EXPECT_EQ(s->resolve(nginx_->url("sub/")).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(MovieSourcesTest, OverlaysWinOverRemote) {
  auto s = sources({dir_ + "/overlay"});
  auto overlay = s->resolve(kDeep);
  ASSERT_TRUE(overlay.ok()) << overlay.status().toString();
  EXPECT_EQ(overlay->kind, ResolvedMovie::Kind::kOverlay);
  EXPECT_EQ(overlay->key, fs::canonical(fs::path(dir_) / "overlay" / kDeep).string());
  auto by_url = s->resolve(nginx_->url(kDeep));
  ASSERT_TRUE(by_url.ok());
  EXPECT_EQ(by_url->kind, ResolvedMovie::Kind::kOverlay);
  // Roots still come first; what the overlay lacks comes from the remote base.
  EXPECT_EQ(s->resolve("both.mov")->kind, ResolvedMovie::Kind::kLocal);
  EXPECT_EQ(s->resolve("only-remote.mov")->kind, ResolvedMovie::Kind::kRemote);
  // Overlays are confined like roots.
  EXPECT_EQ(s->resolve("escape.mov").status().code(), StatusCode::kForbidden);
}

TEST_F(MovieSourcesTest, FlattenedOverlaysMatchByFileName) {
  auto s = sources({dir_ + "/flat"}, /*flatten=*/true);
  auto flat = s->resolve(kDeep);
  ASSERT_TRUE(flat.ok()) << flat.status().toString();
  EXPECT_EQ(flat->kind, ResolvedMovie::Kind::kOverlay);
  EXPECT_EQ(flat->key, fs::canonical(fs::path(dir_) / "flat" / "CAMHDA301-20160724T030000Z.mov").string());
  EXPECT_EQ(s->resolve(nginx_->url(kDeep))->kind, ResolvedMovie::Kind::kOverlay);
  // Without flattening the same folder does not hold the deep path.
  EXPECT_EQ(sources({dir_ + "/flat"}, false)->resolve(kDeep)->kind, ResolvedMovie::Kind::kRemote);
}

TEST_F(MovieSourcesTest, FullUrlsOnlyUnderTheBases) {
  auto s = sources();
  const std::string port = std::to_string(nginx_->port());
  const std::string refused[] = {
      "http://127.0.0.2:" + port + "/both.mov",               // other host
      "http://localhost:" + port + "/both.mov",               // other name for it
      "http://127.0.0.1:" + std::to_string(nginx_->port() + 1) + "/both.mov",  // other port
      "https://127.0.0.1:" + port + "/both.mov",              // other scheme
      "http://127.0.0.1:" + port + "/../secret.mov",          // out of the base
      "http://127.0.0.1:" + port + "/sub/%2e%2e/%2e%2e/secret.mov",
      "http://127.0.0.1:" + port + "/sub/%2E%2E/both.mov",
      "http://user@127.0.0.1:" + port + "/both.mov",          // userinfo
      "http://127.0.0.1:" + port + "@evil.example/both.mov",
      "file://" + dir_ + "/secret.mov",
      "http://127.0.0.1:" + port + "/both.mov?x",
  };
  for (const auto& url : refused) {
    auto resolved = s->resolve(url);
    EXPECT_EQ(resolved.status().code(), StatusCode::kForbidden) << url << ": " << resolved.status().toString();
  }
  MovieSourcesConfig local_only;
  local_only.roots = {dir_ + "/root"};
  auto no_remote = MovieSources::create(local_only);
  ASSERT_TRUE(no_remote.ok());
  EXPECT_EQ((*no_remote)->resolve(nginx_->url("both.mov")).status().code(), StatusCode::kForbidden);
  EXPECT_EQ(nginx_->accessLog().size(), 0u) << "a refused URL was fetched";
}

TEST_F(MovieSourcesTest, ListsRootsAndRemoteMerged) {
  auto s = sources();
  auto top = s->list("");
  ASSERT_TRUE(top.ok()) << top.status().toString();
  std::vector<std::string> names;
  for (const auto& entry : *top) names.push_back(entry.name);
  EXPECT_EQ(names, (std::vector<std::string>{"RS03ASHS/", "both.mov", "only-remote.mov", "sub/"}));
  auto sub = s->list("sub/");
  ASSERT_TRUE(sub.ok());
  ASSERT_EQ(sub->size(), 2u);
  EXPECT_EQ((*sub)[0].name, "l.mov");
  EXPECT_EQ((*sub)[1].name, "r.mov");
  EXPECT_EQ((*sub)[1].size, 1u);
  auto deep = s->list("RS03ASHS/PN03B/06-CAMHDA301/2016/07/24");
  ASSERT_TRUE(deep.ok()) << deep.status().toString();
  ASSERT_EQ(deep->size(), 1u);
  EXPECT_EQ((*deep)[0].name, "CAMHDA301-20160724T030000Z.mov");
  EXPECT_EQ(s->list("nowhere").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s->list("..").status().code(), StatusCode::kForbidden);
  auto by_url = s->list(nginx_->url("RS03ASHS/"));
  ASSERT_TRUE(by_url.ok()) << by_url.status().toString();
  ASSERT_EQ(by_url->size(), 1u);
  EXPECT_EQ((*by_url)[0].name, "PN03B/");
  EXPECT_EQ(s->list("http://127.0.0.2:" + std::to_string(nginx_->port()) + "/").status().code(),
            StatusCode::kForbidden);
  // The remote base down: local folders still list, remote-only ones are UNAVAILABLE.
  nginx_->stop();
  EXPECT_TRUE(s->list("").ok());
  EXPECT_EQ(s->list("RS03ASHS").status().code(), StatusCode::kUnavailable);
}

TEST_F(MovieSourcesTest, ReplacedRemoteFilesGetNewSignatures) {
  auto s = sources({}, false, /*revalidate_ms=*/0);
  auto first = s->resolve("only-remote.mov");
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(s->resolveWithoutNetwork("both.mov").has_value());  // local: no server needed
  EXPECT_FALSE(s->resolveWithoutNetwork("only-remote.mov").has_value());  // must be re-checked
  writeText(fs::path(dir_) / "remote" / "only-remote.mov", "replaced, and longer");
  auto second = s->resolve("only-remote.mov");
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second->signature, first->signature);
  EXPECT_EQ(s->bytesFor(first->key, first->signature), nullptr);  // the old version is gone
  EXPECT_NE(s->bytesFor(second->key, second->signature), nullptr);
  auto fresh = sources({}, false, /*revalidate_ms=*/60000);
  ASSERT_TRUE(fresh->resolve("only-remote.mov").ok());
  auto cached = fresh->resolveWithoutNetwork("only-remote.mov");
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->key, nginx_->url("only-remote.mov"));
}

}  // namespace
}  // namespace framewire
