// Polygons and their rasterisation: the project's one rule, used by the dataset loaders
// (datasets/raster), the model's ops (mrcnn/ops PolygonsToMask) and anything else that fills shapes.
//
// Pixel (x, y) belongs to a polygon when its centre (x + 0.5, y + 0.5) is inside it by the even-odd
// rule (a centre exactly on a left or top edge is inside, on a right or bottom edge outside); pixels
// outside the image are clipped away. Masks are row-major bytes, `width` per row.
//
//   std::vector<uint8_t> mask(h * w, 0);
//   geometry::FillPolygon({{10, 10}, {50, 12}, {30, 40}}, mask.data(), h, w);
#ifndef DATASETS_GEOMETRY_POLYGON_H_
#define DATASETS_GEOMETRY_POLYGON_H_

#include <cstdint>
#include <vector>

namespace mrcnn::geometry {

struct Point {
  double x = 0;
  double y = 0;
  bool operator==(const Point& o) const { return x == o.x && y == o.y; }
};
using Polygon = std::vector<Point>;

// A flat list x0, y0, x1, y1, ... (COCO's layout) as points; an odd last number is ignored.
Polygon PolygonFromFlat(const std::vector<double>& xy);

// Sets to `value` every pixel of the height x width row-major `mask` whose centre lies inside
// `polygon` (even-odd). Any finite coordinates; fewer than 3 points fill nothing.
void FillPolygon(const Polygon& polygon, uint8_t* mask, int height, int width, uint8_t value = 1);

// Sets to `value` every pixel whose centre is within `radius` of `centre` (the same centre rule).
void FillCircle(const Point& centre, double radius, uint8_t* mask, int height, int width, uint8_t value = 1);

// The part of `polygon` inside the rectangle [x0, x1] x [y0, y1] (Sutherland-Hodgman); exact and
// overflow-free for any finite coordinates. May return fewer than 3 points when nothing is inside.
Polygon ClipPolygon(const Polygon& polygon, double x0, double y0, double x1, double y1);

}  // namespace mrcnn::geometry

#endif  // DATASETS_GEOMETRY_POLYGON_H_
