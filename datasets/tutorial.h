// The tutorial's layout: ROOT/JPEGImages/**/NAME.jpg with labels in ROOT/Segmentations/**/NAME.txt (or
// .json), each a JSON list of instances such as
//   [{"category":"59","type":"polygon","points":[[891,693],[946,690],[944,623],[888,624]]}, ...]
// Sub-folders (the tutorial's 0927/0927_1/...) are matched by relative path; when the label tree is
// flat, by the bare name if that is unique. Categories map to classes through a ClassMap, or are
// discovered from the data when the map is empty.
//
//   ProblemLog log;
//   TutorialOptions opt; opt.root = "/data/signs"; opt.class_map = TutorialClassMap();
//   absl::StatusOr<Dataset> ds = LoadTutorial(opt, &log);
#ifndef DATASETS_TUTORIAL_H_
#define DATASETS_TUTORIAL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "datasets/class_map.h"
#include "datasets/dataset.h"
#include "datasets/image_io.h"
#include "datasets/problems.h"

namespace mrcnn::datasets {

struct TutorialOptions {
  std::string root;
  std::string images_dir = "JPEGImages";
  std::string labels_dir = "Segmentations";
  ClassMap class_map;  // empty: discover the categories in the data
  // Images over this many pixels (from their headers) are reported and skipped.
  int64_t image_max_pixels = kDefaultImageMaxPixels;
};

// One instance of a tutorial label file as written.
struct TutorialInstance {
  std::string category;
  std::string type;
  Polygon points;
  int index = -1;  // position in the file's list
};

// Parses one label file's text. Instances that cannot be read are reported to `log` under `file` and
// left out; malformed JSON fails (the whole file is unusable).
absl::StatusOr<std::vector<TutorialInstance>> ParseTutorialLabel(const std::string& text,
                                                                 const std::string& file,
                                                                 ProblemLog* log);

absl::StatusOr<Dataset> LoadTutorial(const TutorialOptions& options, ProblemLog* log);

}  // namespace mrcnn::datasets

#endif  // DATASETS_TUTORIAL_H_
