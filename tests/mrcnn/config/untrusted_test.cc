// The untrusted-input rules: JSON errors that say where, JSON paths, UTF-8 validation. Expected
// values are worked out by hand from the inputs.
#include "mrcnn/config/untrusted.h"

#include <stdexcept>

#include "gtest/gtest.h"

namespace mrcnn {
namespace {

TEST(UntrustedTest, JsonPathNamesTheValueAtAnOffset) {
  const std::string t = R"({"images": [{"id": 1}, {"id": 2, "width": 7}], "x": {"y": [0, [1, 2]]}})";
  EXPECT_EQ(JsonPathAt(t, t.find('7')), "images[1].width");
  EXPECT_EQ(JsonPathAt(t, t.find("2]]")), "x.y[1][1]");
  EXPECT_EQ(JsonPathAt(t, 0), "");
  // Brackets and quotes inside strings do not count.
  const std::string u = R"([{"name": "a[b\"],{", "v": 3}])";
  EXPECT_EQ(JsonPathAt(u, u.find('3')), "[0].v");
}

TEST(UntrustedTest, ParseNeverThrowsAndSaysWhere) {
  absl::StatusOr<nlohmann::json> j = ParseUntrustedJson("{\n  \"a\": 1e400\n}", "f.json");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().message(), "f.json: a: the number 1e400 overflows a double (line 2, column 8)");
  j = ParseUntrustedJson("{\"a\": [1,\n 2,,]}", "g.json");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(std::string(j.status().message()).rfind("g.json: malformed JSON: ", 0), 0u) << j.status();
  EXPECT_NE(j.status().message().find("line 2, column 4"), std::string::npos) << j.status();
  // Invalid UTF-8 inside a string is malformed JSON, not a crash later.
  j = ParseUntrustedJson("[\"a\xff\"]", "h.json");
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("h.json: malformed JSON"), std::string::npos);
  j = ParseUntrustedJson("[1e308, -1e308, 5]", "ok.json");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)[2], 5);
}

TEST(UntrustedTest, Utf8) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80"));  // ü ß € 😀
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  absl::Status s = CheckUtf8("ab\xff", "--name");
  EXPECT_EQ(s.message(), "--name: not valid UTF-8 (byte 0xff at offset 2)");
  EXPECT_TRUE(CheckUtf8("\xe2\x82\xac", "x").ok());
}

int Throws(int, char**) { throw std::out_of_range("a library's check"); }
int Returns(int argc, char**) { return argc; }

TEST(UntrustedTest, GuardedMainTurnsAnEscapedExceptionIntoAnError) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(GuardedMain("tool", Throws, 0, nullptr), 70);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.rfind("tool: internal error: a library's check\n", 0), 0u) << err;
  EXPECT_EQ(GuardedMain("tool", Returns, 3, nullptr), 3);
}

}  // namespace
}  // namespace mrcnn
