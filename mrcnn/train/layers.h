// Layer selection: which parameters a training stage updates, as matterport's train(layers=...) picks
// them, on our torchvision-named parameters.
//
// matterport's presets name Keras layers; here they map to modules as
//   res2 = backbone.body.layer1, res3 = layer2, res4 = layer3, res5 = layer4,
//   conv1 / bn_conv1 (stage 1) = backbone.body.conv1 / bn1,
//   heads (rpn_*, fpn_*, mrcnn_*) = rpn.*, backbone.fpn.*, roi_heads.*.
// so "heads" trains rpn + fpn + roi_heads, "5+" adds layer4, "4+" layer3..4, "3+" layer2..4 and "all"
// everything (stage 1 and layer1 are trained only by "all", as in matterport). Anything else is a
// regular expression that must match a whole parameter name (matterport's re.fullmatch).
//
//   absl::StatusOr<LayerSelection> s = SelectLayers(*model, "heads");   // sets requires_grad
//   model->train(); SetFrozenBatchNormEval(*model);  // frozen BatchNorm keeps its statistics
#ifndef MRCNN_TRAIN_LAYERS_H_
#define MRCNN_TRAIN_LAYERS_H_

#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "absl/status/statusor.h"

namespace mrcnn {

// The regular expression of a preset ("heads", "all", "3+", "4+", "5+"), or `layers` itself.
std::string LayerRegex(const std::string& layers);

struct LayerSelection {
  std::string regex;
  std::vector<std::string> trainable;  // parameter names, in module order
  std::vector<std::string> frozen;
};

// Which parameters `layers` selects, without changing the module. Errors: an invalid regular
// expression, or one that selects no parameter.
absl::StatusOr<LayerSelection> MatchLayers(const torch::nn::Module& module, const std::string& layers);

// MatchLayers, then requires_grad = true on the selected parameters and false on the others.
absl::StatusOr<LayerSelection> SelectLayers(torch::nn::Module& module, const std::string& layers);

// Puts every torch::nn::BatchNorm2d whose parameters are all frozen into eval mode, so a frozen stage's
// running statistics stay as loaded (call after module.train()). Returns how many were switched.
int SetFrozenBatchNormEval(torch::nn::Module& module);

}  // namespace mrcnn

#endif  // MRCNN_TRAIN_LAYERS_H_
