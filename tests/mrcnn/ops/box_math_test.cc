#include "mrcnn/ops/box_math.h"

#include <gtest/gtest.h>

#include <cmath>

namespace mrcnn {
namespace ops {
namespace math {
namespace {

TEST(BoxMathTest, IoUByHand) {
  // [0, 0, 4, 4] and [2, 2, 6, 6]: intersection 4, union 16 + 16 - 4 = 28.
  EXPECT_FLOAT_EQ(BoxIoU(0.f, 0.f, 4.f, 4.f, 16.f, 2.f, 2.f, 6.f, 6.f, 16.f), 4.f / 28.f);
  // Disjoint: 0; zero-area pair: 0 / 0 = NaN.
  EXPECT_EQ(BoxIoU(0.f, 0.f, 1.f, 1.f, 1.f, 5.f, 5.f, 6.f, 6.f, 1.f), 0.f);
  EXPECT_TRUE(std::isnan(BoxIoU(1.f, 1.f, 1.f, 1.f, 0.f, 1.f, 1.f, 1.f, 1.f, 0.f)));
  EXPECT_FLOAT_EQ(BoxArea(1.f, 2.f, 4.f, 7.f), 15.f);
  EXPECT_FLOAT_EQ(BoxArea(4.f, 2.f, 1.f, 7.f), -15.f);  // inverted: negative, not clamped
}

TEST(BoxMathTest, DecodeByHand) {
  // Reference box centre (5, 10), size 10 x 20; deltas (0.1, -0.2, log 2, 0).
  double out[4];
  DecodeBox(
      0.1, -0.2, std::log(2.0), 0.0, 0.0, 0.0, 10.0, 20.0, [](double v) { return std::exp(v); },
      out);
  // Centre (5 + 1, 10 - 4) = (6, 6); size 20 x 20.
  EXPECT_DOUBLE_EQ(out[0], -4.0);
  EXPECT_DOUBLE_EQ(out[1], -4.0);
  EXPECT_DOUBLE_EQ(out[2], 16.0);
  EXPECT_DOUBLE_EQ(out[3], 16.0);
}

TEST(BoxMathTest, BilinearAxisByHand) {
  AxisSample<float> s = BilinearAxis(5, 1.25f);
  EXPECT_EQ(s.low, 1);
  EXPECT_EQ(s.high, 2);
  EXPECT_FLOAT_EQ(s.l, 0.25f);
  EXPECT_FLOAT_EQ(s.h, 0.75f);
  s = BilinearAxis(5, -0.5f);  // in [-1, 0]: clamped to 0
  EXPECT_EQ(s.low, 0);
  EXPECT_EQ(s.high, 1);
  EXPECT_FLOAT_EQ(s.l, 0.f);
  s = BilinearAxis(5, 4.6f);  // beyond the last cell centre: clamped to the last cell
  EXPECT_EQ(s.low, 4);
  EXPECT_EQ(s.high, 4);
  EXPECT_FLOAT_EQ(s.h, 1.f);
  s = BilinearAxis(5, 5.5f);  // more than a cell outside: no weight
  EXPECT_FLOAT_EQ(s.h + s.l, 0.f);
  s = BilinearAxis(5, -1.5f);
  EXPECT_FLOAT_EQ(s.h + s.l, 0.f);
}

TEST(BoxMathTest, BilinearWeightsAreAxisProducts) {
  const BilinearSample<float> s = BilinearWeights(4, 6, 1.5f, 2.25f);
  EXPECT_EQ(s.pos1, 1 * 6 + 2);
  EXPECT_EQ(s.pos4, 2 * 6 + 3);
  EXPECT_FLOAT_EQ(s.w1, 0.5f * 0.75f);
  EXPECT_FLOAT_EQ(s.w2, 0.5f * 0.25f);
  EXPECT_FLOAT_EQ(s.w3, 0.5f * 0.75f);
  EXPECT_FLOAT_EQ(s.w1 + s.w2 + s.w3 + s.w4, 1.f);
  // Outside in one axis zeroes the whole sample.
  const BilinearSample<float> o = BilinearWeights(4, 6, 1.5f, 7.5f);
  EXPECT_FLOAT_EQ(o.w1 + o.w2 + o.w3 + o.w4, 0.f);
}

}  // namespace
}  // namespace math
}  // namespace ops
}  // namespace mrcnn
