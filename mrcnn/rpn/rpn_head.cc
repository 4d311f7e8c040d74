#include "mrcnn/rpn/rpn_head.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>

namespace mrcnn {
namespace {

torch::nn::Conv2d Conv(int64_t in, int64_t out, int64_t kernel) {
  auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
  torch::nn::init::normal_(conv->weight, 0.0, 0.01);  // torchvision's RPNHead init
  torch::nn::init::zeros_(conv->bias);
  return conv;
}

}  // namespace

RPNHeadImpl::RPNHeadImpl(int64_t in_channels, int64_t num_anchors) {
  TORCH_CHECK(in_channels > 0 && num_anchors > 0, "RPNHead: in_channels (", in_channels,
              ") and num_anchors (", num_anchors, ") must be > 0");
  conv3x3 = Conv(in_channels, in_channels, 3);
  // A list holding Sequential(conv, ReLU) gives torchvision 0.14's names (conv.0.0.weight).
  conv->push_back(torch::nn::Sequential(conv3x3, torch::nn::ReLU()));
  register_module("conv", conv);
  cls_logits = register_module("cls_logits", Conv(in_channels, num_anchors, 1));
  bbox_pred = register_module("bbox_pred", Conv(in_channels, 4 * num_anchors, 1));
}

RPNHeadOutput RPNHeadImpl::forward(const std::vector<torch::Tensor>& features) {
  RPNHeadOutput out;
  for (const torch::Tensor& f : features) {
    const torch::Tensor t = conv3x3->forward(f).relu_();
    out.objectness.push_back(cls_logits->forward(t));
    out.deltas.push_back(bbox_pred->forward(t));
  }
  return out;
}

}  // namespace mrcnn
