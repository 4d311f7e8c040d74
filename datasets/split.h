// Train/val split: seeded and reproducible, by ratio, written as two list files of image ids (one a
// line, like the tutorial's lists) and read back. Groups can be kept on one side: images of the same
// sub-folder, or near-duplicate frames (a 64-bit difference hash of the image within a Hamming
// distance).
//
//   SplitOptions opt; opt.val_fraction = 0.2; opt.seed = 7; opt.group_by = SplitGroupBy::kFolder;
//   absl::StatusOr<Split> s = MakeSplit(ds, opt);
//   WriteSplit(*s, ds, "train.txt", "val.txt");
//   absl::StatusOr<Dataset> train = ReadSplitList(ds, "train.txt");
#ifndef DATASETS_SPLIT_H_
#define DATASETS_SPLIT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "datasets/dataset.h"

namespace mrcnn::datasets {

enum class SplitGroupBy { kNone, kFolder, kNearDuplicate };

struct SplitOptions {
  double val_fraction = 0.2;
  uint64_t seed = 0;
  SplitGroupBy group_by = SplitGroupBy::kNone;
  int near_duplicate_bits = 6;  // Hamming distance of difference hashes that counts as a duplicate
};

struct Split {
  std::vector<int> train;  // image indices, ascending
  std::vector<int> val;
};

// Groups are shuffled with the seed and moved to val until val holds round(val_fraction * N) images
// or more, except that with two or more groups the last one always trains. Folder grouping with a
// single folder splits the images one by one. Fails when an image cannot be read for near-duplicate
// grouping.
absl::StatusOr<Split> MakeSplit(const Dataset& ds, const SplitOptions& options);
absl::StatusOr<SplitGroupBy> ParseSplitGroupBy(const std::string& name);  // none | folder | near_duplicate

// 64-bit difference hash of an RGB image (9x8 grey thumbnail, one bit per horizontal step).
uint64_t DifferenceHash(const cv::Mat& rgb);

absl::Status WriteSplit(const Split& split, const Dataset& ds, const std::string& train_file,
                        const std::string& val_file);
// The images listed in `list_file` (ids, one a line; # comments and blank lines ignored). An id the
// dataset does not have fails with the file, line and id.
absl::StatusOr<Dataset> ReadSplitList(const Dataset& ds, const std::string& list_file);

}  // namespace mrcnn::datasets

#endif  // DATASETS_SPLIT_H_
