#include "datasets/geometry/polygon.h"

#include <algorithm>
#include <cmath>

namespace mrcnn::geometry {
namespace {

// The integer in [lo, hi] nearest to v (v may be far outside int's range, or NaN: lo).
int ClampToInt(double v, int lo, int hi) {
  if (!(v >= lo)) return lo;
  if (v > hi) return hi;
  return static_cast<int>(v);
}

// Keeps the side of the line coord(p) = bound where keep(p) holds (Sutherland-Hodgman, one edge).
template <typename Keep, typename Cross>
Polygon ClipEdge(const Polygon& in, Keep keep, Cross cross) {
  Polygon out;
  for (size_t i = 0; i < in.size(); ++i) {
    const Point& a = in[(i + in.size() - 1) % in.size()];
    const Point& b = in[i];
    if (keep(b)) {
      if (!keep(a)) out.push_back(cross(a, b));
      out.push_back(b);
    } else if (keep(a)) {
      out.push_back(cross(a, b));
    }
  }
  return out;
}

// The coordinate at parameter t of the segment from a to b: exact when a == b, otherwise written as a
// blend so that no intermediate overflows for any finite a and b.
double Blend(double a, double b, double t) { return a == b ? a : (1 - t) * a + t * b; }

}  // namespace

Polygon PolygonFromFlat(const std::vector<double>& xy) {
  Polygon p;
  for (size_t i = 0; i + 1 < xy.size(); i += 2) p.push_back({xy[i], xy[i + 1]});
  return p;
}

Polygon ClipPolygon(const Polygon& polygon, double x0, double y0, double x1, double y1) {
  // t = (bound - a) / (b - a) computed as a ratio of halves, finite for any finite a != b.
  const auto t_of = [](double a, double b, double bound) { return (bound / 2 - a / 2) / (b / 2 - a / 2); };
  // The crossing lies on the clip line exactly; only the other coordinate is interpolated.
  const auto on_x = [&](double bound) {
    return [&, bound](const Point& a, const Point& b) {
      return Point{bound, Blend(a.y, b.y, t_of(a.x, b.x, bound))};
    };
  };
  const auto on_y = [&](double bound) {
    return [&, bound](const Point& a, const Point& b) {
      return Point{Blend(a.x, b.x, t_of(a.y, b.y, bound)), bound};
    };
  };
  Polygon p = ClipEdge(polygon, [&](const Point& q) { return q.x >= x0; }, on_x(x0));
  p = ClipEdge(p, [&](const Point& q) { return q.x <= x1; }, on_x(x1));
  p = ClipEdge(p, [&](const Point& q) { return q.y >= y0; }, on_y(y0));
  p = ClipEdge(p, [&](const Point& q) { return q.y <= y1; }, on_y(y1));
  return p;
}

void FillPolygon(const Polygon& polygon_in, uint8_t* mask, int height, int width, uint8_t value) {
  if (polygon_in.size() < 3 || height <= 0 || width <= 0) return;
  // Far-away coordinates (1e12 and beyond) are clipped to a frame one pixel around the image first:
  // the fill inside the image is unchanged (clipping against a convex region keeps the even-odd
  // membership of the points inside it) and the scanline arithmetic stays exact.
  const double fx0 = -1, fy0 = -1, fx1 = width + 1.0, fy1 = height + 1.0;
  const bool far = std::any_of(polygon_in.begin(), polygon_in.end(), [&](const Point& p) {
    return !(p.x >= fx0 && p.x <= fx1 && p.y >= fy0 && p.y <= fy1);
  });
  const Polygon polygon = far ? ClipPolygon(polygon_in, fx0, fy0, fx1, fy1) : polygon_in;
  const int n = static_cast<int>(polygon.size());
  if (n < 3) return;
  double ymin = polygon[0].y, ymax = polygon[0].y;
  for (const Point& p : polygon) {
    ymin = std::min(ymin, p.y);
    ymax = std::max(ymax, p.y);
  }
  // Rows whose centre y + 0.5 can fall in [ymin, ymax], clipped to the image.
  const int row0 = ClampToInt(std::floor(ymin - 0.5), 0, height - 1);
  const int row1 = ClampToInt(std::ceil(ymax - 0.5), -1, height - 1);
  std::vector<double> xs;
  for (int y = row0; y <= row1; ++y) {
    const double yc = y + 0.5;
    xs.clear();
    for (int i = 0, j = n - 1; i < n; j = i++) {
      const Point& a = polygon[i];
      const Point& b = polygon[j];
      // Half-open test so a vertex on the scan line is counted once.
      if ((a.y > yc) != (b.y > yc)) {
        xs.push_back(a.x + (yc - a.y) * (b.x - a.x) / (b.y - a.y));
      }
    }
    std::sort(xs.begin(), xs.end());
    uint8_t* row = mask + static_cast<int64_t>(y) * width;
    for (size_t k = 0; k + 1 < xs.size(); k += 2) {
      // Pixels with xs[k] <= x + 0.5 < xs[k + 1].
      const double lo = std::ceil(xs[k] - 0.5);
      const double hi = std::ceil(xs[k + 1] - 0.5) - 1;
      const int x0 = static_cast<int>(std::max(0.0, lo));
      const int x1 = static_cast<int>(std::min(static_cast<double>(width - 1), hi));
      for (int x = x0; x <= x1; ++x) row[x] = value;
    }
  }
}

void FillCircle(const Point& centre, double r, uint8_t* mask, int height, int width, uint8_t value) {
  if (!(r > 0) || height <= 0 || width <= 0) return;
  const int row0 = ClampToInt(std::floor(centre.y - r - 0.5), 0, height - 1);
  const int row1 = ClampToInt(std::ceil(centre.y + r), -1, height - 1);
  const int col0 = ClampToInt(std::floor(centre.x - r - 0.5), 0, width - 1);
  const int col1 = ClampToInt(std::ceil(centre.x + r), -1, width - 1);
  for (int y = row0; y <= row1; ++y) {
    uint8_t* row = mask + static_cast<int64_t>(y) * width;
    const double dy = y + 0.5 - centre.y;
    for (int x = col0; x <= col1; ++x) {
      const double dx = x + 0.5 - centre.x;
      // hypot: no overflow of the squares for huge radii.
      if (std::hypot(dx, dy) <= r) row[x] = value;
    }
  }
}

}  // namespace mrcnn::geometry
