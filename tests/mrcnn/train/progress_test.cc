#include "mrcnn/train/progress.h"

#include <cstdio>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace mrcnn {
namespace {

std::string Contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[256];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) s.append(buf, n);
  return s;
}

TEST(ProgressTest, PlainLinesEveryNSteps) {
  std::FILE* f = std::tmpfile();
  Progress p(f, 2, 25, /*log_every=*/10, /*terminal=*/0);
  for (int s = 1; s <= 25; ++s) p.Step(1, s, 1.0, 4, 0.5);
  p.EndEpoch("epoch 1 done");
  const std::string out = Contents(f);
  std::fclose(f);
  EXPECT_FALSE(absl::StrContains(out, "\r"));
  // Steps 10, 20 and the last (25), then the summary.
  EXPECT_TRUE(absl::StrContains(out, "step 10/25")) << out;
  EXPECT_TRUE(absl::StrContains(out, "step 20/25")) << out;
  EXPECT_TRUE(absl::StrContains(out, "step 25/25")) << out;
  EXPECT_FALSE(absl::StrContains(out, "step 11/25")) << out;
  EXPECT_TRUE(absl::StrContains(out, "8.0 img/s")) << out;  // 4 images per 0.5 s
  EXPECT_TRUE(absl::StrContains(out, "epoch 1 done\n")) << out;
}

TEST(ProgressTest, TerminalRedrawsOneBar) {
  std::FILE* f = std::tmpfile();
  Progress p(f, 3, 4, 10, /*terminal=*/1);
  p.Step(2, 1, 2.0, 2, 1.0);
  p.Step(2, 2, 1.0, 2, 1.0);
  const std::string out = Contents(f);
  std::fclose(f);
  EXPECT_TRUE(absl::StrContains(out, "\repoch 2/3 [##########..........] 2/4")) << out;
  EXPECT_TRUE(absl::StrContains(out, "loss 1.9000")) << out;  // 0.9 * 2 + 0.1 * 1
  EXPECT_TRUE(absl::StrContains(out, "ETA 0:02")) << out;     // 2 steps left at 1 s each
}

TEST(ProgressTest, FormatsDurations) {
  EXPECT_EQ(Progress::FormatDuration(0), "0:00");
  EXPECT_EQ(Progress::FormatDuration(125), "2:05");
  EXPECT_EQ(Progress::FormatDuration(3723), "1:02:03");
}

}  // namespace
}  // namespace mrcnn
