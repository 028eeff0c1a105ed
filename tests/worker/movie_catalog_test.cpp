// MovieCatalog: LRU of indexes, keyed by path and file signature, one build per movie.
#include "worker/index/movie_catalog.h"

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/test_movies.h"

namespace framewire {
namespace {

TEST(MovieCatalogTest, CachesBySignatureAndEvictsLeastRecentlyUsed) {
  const std::string movie = testing::proresMovie();
  std::atomic<int> builds{0};
  MovieCatalog catalog(2, [&](const std::string& path, const FileSignature& signature) {
    ++builds;
    return MovieIndex::build(movie, signature);  // every "path" is the same small movie
  });
  const FileSignature signature = *fileSignature(movie);
  auto a1 = catalog.get("a", signature);
  ASSERT_TRUE(a1.ok()) << a1.status().toString();
  auto a2 = catalog.get("a", signature);
  EXPECT_EQ(a1->get(), a2->get());
  EXPECT_EQ(builds, 1);

  FileSignature changed = signature;
  changed.mtime_ns += 1;
  auto a3 = catalog.get("a", changed);
  EXPECT_NE(a3->get(), a1->get()) << "a changed file must be indexed again";
  EXPECT_EQ(builds, 2);

  catalog.get("b", signature);
  catalog.get("a", changed);  // a is now more recent than b
  catalog.get("c", signature);  // evicts b
  EXPECT_EQ(catalog.size(), 2u);
  EXPECT_EQ(builds, 4);
  catalog.get("a", changed);
  EXPECT_EQ(builds, 4);
  catalog.get("b", signature);
  EXPECT_EQ(builds, 5);
}

TEST(MovieCatalogTest, ConcurrentRequestsShareOneBuild) {
  const std::string movie = testing::proresMovie();
  std::atomic<int> builds{0};
  MovieCatalog catalog(8, [&](const std::string&, const FileSignature& signature) {
    ++builds;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return MovieIndex::build(movie, signature);
  });
  const FileSignature signature = *fileSignature(movie);
  std::vector<std::thread> threads;
  std::vector<const MovieIndex*> seen(4, nullptr);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto index = catalog.get("m", signature);
      if (index.ok()) seen[size_t(t)] = index->get();
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(builds, 1);
  for (const MovieIndex* index : seen) EXPECT_EQ(index, seen[0]);
  EXPECT_NE(seen[0], nullptr);
}

TEST(MovieCatalogTest, FailuresAreNotCached) {
  int builds = 0;
  MovieCatalog catalog(4, [&](const std::string&, const FileSignature&) -> MovieCatalog::IndexResult {
    ++builds;
    return Status::decodeError("broken");
  });
  EXPECT_EQ(catalog.get("x", {}).status().code(), StatusCode::kDecodeError);
  EXPECT_EQ(catalog.get("x", {}).status().code(), StatusCode::kDecodeError);
  EXPECT_EQ(builds, 2);
  EXPECT_EQ(catalog.size(), 0u);
}

}  // namespace
}  // namespace framewire
