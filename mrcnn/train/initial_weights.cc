#include "mrcnn/train/initial_weights.h"

#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace mrcnn {

std::vector<std::string> MapExcludeNames(const std::vector<std::string>& names) {
  static const std::map<std::string, std::string> kMatterport = {
      {"mrcnn_class_logits", "roi_heads.box_predictor.cls_score"},
      {"mrcnn_bbox_fc", "roi_heads.box_predictor.bbox_pred"},
      {"mrcnn_bbox", "roi_heads.box_predictor.bbox_pred"},
      {"mrcnn_mask", "roi_heads.mask_predictor.mask_fcn_logits"},
  };
  std::vector<std::string> out;
  for (const std::string& n : names) {
    if (n.empty()) continue;
    auto it = kMatterport.find(n);
    out.push_back(it == kMatterport.end() ? n : it->second);
  }
  return out;
}

absl::StatusOr<LoadReport> LoadInitialWeights(torch::nn::Module& model, const std::string& init_with,
                                              const std::string& path, const std::vector<std::string>& exclude) {
  if (init_with != "imagenet" && init_with != "coco" && init_with != "file") {
    return absl::InvalidArgumentError(
        absl::StrCat("init_with '", init_with, "': expected imagenet, coco, last or none"));
  }
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "init_with=", init_with, " needs --weights=PATH: ", init_with,
        " weights cannot be downloaded here; convert a torchvision checkpoint with "
        "mrcnn/weights/convert_torchvision.py (see README, Weights)"));
  }
  absl::StatusOr<TensorMap> file = ReadTensorFile(path);
  if (!file.ok()) return file.status();
  TensorMap tensors;
  for (auto& [k, v] : *file) {
    if (absl::StartsWith(k, "optimizer.") || absl::StartsWith(k, "trainer.")) continue;
    // A plain torchvision ResNet names its tensors from the body's root.
    if (init_with == "imagenet" && !absl::StartsWith(k, "backbone.")) {
      tensors[absl::StrCat("backbone.body.", k)] = v;
    } else {
      tensors[k] = v;
    }
  }
  return LoadStateDict(model, tensors, MapExcludeNames(exclude));
}

}  // namespace mrcnn
