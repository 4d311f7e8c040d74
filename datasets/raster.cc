#include "datasets/raster.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace mrcnn::datasets {

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

void FillPolygon(const Polygon& polygon_in, cv::Mat* mask, uint8_t value) {
  if (polygon_in.size() < 3 || mask->empty()) return;
  // Far-away coordinates (1e12 and beyond) are clipped to a frame one pixel around the image first:
  // the fill inside the image is unchanged (clipping against a convex region keeps the even-odd
  // membership of the points inside it) and the scanline arithmetic stays exact.
  const double fx0 = -1, fy0 = -1, fx1 = mask->cols + 1.0, fy1 = mask->rows + 1.0;
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
  const int row0 = ClampToInt(std::floor(ymin - 0.5), 0, mask->rows - 1);
  const int row1 = ClampToInt(std::ceil(ymax - 0.5), -1, mask->rows - 1);
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
    uint8_t* row = mask->ptr<uint8_t>(y);
    for (size_t k = 0; k + 1 < xs.size(); k += 2) {
      // Pixels with xs[k] <= x + 0.5 < xs[k + 1].
      const double lo = std::ceil(xs[k] - 0.5);
      const double hi = std::ceil(xs[k + 1] - 0.5) - 1;
      const int x0 = static_cast<int>(std::max(0.0, lo));
      const int x1 = static_cast<int>(std::min(static_cast<double>(mask->cols - 1), hi));
      for (int x = x0; x <= x1; ++x) row[x] = value;
    }
  }
}

void FillCircle(const Circle& circle, cv::Mat* mask, uint8_t value) {
  const double r = circle.radius;
  if (!(r > 0) || mask->empty()) return;
  const int row0 = ClampToInt(std::floor(circle.centre.y - r - 0.5), 0, mask->rows - 1);
  const int row1 = ClampToInt(std::ceil(circle.centre.y + r), -1, mask->rows - 1);
  const int col0 = ClampToInt(std::floor(circle.centre.x - r - 0.5), 0, mask->cols - 1);
  const int col1 = ClampToInt(std::ceil(circle.centre.x + r), -1, mask->cols - 1);
  for (int y = row0; y <= row1; ++y) {
    uint8_t* row = mask->ptr<uint8_t>(y);
    const double dy = y + 0.5 - circle.centre.y;
    for (int x = col0; x <= col1; ++x) {
      const double dx = x + 0.5 - circle.centre.x;
      // hypot: no overflow of the squares for huge radii.
      if (std::hypot(dx, dy) <= r) row[x] = value;
    }
  }
}

namespace {

double Cross(const Point& o, const Point& a, const Point& b) {
  return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

// Proper or touching intersection of segments ab and cd.
bool SegmentsIntersect(const Point& a, const Point& b, const Point& c, const Point& d) {
  const double d1 = Cross(c, d, a), d2 = Cross(c, d, b), d3 = Cross(a, b, c), d4 = Cross(a, b, d);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) {
    return true;
  }
  auto on_segment = [](const Point& p, const Point& q, const Point& r) {
    return std::min(p.x, q.x) <= r.x && r.x <= std::max(p.x, q.x) && std::min(p.y, q.y) <= r.y &&
           r.y <= std::max(p.y, q.y);
  };
  return (d1 == 0 && on_segment(c, d, a)) || (d2 == 0 && on_segment(c, d, b)) ||
         (d3 == 0 && on_segment(a, b, c)) || (d4 == 0 && on_segment(a, b, d));
}

}  // namespace

bool SelfIntersects(const Polygon& input) {
  // Repeated vertices (a closing point equal to the first, as COCO and some tools write) make
  // zero-length edges that touch their neighbours; drop them first.
  Polygon polygon;
  for (const Point& p : input) {
    if (polygon.empty() || !(polygon.back() == p)) polygon.push_back(p);
  }
  while (polygon.size() > 1 && polygon.back() == polygon.front()) polygon.pop_back();
  const int n = static_cast<int>(polygon.size());
  if (n < 4) return false;
  for (int i = 0; i < n; ++i) {
    const Point& a = polygon[i];
    const Point& b = polygon[(i + 1) % n];
    for (int j = i + 2; j < n; ++j) {
      if (i == 0 && j == n - 1) continue;  // the closing edge shares vertex 0 with edge 0
      if (SegmentsIntersect(a, b, polygon[j], polygon[(j + 1) % n])) return true;
    }
  }
  return false;
}

int CountPointsOutside(const Polygon& polygon, int width, int height) {
  int n = 0;
  for (const Point& p : polygon) n += p.x < 0 || p.y < 0 || p.x > width || p.y > height;
  return n;
}

absl::StatusOr<cv::Mat> RleToMask(const std::vector<uint32_t>& counts, int height, int width) {
  if (height <= 0 || width <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("RLE size ", height, "x", width, " is empty"));
  }
  uint64_t total = 0;
  for (uint32_t c : counts) total += c;
  const uint64_t expected = static_cast<uint64_t>(height) * width;
  if (total != expected) {
    return absl::InvalidArgumentError(absl::StrCat("RLE runs add up to ", total, " pixels but size ",
                                                   height, "x", width, " has ", expected));
  }
  // Runs walk the image column by column; fill a transposed buffer, then transpose.
  cv::Mat transposed = cv::Mat::zeros(width, height, CV_8UC1);
  uint8_t* data = transposed.ptr<uint8_t>(0);
  uint64_t pos = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (i % 2 == 1) std::fill(data + pos, data + pos + counts[i], 1);
    pos += counts[i];
  }
  cv::Mat mask;
  cv::transpose(transposed, mask);
  return mask;
}

absl::StatusOr<std::vector<uint32_t>> DecodeCompressedRleCounts(const std::string& text) {
  std::vector<int64_t> runs;
  size_t p = 0;
  while (p < text.size()) {
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      if (p >= text.size()) {
        return absl::InvalidArgumentError("compressed RLE string ends inside a run");
      }
      const int c = static_cast<unsigned char>(text[p]) - 48;
      if (c < 0 || c > 63) {
        return absl::InvalidArgumentError(
            absl::StrCat("compressed RLE string has an invalid character at offset ", p));
      }
      if (k > 6) return absl::InvalidArgumentError("compressed RLE run is too long");
      x |= static_cast<int64_t>(c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      // The last group's bit 4 is the sign bit.
      if (!more && (c & 0x10)) x |= -(static_cast<int64_t>(1) << (5 * k));
    }
    if (runs.size() > 2) x += runs[runs.size() - 2];
    runs.push_back(x);
  }
  std::vector<uint32_t> counts;
  counts.reserve(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    if (runs[i] < 0 || runs[i] > 0xffffffffLL) {
      return absl::InvalidArgumentError(absl::StrCat("compressed RLE run ", i, " is negative"));
    }
    counts.push_back(static_cast<uint32_t>(runs[i]));
  }
  return counts;
}

std::array<int, 4> MaskBox(const cv::Mat& mask) {
  int x1 = mask.cols, y1 = mask.rows, x2 = -1, y2 = -1;
  for (int y = 0; y < mask.rows; ++y) {
    const uint8_t* row = mask.ptr<uint8_t>(y);
    for (int x = 0; x < mask.cols; ++x) {
      if (row[x]) {
        x1 = std::min(x1, x);
        x2 = std::max(x2, x);
        y1 = std::min(y1, y);
        y2 = std::max(y2, y);
      }
    }
  }
  if (x2 < 0) return {0, 0, 0, 0};
  return {x1, y1, x2 + 1, y2 + 1};
}

}  // namespace mrcnn::datasets
