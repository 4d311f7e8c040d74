#include "eval/rle.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"

namespace mrcnn::eval {
namespace {

// Largest mask (in pixels) whose positions fit the 32-bit run lengths pycocotools uses.
constexpr int64_t kMaxPixels = int64_t{INT32_MAX};
// Polygon coordinates beyond this are refused: pycocotools samples every edge at 1/5 pixel, so a
// far-away vertex would allocate billions of points (and overflow its int arithmetic).
constexpr double kMaxPolygonCoordinate = 1e6;

absl::Status CheckSize(int64_t height, int64_t width) {
  if (height < 0 || width < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("mask size ", height, "x", width, " is negative"));
  }
  if (height > 0 && width > kMaxPixels / height) {
    return absl::InvalidArgumentError(
        absl::StrCat("mask size ", height, "x", width, " exceeds ", kMaxPixels, " pixels"));
  }
  return absl::OkStatus();
}

// Runs of one mask, walked in column-major order; `value(i)` gives pixel i's byte.
template <typename PixelAt>
Rle EncodeRuns(int64_t height, int64_t width, PixelAt value) {
  Rle rle{height, width, {}};
  const int64_t n = height * width;
  uint8_t previous = 0;
  uint32_t run = 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t v = value(i) ? 1 : 0;
    if (v != previous) {
      rle.counts.push_back(run);
      run = 0;
      previous = v;
    }
    ++run;
  }
  rle.counts.push_back(run);
  return rle;
}

}  // namespace

absl::Status ValidateRle(const Rle& rle) {
  if (absl::Status s = CheckSize(rle.height, rle.width); !s.ok()) return s;
  uint64_t total = 0;
  for (uint32_t c : rle.counts) total += c;
  const uint64_t expected = static_cast<uint64_t>(rle.height * rle.width);
  if (total != expected) {
    return absl::InvalidArgumentError(absl::StrCat("RLE runs sum to ", total,
                                                   " pixels but its size ", rle.height, "x",
                                                   rle.width, " has ", expected));
  }
  if (rle.counts.empty() && expected != 0) {
    return absl::InvalidArgumentError("RLE has no runs");
  }
  return absl::OkStatus();
}

Rle RleFromRowMajor(const uint8_t* mask, int64_t height, int64_t width) {
  return EncodeRuns(height, width, [&](int64_t i) {
    const int64_t x = i / height;
    const int64_t y = i - x * height;
    return mask[y * width + x];
  });
}

Rle RleFromColumnMajor(const uint8_t* mask, int64_t height, int64_t width) {
  return EncodeRuns(height, width, [&](int64_t i) { return mask[i]; });
}

std::vector<uint8_t> RleToColumnMajor(const Rle& rle) {
  std::vector<uint8_t> mask(static_cast<size_t>(rle.height * rle.width), 0);
  size_t pos = 0;
  for (size_t j = 0; j < rle.counts.size(); ++j) {
    const size_t end = std::min(mask.size(), pos + rle.counts[j]);
    if (j % 2 == 1) std::fill(mask.begin() + pos, mask.begin() + end, 1);
    pos = end;
  }
  return mask;
}

std::vector<uint8_t> RleToRowMajor(const Rle& rle) {
  const std::vector<uint8_t> column_major = RleToColumnMajor(rle);
  std::vector<uint8_t> mask(column_major.size());
  for (int64_t x = 0; x < rle.width; ++x) {
    for (int64_t y = 0; y < rle.height; ++y)
      mask[y * rle.width + x] = column_major[x * rle.height + y];
  }
  return mask;
}

uint64_t RleArea(const Rle& rle) {
  // pycocotools accumulates in a 32-bit unsigned; masks are limited to kMaxPixels, so no wrap.
  uint64_t area = 0;
  for (size_t j = 1; j < rle.counts.size(); j += 2) area += rle.counts[j];
  return area;
}

