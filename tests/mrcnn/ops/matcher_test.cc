#include "mrcnn/ops/matcher.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/mrcnn/ops/reference.h"

namespace mrcnn {
namespace ops {
namespace {

TEST(MatcherTest, MatchesTorchvision) {
  const testing::Reference ref = testing::LoadReference("matcher");
  const int64_t n = ref.Int("count");
  ASSERT_GT(n, 0);
  for (int64_t i = 0; i < n; ++i) {
    const std::string p = std::to_string(i) + "/";
    const Matcher m(ref.Double(p + "high"), ref.Double(p + "low"), ref.Bool(p + "allow_low"));
    EXPECT_TRUE(at::equal(m(ref.at(p + "quality")), ref.at(p + "matches"))) << "case " << i;
  }
}

TEST(MatcherTest, HandExample) {
  // 2 gt x 4 predictions.
  const at::Tensor q = at::tensor({0.9f, 0.4f, 0.1f, 0.0f,  //
                                   0.2f, 0.5f, 0.2f, 0.0f})
                           .view({2, 4});
  // Prediction 0: 0.9 >= high -> gt 0; 1: best 0.5 in [low, high) -> -2; 2, 3: below low -> -1.
  EXPECT_TRUE(at::equal(Matcher(0.7, 0.3, false)(q), at::tensor({0, -2, -1, -1}, at::kLong)));
  // Low-quality: prediction 1 is gt 1's best (0.5), so it keeps gt 1.
  EXPECT_TRUE(at::equal(Matcher(0.7, 0.3, true)(q), at::tensor({0, 1, -1, -1}, at::kLong)));
}

TEST(MatcherTest, EmptyAndBadInputs) {
  EXPECT_TRUE(at::equal(Matcher(0.7, 0.3, true)(at::zeros({0, 3})), at::full({3}, -1, at::kLong)));
  EXPECT_EQ(Matcher(0.7, 0.3, true)(at::zeros({2, 0})).numel(), 0);
  EXPECT_THROW(Matcher(0.3, 0.7, true), c10::Error);
  EXPECT_THROW(Matcher(0.7, 0.3, true)(at::zeros({3})), c10::Error);
  EXPECT_THROW(Matcher(0.7, 0.3, true)(at::zeros({3, 2}, at::kLong)), c10::Error);
}

}  // namespace
}  // namespace ops
}  // namespace mrcnn
