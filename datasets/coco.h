// COCO instances JSON: categories, images and annotations whose segmentation is a list of polygons,
// an uncompressed RLE ({"counts": [..], "size": [h, w]}) or a compressed RLE ({"counts": "...", ...});
// iscrowd marks crowd regions (kept, flagged crowd). Run lengths are decoded here, not by eval/.
//
//   CocoOptions opt; opt.annotation_file = "ann.json"; opt.image_dir = "images";
//   absl::StatusOr<Dataset> ds = LoadCoco(opt, &log);
//
// FindCocoFiles() picks both from a folder: DIR/annotations.json, DIR/annotations/instances_*.json or
// the only *.json in DIR; images in DIR/images when it exists, else DIR.
#ifndef DATASETS_COCO_H_
#define DATASETS_COCO_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "datasets/dataset.h"
#include "datasets/image_io.h"
#include "datasets/problems.h"

namespace mrcnn::datasets {

struct CocoOptions {
  std::string annotation_file;
  std::string image_dir;  // file_name is relative to it (or to the annotation file's folder)
  // Images over this many pixels (from their headers) are reported and skipped.
  int64_t image_max_pixels = kDefaultImageMaxPixels;
};

absl::StatusOr<CocoOptions> FindCocoFiles(const std::string& dir);
absl::StatusOr<Dataset> LoadCoco(const CocoOptions& options, ProblemLog* log);

}  // namespace mrcnn::datasets

#endif  // DATASETS_COCO_H_
