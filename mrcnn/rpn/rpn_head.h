// RPN head: per pyramid level, an objectness logit and 4 box deltas for each anchor of each position.
//
// torchvision's RPNHead, shared across levels: a 3x3 conv + ReLU (`conv.0.0`, torchvision 0.14's
// spelling; the converter maps the older `conv`), then 1x1 convs `cls_logits` (A channels) and
// `bbox_pred` (4A channels), where A = anchors per position (len(RPN_ANCHOR_RATIOS) here, one scale
// per level). Inside the model it is registered as `rpn.head`.
//
//   RPNHead head(/*in_channels=*/256, /*num_anchors=*/3);
//   RPNHeadOutput out = head->forward(p);  // p: P2..P6
#ifndef MRCNN_RPN_RPN_HEAD_H_
#define MRCNN_RPN_RPN_HEAD_H_

#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace mrcnn {

struct RPNHeadOutput {
  std::vector<torch::Tensor> objectness;  // per level [N, A, H, W] logits
  std::vector<torch::Tensor> deltas;      // per level [N, 4A, H, W]: (dx, dy, dw, dh) per anchor
};

struct RPNHeadImpl : torch::nn::Module {
  RPNHeadImpl(int64_t in_channels, int64_t num_anchors);

  // features: per level [N, in_channels, H_l, W_l].
  RPNHeadOutput forward(const std::vector<torch::Tensor>& features);

  torch::nn::ModuleList conv;           // [Sequential(Conv2d 3x3, ReLU)]
  torch::nn::Conv2d conv3x3{nullptr};   // the conv inside `conv`
  torch::nn::Conv2d cls_logits{nullptr}, bbox_pred{nullptr};
};
TORCH_MODULE(RPNHead);

}  // namespace mrcnn

#endif  // MRCNN_RPN_RPN_HEAD_H_
