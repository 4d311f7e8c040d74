// Rasterisation of instance shapes into binary masks, COCO run-length decoding, and boxes from masks.
//
// The polygon rule is the project's one rule (datasets/geometry, which mrcnn/ops wraps too): pixel
// (x, y) belongs to a polygon when its centre (x + 0.5, y + 0.5) is inside it by the even-odd rule;
// pixels outside the image are clipped away. Circles use the same centre rule with
// distance <= radius. Masks are CV_8UC1 holding 0 or 1.
//
//   cv::Mat m = cv::Mat::zeros(h, w, CV_8UC1);
//   FillPolygon({{10, 10}, {50, 12}, {30, 40}}, &m);
//   absl::StatusOr<std::vector<uint32_t>> counts = DecodeCompressedRleCounts("6320ON3");
#ifndef DATASETS_RASTER_H_
#define DATASETS_RASTER_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "datasets/geometry/polygon.h"
#include "opencv2/core.hpp"

namespace mrcnn::datasets {

using Point = geometry::Point;
using Polygon = geometry::Polygon;

struct Circle {
  Point centre;
  double radius = 0;
};

// Sets to `value` every pixel of `mask` (CV_8UC1) whose centre lies inside `polygon` (even-odd).
void FillPolygon(const Polygon& polygon, cv::Mat* mask, uint8_t value = 1);

// The part of `polygon` inside the rectangle [x0, x1] x [y0, y1] (Sutherland-Hodgman); exact and
// overflow-free for any finite coordinates. May return fewer than 3 points when nothing is inside.
Polygon ClipPolygon(const Polygon& polygon, double x0, double y0, double x1, double y1);
// Sets to `value` every pixel whose centre is within `circle.radius` of the centre.
void FillCircle(const Circle& circle, cv::Mat* mask, uint8_t value = 1);

// True when two non-adjacent edges of the polygon cross (a bow tie, a figure eight).
bool SelfIntersects(const Polygon& polygon);
// Number of vertices outside [0, width] x [0, height].
int CountPointsOutside(const Polygon& polygon, int width, int height);

// COCO run lengths, column-major, starting with a run of zeros. Decoding fails when the runs do not add
// up to height * width.
absl::StatusOr<cv::Mat> RleToMask(const std::vector<uint32_t>& counts, int height, int width);
// COCO's compressed text form of the run lengths (6-bit groups offset by 48, runs after the second
// stored as differences to the run two before).
absl::StatusOr<std::vector<uint32_t>> DecodeCompressedRleCounts(const std::string& text);

// [x1, y1, x2, y2] of the mask's set pixels with x2, y2 exclusive (one past the last pixel), so a
// single pixel at (3, 4) gives [3, 4, 4, 5]; all zeros for an empty mask.
std::array<int, 4> MaskBox(const cv::Mat& mask);

}  // namespace mrcnn::datasets

#endif  // DATASETS_RASTER_H_
