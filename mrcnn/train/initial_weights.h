// Initial weights of a training run: matterport's init_with (imagenet | coco | last | none) plus an
// explicit weight file, loaded by name with an exclude list.
//
// Exclude entries may use matterport's layer names, mapped to ours:
//   mrcnn_class_logits -> roi_heads.box_predictor.cls_score
//   mrcnn_bbox_fc, mrcnn_bbox -> roi_heads.box_predictor.bbox_pred
//   mrcnn_mask -> roi_heads.mask_predictor.mask_fcn_logits
// and any of our own names or name prefixes ("roi_heads.box_predictor").
//
//   std::vector<std::string> ex = MapExcludeNames({"mrcnn_class_logits", "mrcnn_mask"});
//   absl::StatusOr<LoadReport> r = LoadInitialWeights(*model, "coco", "coco.pt", ex);
//   std::cout << r->Summary();
// "imagenet" reads a converted torchvision ResNet (conv1.weight, layer1.0.conv1.weight, ...) into
// backbone.body; "coco" a converted maskrcnn_resnet50_fpn or any of our checkpoints. Neither can be
// downloaded here, so both need the file. "last" is resuming (Trainer::Resume of FindLast()).
#ifndef MRCNN_TRAIN_INITIAL_WEIGHTS_H_
#define MRCNN_TRAIN_INITIAL_WEIGHTS_H_

#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "absl/status/statusor.h"
#include "mrcnn/weights/weights.h"

namespace mrcnn {

// matterport names replaced by ours; other entries kept.
std::vector<std::string> MapExcludeNames(const std::vector<std::string>& names);

// init_with "imagenet" or "coco" (or "file": the same as coco) from `path`. Training checkpoints'
// optimizer and trainer entries are ignored. Errors: unknown init_with, empty path, unreadable file.
absl::StatusOr<LoadReport> LoadInitialWeights(torch::nn::Module& model, const std::string& init_with,
                                              const std::string& path, const std::vector<std::string>& exclude);

}  // namespace mrcnn

#endif  // MRCNN_TRAIN_INITIAL_WEIGHTS_H_
