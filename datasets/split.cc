#include "datasets/split.h"

#include <algorithm>
#include <bitset>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "datasets/image_io.h"
#include "datasets/random.h"
#include "opencv2/imgproc.hpp"

namespace mrcnn::datasets {

absl::StatusOr<SplitGroupBy> ParseSplitGroupBy(const std::string& name) {
  if (name == "none") return SplitGroupBy::kNone;
  if (name == "folder") return SplitGroupBy::kFolder;
  if (name == "near_duplicate") return SplitGroupBy::kNearDuplicate;
  return absl::InvalidArgumentError(absl::StrCat("split grouping '", name, "': expected none, folder or near_duplicate"));
}

uint64_t DifferenceHash(const cv::Mat& rgb) {
  cv::Mat grey, small;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  cv::resize(grey, small, cv::Size(9, 8), 0, 0, cv::INTER_AREA);
  uint64_t h = 0;
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) h = (h << 1) | (small.at<uint8_t>(y, x) < small.at<uint8_t>(y, x + 1));
  }
  return h;
}

namespace {

int Find(std::vector<int>* parent, int i) {
  while ((*parent)[i] != i) i = (*parent)[i] = (*parent)[(*parent)[i]];
  return i;
}

}  // namespace

absl::StatusOr<Split> MakeSplit(const Dataset& ds, const SplitOptions& options) {
  if (!(options.val_fraction >= 0 && options.val_fraction <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("val_fraction must be in [0, 1], got ", options.val_fraction));
  }
  const int n = ds.num_images();
  std::vector<int> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  if (options.group_by == SplitGroupBy::kFolder) {
    std::map<std::string, int> first;
    for (int i = 0; i < n; ++i) {
      auto [it, inserted] = first.emplace(ds.image_info(i).group, i);
      if (!inserted) parent[Find(&parent, i)] = Find(&parent, it->second);
    }
    // One folder for everything (a flat JPEGImages/) is no grouping at all: split the images.
    if (first.size() == 1) std::iota(parent.begin(), parent.end(), 0);
  } else if (options.group_by == SplitGroupBy::kNearDuplicate) {
    std::vector<uint64_t> hashes(n);
    for (int i = 0; i < n; ++i) {
      absl::StatusOr<cv::Mat> rgb = ds.LoadImage(i);
      if (!rgb.ok()) return rgb.status();
      try {
        hashes[i] = DifferenceHash(*rgb);
      } catch (const cv::Exception& e) {
        const ImageInfo& info = ds.image_info(i);
        return absl::InternalError(absl::StrCat(info.path.empty() ? info.id : info.path,
                                                ": cannot hash the image (OpenCV: ", e.err, ")"));
      }
    }
    for (int i = 0; i < n; ++i) {
      for (int k = i + 1; k < n; ++k) {
        if (static_cast<int>(std::bitset<64>(hashes[i] ^ hashes[k]).count()) <= options.near_duplicate_bits) {
          parent[Find(&parent, k)] = Find(&parent, i);
        }
      }
    }
  }
  // Groups in order of their first image, then shuffled with the seed.
  std::map<int, std::vector<int>> groups;
  for (int i = 0; i < n; ++i) groups[Find(&parent, i)].push_back(i);
  std::vector<std::vector<int>> list;
  for (auto& [root, members] : groups) list.push_back(std::move(members));
  Rng rng(DeriveSeed(options.seed, "split"));
  rng.Shuffle(&list);
  const int want_val = static_cast<int>(std::lround(options.val_fraction * n));
  Split split;
  for (size_t k = 0; k < list.size(); ++k) {
    const std::vector<int>& g = list[k];
    // The last group trains when nothing else does: a split never leaves training empty.
    const bool last_for_train = k + 1 == list.size() && split.train.empty() && k > 0;
    auto& side = static_cast<int>(split.val.size()) < want_val && !last_for_train ? split.val : split.train;
    side.insert(side.end(), g.begin(), g.end());
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.val.begin(), split.val.end());
  return split;
}

absl::Status WriteSplit(const Split& split, const Dataset& ds, const std::string& train_file,
                        const std::string& val_file) {
  for (const auto& [path, indices] : {std::make_pair(train_file, &split.train), std::make_pair(val_file, &split.val)}) {
    std::ofstream out(path);
    for (int i : *indices) out << ds.image_info(i).id << "\n";
    out.close();
    if (!out) return absl::InternalError(absl::StrCat(path, ": cannot write the split list"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Dataset> ReadSplitList(const Dataset& ds, const std::string& list_file) {
  absl::StatusOr<std::string> text = ReadFileBytes(list_file);
  if (!text.ok()) return text.status();
  std::map<std::string, int> by_id;
  for (int i = 0; i < ds.num_images(); ++i) by_id[ds.image_info(i).id] = i;
  std::vector<int> indices;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    auto it = by_id.find(std::string(line));
    if (it == by_id.end()) {
      return absl::NotFoundError(absl::StrCat(list_file, ":", line_no, ": image '", line, "' is not in the dataset"));
    }
    indices.push_back(it->second);
  }
  return ds.Subset(indices);
}

}  // namespace mrcnn::datasets
