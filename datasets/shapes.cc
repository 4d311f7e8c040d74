#include "datasets/shapes.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "datasets/random.h"

namespace mrcnn::datasets {
namespace {

constexpr const char* kNames[] = {"square", "circle", "triangle"};

// One random shape with centre (x, y) and half-size s, as matterport's random_shape picks them but
// scaled to the image: a margin keeps the centre inside, size up to a quarter of the short side.
Annotation RandomShape(Rng* rng, int height, int width) {
  const int short_side = std::min(height, width);
  const int margin = std::max(2, short_side / 8);
  const int kind = static_cast<int>(rng->UniformInt(0, 2));
  const double x = rng->UniformInt(margin, std::max(margin, width - margin - 1));
  const double y = rng->UniformInt(margin, std::max(margin, height - margin - 1));
  const double s = rng->UniformInt(std::max(2, short_side / 16), std::max(3, short_side / 4));
  Annotation a;
  a.class_id = kind + 1;
  a.category = kNames[kind];
  if (kind == 0) {
    a.polygons.push_back({{x - s, y - s}, {x + s, y - s}, {x + s, y + s}, {x - s, y + s}});
  } else if (kind == 1) {
    a.circles.push_back({{x, y}, s});
  } else {
    // Equilateral triangle with circumradius s, pointing up.
    const double h = s * std::sin(M_PI / 3);
    a.polygons.push_back({{x, y - s}, {x - h, y + s / 2}, {x + h, y + s / 2}});
  }
  return a;
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
