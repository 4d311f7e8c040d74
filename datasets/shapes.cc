#include "datasets/shapes.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "datasets/random.h"

namespace mrcnn::datasets {
namespace {

constexpr const char* kNames[] = {"square", "circle", "triangle"};

// One random shape with centre (x, y) and size s, picked as matterport's shapes tutorial does
// (random_shape: buffer = 20, centre in [buffer, side - buffer - 1], s in [buffer, height / 4]) with
// the buffer scaled by the short side / 128, so a 128 px image gets matterport's exact ranges.
Annotation RandomShape(Rng* rng, int height, int width) {
  const int short_side = std::min(height, width);
  const int buffer = std::max(2, static_cast<int>(std::lround(short_side * 20.0 / 128.0)));
  const int kind = static_cast<int>(rng->UniformInt(0, 2));
  const double x = rng->UniformInt(buffer, std::max(buffer, width - buffer - 1));
  const double y = rng->UniformInt(buffer, std::max(buffer, height - buffer - 1));
  const double s = rng->UniformInt(buffer, std::max(buffer, short_side / 4));
  Annotation a;
  a.class_id = kind + 1;
  a.category = kNames[kind];
  if (kind == 0) {
    a.polygons.push_back({{x - s, y - s}, {x + s, y - s}, {x + s, y + s}, {x - s, y + s}});
  } else if (kind == 1) {
    a.circles.push_back({{x, y}, s});
  } else {
    // matterport's triangle: apex s above the centre, base s below it and 2 s / sin(60 deg) wide.
    const double half_base = s / std::sin(M_PI / 3);
    a.polygons.push_back({{x, y - s}, {x - half_base, y + s}, {x + half_base, y + s}});
  }
  return a;
}

// The shape's box (x0, y0, x1, y1) before clipping to the image.
std::array<double, 4> ShapeBox(const Annotation& a) {
  if (!a.circles.empty()) {
    const auto& c = a.circles[0];
    return {c.centre.x - c.radius, c.centre.y - c.radius, c.centre.x + c.radius, c.centre.y + c.radius};
  }
  std::array<double, 4> b = {1e300, 1e300, -1e300, -1e300};
  for (const auto& p : a.polygons[0]) {
    b = {std::min(b[0], p.x), std::min(b[1], p.y), std::max(b[2], p.x), std::max(b[3], p.y)};
  }
  return b;
}

double BoxIou(const std::array<double, 4>& a, const std::array<double, 4>& b) {
  const double w = std::max(0.0, std::min(a[2], b[2]) - std::max(a[0], b[0]));
  const double h = std::max(0.0, std::min(a[3], b[3]) - std::max(a[1], b[1]));
  const double inter = w * h;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

// Area visible of each annotation once all are drawn in order, divided by its own area.
std::vector<double> VisibleFractions(const std::vector<Annotation>& shapes, int height, int width) {
  std::vector<cv::Mat> masks;
  for (const Annotation& a : shapes) masks.push_back(RasteriseAnnotation(a, height, width).value());
  std::vector<double> out(shapes.size());
  cv::Mat covered = cv::Mat::zeros(height, width, CV_8UC1);
  for (int i = static_cast<int>(shapes.size()) - 1; i >= 0; --i) {
    const double area = cv::countNonZero(masks[i]);
    cv::Mat visible = masks[i].clone();
    visible.setTo(0, covered);
    out[i] = area > 0 ? cv::countNonZero(visible) / area : 0.0;
    covered |= masks[i];
  }
  return out;
}

}  // namespace

Dataset MakeShapesDataset(const ShapesOptions& options) {
  Dataset ds;
  for (int k = 0; k < 3; ++k) ds.AddClass("shapes", k + 1, kNames[k]).IgnoreError();  // valid by construction
  for (int i = 0; i < options.count; ++i) {
    Rng rng(DeriveSeed(options.seed, absl::StrCat("shapes/", options.split), i));
    ImageInfo info;
    info.source = "shapes";
    info.id = absl::StrCat(options.split, "/", i);
    info.width = options.width;
    info.height = options.height;
    info.synthetic = true;
    info.occlusion_ordered = true;
    for (uint8_t& c : info.scene.background) c = static_cast<uint8_t>(rng.UniformInt(0, 255));
    const int count = static_cast<int>(rng.UniformInt(1, 4));
    for (int s = 0; s < count; ++s) {
      for (int attempt = 0; attempt < 20; ++attempt) {
        Annotation a = RandomShape(&rng, options.height, options.width);
        // matterport keeps shapes whose boxes overlap by IoU <= 0.3 (its non_max_suppression).
        bool overlaps = false;
        for (const Annotation& b : info.annotations) overlaps |= BoxIou(ShapeBox(a), ShapeBox(b)) > 0.3;
        if (overlaps) continue;
        a.source_index = static_cast<int>(info.annotations.size());
        info.annotations.push_back(a);
        const std::vector<double> visible = VisibleFractions(info.annotations, options.height, options.width);
        if (*std::min_element(visible.begin(), visible.end()) >= 0.25) break;
        info.annotations.pop_back();
      }
    }
    for (size_t s = 0; s < info.annotations.size(); ++s) {
      std::array<uint8_t, 3> colour;
      // Far enough from the background that the shape is visible.
      do {
        for (uint8_t& c : colour) c = static_cast<uint8_t>(rng.UniformInt(0, 255));
      } while (std::abs(colour[0] - info.scene.background[0]) + std::abs(colour[1] - info.scene.background[1]) +
                   std::abs(colour[2] - info.scene.background[2]) < 60);
      info.scene.colours.push_back(colour);
    }
    ds.AddImage(std::move(info));
  }
  ds.Prepare().IgnoreError();  // classes added above
  return ds;
}

}  // namespace mrcnn::datasets
