#include "datasets/raster.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "datasets/geometry/masks.h"

namespace mrcnn::datasets {

Polygon ClipPolygon(const Polygon& polygon, double x0, double y0, double x1, double y1) {
  return geometry::ClipPolygon(polygon, x0, y0, x1, y1);
}

void FillPolygon(const Polygon& polygon, cv::Mat* mask, uint8_t value) {
  if (mask->empty()) return;
  if (mask->isContinuous()) {
    geometry::FillPolygon(polygon, mask->ptr<uint8_t>(0), mask->rows, mask->cols, value);
    return;
  }
  cv::Mat m = mask->clone();
  geometry::FillPolygon(polygon, m.ptr<uint8_t>(0), m.rows, m.cols, value);
  m.copyTo(*mask);
}

void FillCircle(const Circle& circle, cv::Mat* mask, uint8_t value) {
  if (mask->empty()) return;
  cv::Mat m = mask->isContinuous() ? *mask : mask->clone();
  geometry::FillCircle(circle.centre, circle.radius, m.ptr<uint8_t>(0), m.rows, m.cols, value);
  if (!mask->isContinuous()) m.copyTo(*mask);
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
  const cv::Mat m = mask.isContinuous() ? mask : mask.clone();
  return geometry::MaskBox(m.ptr<uint8_t>(0), m.rows, m.cols);
}

}  // namespace mrcnn::datasets