Box RleToBox(const Rle& rle) {
  // Unsigned 32-bit arithmetic as in pycocotools, so odd inputs (only zero-length foreground runs)
  // give the same numbers too.
  const uint32_t h = static_cast<uint32_t>(rle.height);
  const uint32_t w = static_cast<uint32_t>(rle.width);
  const size_t m = rle.counts.size() / 2 * 2;
  if (m == 0) return Box{};
  uint32_t xs = w, ys = h, xe = 0, ye = 0, end = 0;
  for (size_t j = 0; j < m; ++j) {
    const uint32_t start = end;
    end += rle.counts[j];
    if (j % 2 == 0 || rle.counts[j] == 0) continue;  // background, or an empty foreground run
    const uint32_t y_start = start % h, x_start = start / h;
    const uint32_t y_end = (end - 1) % h, x_end = (end - 1) / h;
    xs = std::min(xs, x_start);
    xe = std::max(xe, x_end);
    if (x_start < x_end) {  // the run wraps over a column boundary: it spans the full height
      ys = 0;
      ye = h - 1;
    } else {
      ys = std::min(ys, y_start);
      ye = std::max(ye, y_end);
    }
  }
  return Box{static_cast<double>(xs), static_cast<double>(ys), static_cast<double>(xe - xs + 1),
             static_cast<double>(ye - ys + 1)};
}

absl::StatusOr<Rle> RleMerge(const std::vector<Rle>& rles, bool intersect) {
  if (rles.empty()) return Rle{};
  for (size_t i = 1; i < rles.size(); ++i) {
    if (rles[i].height != rles[0].height || rles[i].width != rles[0].width) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot merge masks of different sizes: mask 0 is ", rles[0].height, "x",
                       rles[0].width, ", mask ", i, " is ", rles[i].height, "x", rles[i].width));
    }
  }
  for (size_t i = 0; i < rles.size(); ++i) {
    // Runs that do not cover the mask would never end the walk below.
    if (absl::Status s = ValidateRle(rles[i]); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("cannot merge mask ", i, ": ", s.message()));
    }
  }
  Rle merged = rles[0];
  if (merged.counts.empty()) merged.counts.push_back(0);
  std::vector<uint32_t> out;
  for (size_t i = 1; i < rles.size(); ++i) {
    const std::vector<uint32_t>& a_runs = merged.counts;
    std::vector<uint32_t> b_runs = rles[i].counts;
    if (b_runs.empty()) b_runs.push_back(0);
    out.clear();
    // Walk both run lists together; emit a run whenever the combined value flips.
    uint32_t ca = a_runs[0], cb = b_runs[0], run = 0;
    bool va = false, vb = false, v = false;
    size_t a = 1, b = 1;
    uint32_t remaining = 1;
    while (remaining > 0) {
      const uint32_t c = std::min(ca, cb);
      run += c;
      remaining = 0;
      ca -= c;
      if (ca == 0 && a < a_runs.size()) {
        ca = a_runs[a++];
        va = !va;
      }
      remaining += ca;
      cb -= c;
      if (cb == 0 && b < b_runs.size()) {
        cb = b_runs[b++];
        vb = !vb;
      }
      remaining += cb;
      const bool previous = v;
      v = intersect ? (va && vb) : (va || vb);
      if (v != previous || remaining == 0) {
        out.push_back(run);
        run = 0;
      }
    }
    merged.counts = out;
  }
  return merged;
}

double BoxIou(const Box& dt, const Box& gt, bool gt_is_crowd) {
  const double gt_area = gt.w * gt.h;
  const double dt_area = dt.w * dt.h;
  const double w = std::fmin(dt.w + dt.x, gt.w + gt.x) - std::fmax(dt.x, gt.x);
  if (w <= 0) return 0;
  const double h = std::fmin(dt.h + dt.y, gt.h + gt.y) - std::fmax(dt.y, gt.y);
  if (h <= 0) return 0;
  const double inter = w * h;
  const double uni = gt_is_crowd ? dt_area : dt_area + gt_area - inter;
  return inter / uni;
}

double MaskIou(const Rle& dt, const Rle& gt, bool gt_is_crowd) {
  return MaskIou(dt, RleToBox(dt), gt, RleToBox(gt), gt_is_crowd);
}

