// labelme's native JSON: one FILE.json per image, found recursively under a folder.
//
// Shapes with the same label and group_id form one instance (as labelme's own converters group them);
// polygon, rectangle (two corners) and circle (centre, point on the rim) become masks; other shape
// types (line, linestrip, point, ...) are reported and skipped; "__ignore__" shapes are skipped. The
// image is imagePath relative to the JSON file (Windows separators accepted), else an image with the
// JSON's stem beside it, else the embedded base64 imageData.
//
//   LabelmeOptions opt; opt.dir = "/data/labelme";
//   absl::StatusOr<Dataset> ds = LoadLabelme(opt, &log);
#ifndef DATASETS_LABELME_H_
#define DATASETS_LABELME_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "datasets/class_map.h"
#include "datasets/dataset.h"
#include "datasets/image_io.h"
#include "datasets/problems.h"

namespace mrcnn::datasets {

struct LabelmeOptions {
  std::string dir;
  ClassMap class_map;  // label -> class; empty: discover the labels (sorted)
  // Images over this many pixels (from their headers) are reported and skipped.
  int64_t image_max_pixels = kDefaultImageMaxPixels;
};

absl::StatusOr<Dataset> LoadLabelme(const LabelmeOptions& options, ProblemLog* log);

// Standard base64 (RFC 4648, padding optional, whitespace ignored).
absl::StatusOr<std::string> DecodeBase64(const std::string& text);

}  // namespace mrcnn::datasets

#endif  // DATASETS_LABELME_H_
