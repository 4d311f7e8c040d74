// The training and validation datasets of a command line: one of the loaders by --format, split into
// train and val (seeded, grouped by sub-folder), or a separate validation folder; or the synthetic
// shapes (format "shapes"), whose validation images are an independent stream.
//
//   DataOptions o; o.format = "tutorial"; o.dir = "/data/signs"; o.class_map = "40=sign,...";
//   absl::StatusOr<TrainValData> d = LoadTrainVal(o);
//   d->train, d->val, d->problems (report of skipped items), d->content_hash
#ifndef MRCNN_TRAIN_DATA_H_
#define MRCNN_TRAIN_DATA_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "datasets/dataset.h"
#include "datasets/image_io.h"
#include "mrcnn/config/config.h"

namespace mrcnn {

struct DataOptions {
  std::string format = "shapes";  // shapes | tutorial | coco | labelme
  std::string dir;                // dataset folder (not for shapes)
  std::string val_dir;            // optional: validation in its own folder (same format)
  std::string class_map;          // tutorial / labelme: "40=sign,51=sign_back" or a file; empty: discover
  double val_fraction = 0.2;      // when there is no val_dir
  std::string split_group_by = "none";  // none | folder | near_duplicate (datasets/split.h)
  uint64_t split_seed = 0;
  int shapes_train = 500;         // shapes: image counts and size
  int shapes_val = 100;
  int shapes_size = 128;
  uint64_t shapes_seed = 1;
  // Images over this many pixels (from their headers) are reported and skipped: IMAGE_MAX_PIXELS.
  int64_t image_max_pixels = datasets::kDefaultImageMaxPixels;
};

struct TrainValData {
  datasets::Dataset train;
  datasets::Dataset val;
  std::string name;          // "shapes" or the folder
  std::string content_hash;  // 16 hex digits over the image ids, sizes and annotation counts
  std::string problems;      // the loaders' report ("" when clean)
  // A split far from the asked fraction (grouping keeps whole folders or near-duplicates on one
  // side), said in words; "" otherwise.
  std::string split_note;
};

absl::StatusOr<TrainValData> LoadTrainVal(const DataOptions& options);

// The checks of a dataset against a config: its class count must equal NUM_CLASSES.
// The options' own errors, found without reading any data: the format, the folders, the split.
absl::Status CheckDataOptions(const DataOptions& o);

// The note TrainValData::split_note holds for `val` of `total` images held out; "" when close enough.
std::string SplitNote(const DataOptions& o, size_t val, size_t total);

absl::Status CheckClasses(const datasets::Dataset& ds, const Config& config, const std::string& what);

}  // namespace mrcnn

#endif  // MRCNN_TRAIN_DATA_H_
