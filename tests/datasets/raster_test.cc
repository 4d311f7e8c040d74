// Rasterisation by the pixel-centre rule against hand counts; COCO RLE decoding against strings made by
// pycocotools.mask.encode (python3, pycocotools) for masks defined here.
#include "datasets/raster.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mrcnn::datasets {
namespace {

cv::Mat Zeros(int h, int w) { return cv::Mat::zeros(h, w, CV_8UC1); }

TEST(FillPolygon, AxisAlignedRectangleCoversPixelsWhoseCentresAreInside) {
  cv::Mat m = Zeros(5, 6);
  FillPolygon({{1, 1}, {4, 1}, {4, 3}, {1, 3}}, &m);
  // Centres x + 0.5 in (1, 4) -> x = 1, 2, 3; y + 0.5 in (1, 3) -> y = 1, 2.
  EXPECT_EQ(cv::countNonZero(m), 6);
  for (int y = 1; y <= 2; ++y) {
    for (int x = 1; x <= 3; ++x) EXPECT_EQ(m.at<uint8_t>(y, x), 1) << x << "," << y;
  }
}

TEST(FillPolygon, FractionalSquareHoldsOnlyTheCentreItContains) {
  cv::Mat m = Zeros(4, 4);
  FillPolygon({{0.6, 0.6}, {2.4, 0.6}, {2.4, 2.4}, {0.6, 2.4}}, &m);
  EXPECT_EQ(cv::countNonZero(m), 1);
  EXPECT_EQ(m.at<uint8_t>(1, 1), 1);
}

TEST(FillPolygon, TriangleCountMatchesHandCount) {
  cv::Mat m = Zeros(6, 6);
  // Inside iff (x + 0.5) + (y + 0.5) < 4.2, i.e. x + y <= 3: 1 + 2 + 3 + 4 = 10 pixels.
  FillPolygon({{0, 0}, {4.2, 0}, {0, 4.2}}, &m);
  EXPECT_EQ(cv::countNonZero(m), 10);
  EXPECT_EQ(m.at<uint8_t>(0, 3), 1);
  EXPECT_EQ(m.at<uint8_t>(1, 3), 0);
}

TEST(FillPolygon, ClipsToTheImage) {
  cv::Mat m = Zeros(4, 4);
  FillPolygon({{-5, -5}, {3, -5}, {3, 3}, {-5, 3}}, &m);
  EXPECT_EQ(cv::countNonZero(m), 9);  // x, y in {0, 1, 2}
  cv::Mat far = Zeros(4, 4);
  FillPolygon({{100, 100}, {200, 100}, {150, 200}}, &far);
  EXPECT_EQ(cv::countNonZero(far), 0);
}

// Even-odd membership of a point by a ray to +x, computed in long double (an independent check).
bool InsideByRay(const Polygon& poly, double px, double py) {
  bool inside = false;
  for (size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++) {
    const long double xi = poly[i].x, yi = poly[i].y, xj = poly[j].x, yj = poly[j].y;
    if ((yi > py) != (yj > py)) {
      const long double x = xi + (py - yi) * (xj - xi) / (yj - yi);
      if (px < x) inside = !inside;
    }
  }
  return inside;
}

TEST(FillPolygon, HugeCoordinatesFillWhatCoversTheImage) {
  // A square around the image at 1e12 (and 1e300): every pixel. Before, coordinates beyond int's range
  // left the mask empty and the instance was dropped as "empty mask".
  for (double big : {1e9, 1e12, 1e300}) {
    cv::Mat m = Zeros(5, 7);
    FillPolygon({{-big, -big}, {big, -big}, {big, big}, {-big, big}}, &m);
    EXPECT_EQ(cv::countNonZero(m), 35) << big;
  }
  // Far vertices on a mix of sides: clipped filling equals the pixel-centre rule by ray casting.
  const std::vector<Polygon> polys = {
      {{-5000, 10}, {60, -7000}, {9000, 9000}},
      {{-1e12, 20}, {30, 1e11}, {31, 2}, {1e12, 25}, {10, -3e11}},
      {{-1e12, -1e12}, {50, 40}, {1e12, -1e12}, {20, 1e12}}};
  for (const Polygon& poly : polys) {
    cv::Mat m = Zeros(48, 64);
    FillPolygon(poly, &m);
    int differ = 0;
    for (int y = 0; y < 48; ++y) {
      for (int x = 0; x < 64; ++x) differ += (m.at<uint8_t>(y, x) != 0) != InsideByRay(poly, x + 0.5, y + 0.5);
    }
    EXPECT_EQ(differ, 0);
    EXPECT_GT(cv::countNonZero(m), 0);
  }
  cv::Mat c = Zeros(4, 4);
  FillCircle({{2, 2}, 1e300}, &c);
  EXPECT_EQ(cv::countNonZero(c), 16);
}

TEST(FillPolygon, BowTieUsesEvenOdd) {
  // A(0,0) B(6,6) C(6,0) D(0,6): left and right triangles meeting at (3, 3).
  const Polygon bow = {{0, 0}, {6, 6}, {6, 0}, {0, 6}};
  EXPECT_TRUE(SelfIntersects(bow));
  cv::Mat m = Zeros(6, 6);
  FillPolygon(bow, &m);
  EXPECT_EQ(m.at<uint8_t>(3, 0), 1);  // (x=0, y=3): left triangle
  EXPECT_EQ(m.at<uint8_t>(3, 5), 1);  // right triangle
  EXPECT_EQ(m.at<uint8_t>(0, 3), 0);  // top: outside
  EXPECT_EQ(m.at<uint8_t>(5, 3), 0);  // bottom: outside
}

TEST(SelfIntersects, ConvexAndConcavePolygonsDoNot) {
  EXPECT_FALSE(SelfIntersects({{0, 0}, {4, 0}, {4, 4}, {0, 4}}));
  EXPECT_FALSE(SelfIntersects({{0, 0}, {4, 0}, {2, 1}, {4, 4}, {0, 4}}));
  EXPECT_FALSE(SelfIntersects({{0, 0}, {4, 0}, {2, 3}}));
  // An explicit closing point and repeated vertices are not crossings.
  EXPECT_FALSE(SelfIntersects({{0, 0}, {4, 0}, {4, 0}, {4, 4}, {0, 4}, {0, 0}}));
  // A spike back along its own edge is.
  EXPECT_TRUE(SelfIntersects({{0, 0}, {4, 0}, {4, 4}, {6, 4}, {2, 4}, {0, 4}}));
}

TEST(FillCircle, CountsCentresWithinTheRadius) {
  cv::Mat m = Zeros(10, 10);
  FillCircle({{5, 5}, 2}, &m);
  // Offsets of centres: (+-0.5, +-0.5) x4 and (+-0.5, +-1.5), (+-1.5, +-0.5) x8; (1.5, 1.5) is 2.12 away.
  EXPECT_EQ(cv::countNonZero(m), 12);
}

TEST(CountPointsOutside, CountsVerticesBeyondTheImage) {
  EXPECT_EQ(CountPointsOutside({{-1, 0}, {5, 5}, {11, 3}, {10, 10}}, 10, 10), 2);
}

TEST(Rle, CompressedStringFromPycocotoolsDecodes) {
  // m = zeros((5, 4)); m[1:4, 1:3] = 1; m[0, 3] = 1; pycocotools.mask.encode -> b'6320ON3'.
  absl::StatusOr<std::vector<uint32_t>> counts = DecodeCompressedRleCounts("6320ON3");
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_THAT(*counts, ::testing::ElementsAre(6, 3, 2, 3, 1, 1, 4));
  absl::StatusOr<cv::Mat> m = RleToMask(*counts, 5, 4);
  ASSERT_TRUE(m.ok());
  cv::Mat expected = Zeros(5, 4);
  expected(cv::Rect(1, 1, 2, 3)).setTo(1);
  expected.at<uint8_t>(0, 3) = 1;
  EXPECT_EQ(cv::countNonZero(*m != expected), 0);
}

TEST(Rle, LongerRunsWithDifferencesDecode) {
  // b = zeros((40, 30)); b[3:30, 5:25] = 1; b[10:12, 0:30] = 1 (560 pixels); pycocotools.mask.encode.
  absl::StatusOr<std::vector<uint32_t>> counts =
      DecodeCompressedRleCounts(":2V10000000Ii0^O00000000000000000000000000000000000007WOb00000000F");
  ASSERT_TRUE(counts.ok()) << counts.status();
  absl::StatusOr<cv::Mat> m = RleToMask(*counts, 40, 30);
  ASSERT_TRUE(m.ok()) << m.status();
  cv::Mat expected = Zeros(40, 30);
  expected(cv::Rect(5, 3, 20, 27)).setTo(1);
  expected(cv::Rect(0, 10, 30, 2)).setTo(1);
  EXPECT_EQ(cv::countNonZero(expected), 560);
  EXPECT_EQ(cv::countNonZero(*m != expected), 0);
}

TEST(Rle, BadInputIsAnError) {
  EXPECT_FALSE(DecodeCompressedRleCounts("6 3").ok());        // space is below '0'
  EXPECT_FALSE(DecodeCompressedRleCounts("h").ok());          // continuation bit set at the end
  absl::StatusOr<cv::Mat> m = RleToMask({6, 3, 2}, 5, 4);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()), ::testing::HasSubstr("add up to 11 pixels"));
}

TEST(MaskBox, EndsAreExclusive) {
  cv::Mat m = Zeros(10, 10);
  m.at<uint8_t>(4, 3) = 1;
  EXPECT_EQ(MaskBox(m), (std::array<int, 4>{3, 4, 4, 5}));
  m.at<uint8_t>(7, 8) = 1;
  EXPECT_EQ(MaskBox(m), (std::array<int, 4>{3, 4, 9, 8}));
  EXPECT_EQ(MaskBox(Zeros(3, 3)), (std::array<int, 4>{0, 0, 0, 0}));
}

}  // namespace
}  // namespace mrcnn::datasets
