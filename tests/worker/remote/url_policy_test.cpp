#include "worker/source/remote/url_policy.h"

#include <gtest/gtest.h>

namespace framewire {
namespace {

UrlPolicy policy(std::vector<std::string> bases) {
  auto created = UrlPolicy::create(bases);
  EXPECT_TRUE(created.ok()) << created.status().toString();
  return created.ok() ? *created : UrlPolicy();
}

TEST(UrlPolicyTest, ParsesAndCanonicalises) {
  auto url = parseHttpUrl("HTTP://Archive.Example.ORG:80/a%20b/./c.mov");
  ASSERT_FALSE(url.ok());  // "." segments are refused, not interpreted
  url = parseHttpUrl("HTTP://Archive.Example.ORG:80/a%20b//c%2Emov");
  ASSERT_TRUE(url.ok()) << url.status().toString();
  EXPECT_EQ(url->scheme, "http");
  EXPECT_EQ(url->host, "archive.example.org");
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->segments, (std::vector<std::string>{"a b", "c.mov"}));
  EXPECT_EQ(url->toString(), "http://archive.example.org/a%20b/c.mov");
  EXPECT_EQ(parseHttpUrl("https://h:8443/x/")->toString(), "https://h:8443/x/");
  EXPECT_EQ(parseHttpUrl("https://h")->toString(), "https://h/");
  EXPECT_EQ(parseHttpUrl("http://[::1]:8080/m.mov")->host, "[::1]");
  // A literal "%" survives as %25: what the server sees is what was checked.
  EXPECT_EQ(parseHttpUrl("http://h/100%25.mov")->toString(), "http://h/100%25.mov");
  EXPECT_EQ(parseHttpUrl("http://h/%252e%252e/x")->segments[0], "%2e%2e");
}

TEST(UrlPolicyTest, RefusesAmbiguousUrls) {
  const char* forbidden[] = {
      "http://user@h/a.mov",       "http://user:pw@h/a.mov",   "http://h@evil/a.mov",
      "http://h/a/../b.mov",       "http://h/a/%2e%2e/b.mov",  "http://h/a/%2E%2e/b.mov",
      "http://h/a/.%2e/b.mov",     "http://h/a/%2e/b.mov",     "http://h/a%2fb.mov",
      "http://h/a%5cb.mov",        "http://h/a\\b.mov",        "http://h/a%00.mov",
      "http://h/a.mov?x=1",        "http://h/a.mov#top",       "ftp://h/a.mov",
      "file:///etc/passwd",        "http://h%2e/a.mov",        "gopher://h/",
  };
  for (const char* text : forbidden) {
    auto url = parseHttpUrl(text);
    EXPECT_EQ(url.status().code(), StatusCode::kForbidden) << text << ": " << url.status().toString();
  }
  const char* malformed[] = {"http://", "http:///a.mov", "http://h:/a", "http://h:99999/a", "http://h:8x/a",
                             "http://h/a b.mov", "http://h/%zz.mov", "http://h/%4", "http://[::1/a", "//h/a.mov"};
  for (const char* text : malformed) {
    auto url = parseHttpUrl(text);
    EXPECT_EQ(url.status().code(), StatusCode::kInvalidArgument) << text << ": " << url.status().toString();
  }
}

TEST(UrlPolicyTest, AcceptsOnlyUnderABase) {
  UrlPolicy allowed = policy({"http://127.0.0.1:8080/archive", "https://data.example.org/camhd/"});
  auto match = allowed.check("http://127.0.0.1:8080/archive/RS03ASHS/a.mov");
  ASSERT_TRUE(match.ok()) << match.status().toString();
  EXPECT_EQ(match->base, 0u);
  EXPECT_EQ(match->relative, "RS03ASHS/a.mov");
  EXPECT_TRUE(allowed.check("HTTPS://DATA.example.org:443/camhd/x/y.mov").ok());
  EXPECT_TRUE(allowed.check("http://127.0.0.1:8080/archive//x.mov").ok());  // empty segments collapse
  const char* refused[] = {
      "http://127.0.0.2:8080/archive/a.mov",        // other host
      "http://localhost:8080/archive/a.mov",        // other spelling of the host
      "http://127.1:8080/archive/a.mov",            // not compared as addresses
      "http://127.0.0.1:8081/archive/a.mov",        // other port
      "http://127.0.0.1/archive/a.mov",             // default port is 80, not 8080
      "https://127.0.0.1:8080/archive/a.mov",       // other scheme
      "http://127.0.0.1:8080/archive2/a.mov",       // a sibling folder that shares the prefix
      "http://127.0.0.1:8080/other/a.mov",          // outside the base
      "http://127.0.0.1:8080/archive",              // the base itself is no movie
      "http://127.0.0.1:8080/archive/../etc/passwd",
      "http://127.0.0.1:8080/archive/%2e%2e/etc/passwd",
      "http://127.0.0.1:8080/archive/x/%2E%2E/%2E%2E/etc",
      "http://evil@127.0.0.1:8080/archive/a.mov",
      "http://127.0.0.1:8080@evil.example/archive/a.mov",
  };
  for (const char* text : refused) {
    auto result = allowed.check(text);
    EXPECT_EQ(result.status().code(), StatusCode::kForbidden) << text << ": " << result.status().toString();
  }
  EXPECT_TRUE(allowed.check("http://127.0.0.1:8080/archive/", /*allow_base_itself=*/true).ok());
  EXPECT_EQ(UrlPolicy().check("http://h/a.mov").status().code(), StatusCode::kForbidden);
}

TEST(UrlPolicyTest, JoinsRelativePaths) {
  UrlPolicy allowed = policy({"http://h:8080/archive/"});
  EXPECT_EQ(allowed.join(0, "RS03ASHS/PN03B/a b#1.mov")->toString(), "http://h:8080/archive/RS03ASHS/PN03B/a%20b%231.mov");
  EXPECT_EQ(allowed.join(0, "./x//y.mov")->toString(), "http://h:8080/archive/x/y.mov");
  EXPECT_EQ(allowed.join(0, "sub", /*folder=*/true)->toString(), "http://h:8080/archive/sub/");
  EXPECT_EQ(allowed.join(0, "", true)->toString(), "http://h:8080/archive/");
  // A client's "%2e%2e" is a file name here, and stays one on the wire.
  EXPECT_EQ(allowed.join(0, "%2e%2e/x.mov")->toString(), "http://h:8080/archive/%252e%252e/x.mov");
  EXPECT_EQ(allowed.join(0, "../x.mov").status().code(), StatusCode::kForbidden);
  EXPECT_EQ(allowed.join(0, "a/../../x.mov").status().code(), StatusCode::kForbidden);
  EXPECT_EQ(allowed.join(0, "/etc/passwd").status().code(), StatusCode::kForbidden);
  EXPECT_EQ(allowed.join(0, "a\\..\\x.mov").status().code(), StatusCode::kForbidden);
  // Whatever join() makes, check() accepts.
  EXPECT_TRUE(allowed.check(allowed.join(0, "a b/%41.mov")->toString()).ok());
  EXPECT_EQ(UrlPolicy::create({"not a url"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(UrlPolicy::create({"ftp://h/"}).status().code(), StatusCode::kInvalidArgument);
}

TEST(UrlPolicyTest, LooksLikeUrl) {
  EXPECT_TRUE(looksLikeUrl("http://h/a"));
  EXPECT_TRUE(looksLikeUrl("file:///etc/passwd"));
  EXPECT_TRUE(looksLikeUrl("s3+x://b"));
  EXPECT_FALSE(looksLikeUrl("RS03ASHS/a.mov"));
  EXPECT_FALSE(looksLikeUrl("a/http://b"));
  EXPECT_FALSE(looksLikeUrl("://x"));
}

}  // namespace
}  // namespace framewire