double MaskIou(const Rle& dt, const Box& dt_box, const Rle& gt, const Box& gt_box,
               bool gt_is_crowd) {
  // Boxes that do not overlap mean masks that do not overlap; pycocotools checks this first, and
  // only then compares sizes.
  if (!(BoxIou(dt_box, gt_box, gt_is_crowd) > 0)) return 0;
  if (dt.height != gt.height || dt.width != gt.width) return -1;
  const std::vector<uint32_t>& da = dt.counts;
  const std::vector<uint32_t>& ga = gt.counts;
  uint32_t ca = da[0], cb = ga[0];
  bool va = false, vb = false;
  size_t a = 1, b = 1;
  uint32_t inter = 0, uni = 0, remaining = 1;
  while (remaining > 0) {
    const uint32_t c = std::min(ca, cb);
    if (va || vb) {
      uni += c;
      if (va && vb) inter += c;
    }
    remaining = 0;
    const size_t a_before = a, b_before = b;
    ca -= c;
    if (ca == 0 && a < da.size()) {
      ca = da[a++];
      va = !va;
    }
    remaining += ca;
    cb -= c;
    if (cb == 0 && b < ga.size()) {
      cb = ga[b++];
      vb = !vb;
    }
    remaining += cb;
    // Only masks whose runs cover different pixel counts (invalid RLEs) can stall here.
    if (c == 0 && a == a_before && b == b_before) break;
  }
  if (inter == 0) {
    uni = 1;
  } else if (gt_is_crowd) {
    uni = static_cast<uint32_t>(RleArea(dt));
  }
  return static_cast<double>(inter) / static_cast<double>(uni);
}

absl::StatusOr<Rle> RleFromPolygon(const std::vector<double>& xy, int64_t height, int64_t width) {
  if (absl::Status s = CheckSize(height, width); !s.ok()) return s;
  if (height == 0 || width == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot rasterise a polygon into an empty ", height, "x", width, " image"));
  }
  if (xy.size() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("polygon has an odd number of coordinates (", xy.size(), ")"));
  }
  // pycocotools reads a 4-number list as a box, and fewer than 3 points enclose nothing.
  if (xy.size() < 6) {
    return absl::InvalidArgumentError(
        absl::StrCat("polygon has ", xy.size() / 2, " points; at least 3 are needed"));
  }
  for (size_t i = 0; i < xy.size(); ++i) {
    if (!std::isfinite(xy[i]) || std::fabs(xy[i]) > kMaxPolygonCoordinate) {
      return absl::InvalidArgumentError(absl::StrCat("polygon coordinate ", i, " (", xy[i],
                                                     ") is not finite or beyond +-",
                                                     kMaxPolygonCoordinate));
    }
  }
  // 1. Vertices on a grid 5x finer than the pixels, closed back to the first vertex.
  const double scale = 5;
  const size_t k = xy.size() / 2;
  std::vector<int> x(k + 1), y(k + 1);
  for (size_t j = 0; j < k; ++j) {
    x[j] = static_cast<int>(scale * xy[2 * j] + .5);
    y[j] = static_cast<int>(scale * xy[2 * j + 1] + .5);
  }
  x[k] = x[0];
  y[k] = y[0];

  // 2. Every grid point along every edge, stepping along the edge's longer axis, in boundary order
  //    (each edge's end point repeats as the next edge's start, as in pycocotools).
  // 3. Where two consecutive points lie in different columns, the boundary crosses from one pixel
  //    column to the next and the first pixel centre below it starts or ends a run; map those
  //    crossings back to pixel positions. Points are consumed as they are made rather than stored.
  std::vector<uint32_t> starts;
  const double max_x = static_cast<double>(width - 1);
  bool have_previous = false;
  int pu = 0, pv = 0;
  auto visit = [&](int cu, int cv) {
    if (have_previous && cu != pu) {
      double xd = static_cast<double>(cu < pu ? cu : cu - 1);
      xd = (xd + .5) / scale - .5;
      if (std::floor(xd) == xd && xd >= 0 && xd <= max_x) {
        double yd = static_cast<double>(cv < pv ? cv : pv);
        yd = (yd + .5) / scale - .5;
        if (yd < 0) {
          yd = 0;
        } else if (yd > static_cast<double>(height)) {
          yd = static_cast<double>(height);
        }
        yd = std::ceil(yd);
        starts.push_back(static_cast<uint32_t>(static_cast<int>(xd) * static_cast<int>(height) +
                                               static_cast<int>(yd)));
      }
    }
    have_previous = true;
    pu = cu;
    pv = cv;
  };
  for (size_t j = 0; j < k; ++j) {
    int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const int dx = std::abs(xe - xs), dy = std::abs(ys - ye);
    const bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      std::swap(xs, xe);
      std::swap(ys, ye);
    }
    if (dx >= dy) {
      if (dx == 0) {
        // A zero-length edge (repeated vertex). pycocotools computes its slope as 0/0 and converts
        // the NaN ordinate to int, which x86-64 turns into INT_MIN; keep that value so the
        // column-crossing test sees the same points.
        visit(xs, INT_MIN);
        continue;
      }
      const double s = static_cast<double>(ye - ys) / dx;
      for (int d = 0; d <= dx; ++d) {
        const int t = flip ? dx - d : d;
        visit(t + xs, static_cast<int>(ys + s * t + .5));
      }
    } else {
      const double s = static_cast<double>(xe - xs) / dy;
      for (int d = 0; d <= dy; ++d) {
        const int t = flip ? dy - d : d;
        visit(static_cast<int>(xs + s * t + .5), t + ys);
      }
    }
  }
  starts.push_back(static_cast<uint32_t>(height * width));

  // 4. Sorted toggle positions -> run lengths; a zero-length run joins its neighbours.
  std::sort(starts.begin(), starts.end());
  uint32_t previous = 0;
  for (uint32_t& s : starts) {
    const uint32_t t = s;
    s -= previous;
    previous = t;
  }
  Rle rle{height, width, {}};
  rle.counts.reserve(starts.size());
  size_t j = 0;
  rle.counts.push_back(starts[j++]);
  while (j < starts.size()) {
    if (starts[j] > 0) {
      rle.counts.push_back(starts[j++]);
    } else {
      ++j;
      if (j < starts.size()) rle.counts.back() += starts[j++];
    }
  }
  return rle;
}

