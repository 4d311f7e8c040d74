// COCO ground truth for evaluation (eval/coco_json.h ParseCocoGroundTruth): the input is the whole
// instances file, parsed in memory. Parsed masks are then measured as the evaluator measures them,
// and polygons rasterised into RLE (pycocotools' frPoly) when the work is small: the harness skips
// images over 2^20 pixels and coordinates beyond +-4096, which are valid but only slow.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "eval/coco_json.h"
#include "eval/rle.h"

namespace {

bool SmallPolygons(const std::vector<std::vector<double>>& polygons) {
  for (const std::vector<double>& p : polygons) {
    for (double v : p) {
      if (!(std::fabs(v) <= 4096)) return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mrcnn::eval;
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<CocoDataset> gt = ParseCocoGroundTruth(text, "gt.json");
  if (!gt.ok()) return 0;
  std::unordered_map<int64_t, const CocoImage*> images;
  for (const CocoImage& img : gt->images) images[img.id] = &img;
  for (const CocoAnnotation& a : gt->annotations) {
    if (a.segmentation.rle) {
      (void)RleArea(*a.segmentation.rle);
      (void)RleToBox(*a.segmentation.rle);
    }
    const CocoImage* img = images.at(a.image_id);  // the parser checked that it exists (width > 0)
    if (!a.segmentation.polygons.empty() && img->height <= (int64_t{1} << 20) / img->width &&
        SmallPolygons(a.segmentation.polygons)) {
      absl::StatusOr<Rle> rle = RleFromPolygons(a.segmentation.polygons, img->height, img->width);
      if (rle.ok()) (void)RleToBox(*rle);
    }
  }
  return 0;
}
