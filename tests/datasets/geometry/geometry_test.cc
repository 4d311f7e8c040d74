// datasets/geometry: the one polygon rule and the one mini-mask code path, on hand-computed values.
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "datasets/geometry/masks.h"
#include "datasets/geometry/polygon.h"

namespace mrcnn::geometry {
namespace {

std::vector<uint8_t> Fill(const Polygon& p, int h, int w) {
  std::vector<uint8_t> m(static_cast<size_t>(h) * w, 0);
  FillPolygon(p, m.data(), h, w);
  return m;
}

// Pixel centres (x + 0.5, y + 0.5) in [1, 4) x [1, 3): columns 1..3 of rows 1 and 2.
TEST(FillPolygon, RectangleByPixelCentres) {
  const std::vector<uint8_t> m = Fill({{1, 1}, {4, 1}, {4, 3}, {1, 3}}, 5, 6);
  const std::vector<uint8_t> expected = {0, 0, 0, 0, 0, 0,  //
                                         0, 1, 1, 1, 0, 0,  //
                                         0, 1, 1, 1, 0, 0,  //
                                         0, 0, 0, 0, 0, 0,  //
                                         0, 0, 0, 0, 0, 0};
  EXPECT_EQ(m, expected);
}

// (0, 0), (4, 0), (0, 4): centres with x + y < 3; those on the hypotenuse (x + y = 3) lie on a right
// edge and stay outside, those on the left edge x = 0 are inside.
TEST(FillPolygon, TriangleEdgesAreHalfOpen) {
  const std::vector<uint8_t> m = Fill({{0, 0}, {4, 0}, {0, 4}}, 4, 4);
  const std::vector<uint8_t> expected = {1, 1, 1, 0,  //
                                         1, 1, 0, 0,  //
                                         1, 0, 0, 0,  //
                                         0, 0, 0, 0};
  EXPECT_EQ(m, expected);
}

TEST(FillPolygon, ClipsToTheImageAndFarCoordinates) {
  EXPECT_EQ(Fill({{-1e15, -1e15}, {1e15, -1e15}, {1e15, 1e15}, {-1e15, 1e15}}, 3, 4), std::vector<uint8_t>(12, 1));
  EXPECT_EQ(Fill({{10, 10}, {20, 10}, {20, 20}}, 3, 4), std::vector<uint8_t>(12, 0));
  EXPECT_EQ(Fill({{0, 0}, {1, 1}}, 3, 4), std::vector<uint8_t>(12, 0));  // fewer than 3 points
  EXPECT_EQ(PolygonFromFlat({1, 2, 3, 4, 5}), (Polygon{{1, 2}, {3, 4}}));
}

TEST(MaskBox, ExclusiveEnds) {
  std::vector<uint8_t> m(6 * 5, 0);
  m[4 * 5 + 3] = 1;  // (x 3, y 4)
  EXPECT_EQ(MaskBox(m.data(), 6, 5), (std::array<int, 4>{3, 4, 4, 5}));
  EXPECT_EQ(MaskBox(std::vector<uint8_t>(4, 0).data(), 2, 2), (std::array<int, 4>{0, 0, 0, 0}));
}

// Source positions (d + 0.5) * 2 / 4 - 0.5 = 0 (clamped), 0.25, 0.75, 1.25 (clamped to the last).
TEST(ResizeBilinear, HalfPixelCentres) {
  const float in[2] = {0, 1};
  EXPECT_EQ(ResizeBilinear(in, 1, 2, 1, 4), (std::vector<float>{0, 0.25f, 0.75f, 1}));
}

// Left half set: each mini column averages two source columns (positions 0.5 and 2.5), so 1 and 0;
// expanded back (positions 0, 0.25, 0.75, 1.25 of the mini row: 1, 0.75, 0.25, 0) the same mask.
TEST(MiniMask, RoundTripOfAHalf) {
  const std::vector<uint8_t> m = {1, 1, 0, 0,  //
                                  1, 1, 0, 0,  //
                                  1, 1, 0, 0,  //
                                  1, 1, 0, 0};
  const std::vector<uint8_t> mini = MinimizeMask(m.data(), 4, 4, {0, 0, 4, 4}, 2, 2);
  EXPECT_EQ(mini, (std::vector<uint8_t>{1, 0, 1, 0}));
  EXPECT_EQ(ExpandMask(mini.data(), 2, 2, {0, 0, 4, 4}, 4, 4), m);
}

// matterport thresholds with np.around, which rounds 0.5 to 0: exactly one half is not set.
TEST(MiniMask, OneHalfIsNotSet) {
  const std::vector<uint8_t> m = {1, 0};
  EXPECT_EQ(MinimizeMask(m.data(), 1, 2, {0, 0, 2, 1}, 1, 1), (std::vector<uint8_t>{0}));
}

// A box reaching left of the image: the crop's outside part is 0 ([0, 0, 1, 1] per row).
TEST(MiniMask, BoxesOutsideTheImageCropZeros) {
  const std::vector<uint8_t> ones(16, 1);
  EXPECT_EQ(MinimizeMask(ones.data(), 4, 4, {-2, 0, 2, 4}, 2, 2), (std::vector<uint8_t>{0, 1, 0, 1}));
  // Expanded into the image, only the box's part inside is written: columns 0 and 1.
  const std::vector<uint8_t> mini = {1, 1, 1, 1};
  const std::vector<uint8_t> full = ExpandMask(mini.data(), 2, 2, {-2, 0, 2, 4}, 4, 4);
  EXPECT_EQ(full, (std::vector<uint8_t>{1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0}));
  EXPECT_EQ(MinimizeMask(ones.data(), 4, 4, {2, 2, 2, 3}, 2, 2), std::vector<uint8_t>(4, 0));  // empty box
}

}  // namespace
}  // namespace mrcnn::geometry
