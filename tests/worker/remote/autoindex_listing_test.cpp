#include "worker/source/remote/autoindex_listing.h"

#include <gtest/gtest.h>

namespace framewire {
namespace {

// What nginx 1.22 writes with `autoindex on` (names longer than 50 characters are cut in the
// link text, not in the href).
constexpr const char* kNginxPage = R"(<html>
<head><title>Index of /archive/RS03ASHS/</title></head>
<body>
<h1>Index of /archive/RS03ASHS/</h1><hr><pre><a href="../">../</a>
<a href="PN03B/">PN03B/</a>                                             22-Nov-2026 03:16                   -
<a href="a%20b.mov">a b.mov</a>                                            22-Nov-2026 03:16              300000
<a href="CAMHDA301-20160724T030000Z-with-a-very-long-name-indeed.mov">CAMHDA301-20160724T030000Z-with-a-very-long-na..&gt;</a> 22-Nov-2026 03:16         14998706688
<a href=".hidden.mov">.hidden.mov</a>                                        22-Nov-2026 03:16                  12
<a href="x&amp;y.mov">x&amp;y.mov</a>                                            22-Nov-2026 03:16                   7
</pre><hr></body>
</html>
)";

// Apache's mod_autoindex with FancyIndexing in a table (one row per line).
constexpr const char* kApachePage = R"(<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html>
 <head>
  <title>Index of /RS03ASHS/PN03B/06-CAMHDA301/2016/07/24</title>
 </head>
 <body>
<h1>Index of /RS03ASHS/PN03B/06-CAMHDA301/2016/07/24</h1>
  <table>
   <tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th><th><a href="?C=S;O=A">Size</a></th><th><a href="?C=D;O=A">Description</a></th></tr>
   <tr><th colspan="5"><hr></th></tr>
<tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td><td><a href="/RS03ASHS/PN03B/06-CAMHDA301/2016/07/">Parent Directory</a></td><td>&nbsp;</td><td align="right">  - </td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/movie.gif" alt="[VID]"></td><td><a href="CAMHDA301-20160724T030000Z.mov">CAMHDA301-20160724T030000Z.mov</a></td><td align="right">2016-07-24 03:14  </td><td align="right"> 14G</td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/text.gif" alt="[TXT]"></td><td><a href="CAMHDA301-20160724T030000Z.json">CAMHDA301-20160724T030000Z.json</a></td><td align="right">2016-07-24 03:15  </td><td align="right">1.5K</td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/folder.gif" alt="[DIR]"></td><td><a href="/RS03ASHS/PN03B/06-CAMHDA301/2016/07/24/thumbs/">thumbs/</a></td><td align="right">2016-07-24 03:15  </td><td align="right">  - </td><td>&nbsp;</td></tr>
   <tr><th colspan="5"><hr></th></tr>
</table>
</body></html>
)";

TEST(AutoindexListingTest, ParsesNginx) {
  auto entries = parseAutoindex(kNginxPage, "/archive/RS03ASHS/");
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].name, "CAMHDA301-20160724T030000Z-with-a-very-long-name-indeed.mov");
  EXPECT_EQ(entries[0].size, 14998706688u);
  EXPECT_EQ(entries[1].name, "PN03B/");
  EXPECT_EQ(entries[1].size, 0u);
  EXPECT_EQ(entries[2].name, "a b.mov");
  EXPECT_EQ(entries[2].size, 300000u);
  EXPECT_EQ(entries[3].name, "x&y.mov");
  EXPECT_EQ(entries[3].size, 7u);
}

TEST(AutoindexListingTest, ParsesApacheFancyIndex) {
  auto entries = parseAutoindex(kApachePage, "/RS03ASHS/PN03B/06-CAMHDA301/2016/07/24");
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].name, "CAMHDA301-20160724T030000Z.json");
  EXPECT_EQ(entries[0].size, 1536u);
  EXPECT_EQ(entries[1].name, "CAMHDA301-20160724T030000Z.mov");
  EXPECT_EQ(entries[1].size, uint64_t(14) << 30);
  EXPECT_EQ(entries[2].name, "thumbs/");  // an absolute href below the folder
}

TEST(AutoindexListingTest, SkipsLinksThatAreNotChildren) {
  const std::string page =
      "<a href=\"http://elsewhere.example/x.mov\">x</a>\n<a href=\"/other/y.mov\">y</a>\n"
      "<a href=\"sub/deeper.mov\">d</a>\n<a href=\"./ok.mov\">ok</a>\n<a href='q.mov?download'>q</a>\n"
      "<a href=\"#top\">top</a>\n<a href=\"%zz.mov\">bad escape</a>\n<a name=\"anchor\">no href</a>\n"
      "<A HREF=upper.MOV>upper</A> 12\n";
  auto entries = parseAutoindex(page, "/base/");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].name, "ok.mov");
  EXPECT_EQ(entries[1].name, "upper.MOV");
  EXPECT_EQ(entries[1].size, 12u);
  EXPECT_TRUE(parseAutoindex("", "/").empty());
  EXPECT_TRUE(parseAutoindex("<a href=", "/").empty());
}

TEST(AutoindexListingTest, ParsesSizes) {
  uint64_t bytes = 0;
  EXPECT_TRUE(parseListingSize("300000", &bytes));
  EXPECT_EQ(bytes, 300000u);
  EXPECT_TRUE(parseListingSize("14G", &bytes));
  EXPECT_EQ(bytes, uint64_t(14) << 30);
  EXPECT_TRUE(parseListingSize("1.5M", &bytes));
  EXPECT_EQ(bytes, uint64_t(1536) << 10);
  EXPECT_FALSE(parseListingSize("22-Nov-2026", &bytes));
  EXPECT_FALSE(parseListingSize("03:16", &bytes));
  EXPECT_FALSE(parseListingSize("-", &bytes));
  EXPECT_FALSE(parseListingSize("1.2.3", &bytes));
  EXPECT_FALSE(parseListingSize("12Q", &bytes));
}

}  // namespace
}  // namespace framewire