absl::StatusOr<Rle> RleFromPolygons(const std::vector<std::vector<double>>& polygons,
                                    int64_t height, int64_t width) {
  if (polygons.empty()) return absl::InvalidArgumentError("segmentation has no polygons");
  std::vector<Rle> parts;
  parts.reserve(polygons.size());
  for (size_t i = 0; i < polygons.size(); ++i) {
    absl::StatusOr<Rle> part = RleFromPolygon(polygons[i], height, width);
    if (!part.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("polygon ", i, ": ", part.status().message()));
    }
    parts.push_back(*std::move(part));
  }
  return RleMerge(parts, /*intersect=*/false);
}

absl::StatusOr<Rle> RleFromBox(const Box& box, int64_t height, int64_t width) {
  const double xs = box.x, xe = xs + box.w, ys = box.y, ye = ys + box.h;
  return RleFromPolygon({xs, ys, xs, ye, xe, ye, xe, ys}, height, width);
}

std::string RleToCompressedString(const Rle& rle) {
  std::string s;
  s.reserve(rle.counts.size() * 2);
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    int64_t x = rle.counts[i];
    if (i > 2) x -= rle.counts[i - 2];
    bool more = true;
    while (more) {
      char c = static_cast<char>(x & 0x1f);
      x >>= 5;  // arithmetic shift: negative deltas keep their sign
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      s.push_back(static_cast<char>(c + 48));
    }
  }
  return s;
}

absl::StatusOr<Rle> RleFromCompressedString(std::string_view counts, int64_t height,
                                            int64_t width) {
  if (absl::Status s = CheckSize(height, width); !s.ok()) return s;
  Rle rle{height, width, {}};
  size_t p = 0;
  while (p < counts.size()) {
    const size_t token_start = p;
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      if (p >= counts.size()) {
        return absl::InvalidArgumentError(absl::StrCat("compressed RLE ends inside run ",
                                                       rle.counts.size(), " (at character ",
                                                       token_start, ")"));
      }
      const int c = static_cast<unsigned char>(counts[p]) - 48;
      if (c < 0 || c > 63) {
        return absl::InvalidArgumentError(absl::StrCat("compressed RLE has character '",
                                                       std::string(counts.substr(p, 1)), "' at ", p,
                                                       " outside '0'..'o'"));
      }
      if (k >= 7) {
        return absl::InvalidArgumentError(absl::StrCat("compressed RLE run ", rle.counts.size(),
                                                       " is too long (at character ", token_start,
                                                       ")"));
      }
      x |= static_cast<int64_t>(c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      // Sign-extend a negative delta (the shift done unsigned: shifting a negative value is undefined).
      if (!more && (c & 0x10)) x |= static_cast<int64_t>(~uint64_t{0} << (5 * k));
    }
    const size_t m = rle.counts.size();
    if (m > 2) x += rle.counts[m - 2];
    if (x < 0 || x > int64_t{UINT32_MAX}) {
      return absl::InvalidArgumentError(
          absl::StrCat("compressed RLE run ", m, " has invalid length ", x));
    }
    rle.counts.push_back(static_cast<uint32_t>(x));
  }
  if (absl::Status s = ValidateRle(rle); !s.ok()) return s;
  return rle;
}

}  // namespace mrcnn::eval
