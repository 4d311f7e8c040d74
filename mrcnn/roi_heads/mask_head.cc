#include "mrcnn/roi_heads/mask_head.h"

#include <string>

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>

namespace mrcnn {

MaskRCNNHeadsImpl::MaskRCNNHeadsImpl(int64_t in_channels, const std::vector<int64_t>& layers) {
  TORCH_CHECK(!layers.empty(), "MaskRCNNHeads: needs at least one conv layer");
  int64_t in = in_channels;
  for (size_t i = 0; i < layers.size(); ++i) {
    TORCH_CHECK(in > 0 && layers[i] > 0, "MaskRCNNHeads: channels must be > 0");
    auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(in, layers[i], 3).padding(1));
    torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    torch::nn::init::zeros_(conv->bias);
    register_module(std::to_string(i), torch::nn::Sequential(conv, torch::nn::ReLU()));
    convs.push_back(conv);
    in = layers[i];
  }
}

torch::Tensor MaskRCNNHeadsImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = x;
  for (auto& conv : convs) y = conv->forward(y).relu_();
  return y;
}

MaskRCNNPredictorImpl::MaskRCNNPredictorImpl(int64_t in_channels, int64_t dim_reduced,
                                             int64_t num_classes) {
  TORCH_CHECK(in_channels > 0 && dim_reduced > 0 && num_classes > 0,
              "MaskRCNNPredictor: channels and NUM_CLASSES must be > 0");
  conv5_mask = register_module(
      "conv5_mask",
      torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(in_channels, dim_reduced, 2).stride(2)));
  mask_fcn_logits = register_module("mask_fcn_logits", torch::nn::Conv2d(dim_reduced, num_classes, 1));
  // torchvision re-initialises the weights only; biases keep PyTorch's default.
  torch::nn::init::kaiming_normal_(conv5_mask->weight, 0.0, torch::kFanOut, torch::kReLU);
  torch::nn::init::kaiming_normal_(mask_fcn_logits->weight, 0.0, torch::kFanOut, torch::kReLU);
}

torch::Tensor MaskRCNNPredictorImpl::forward(const torch::Tensor& x) {
  return mask_fcn_logits->forward(conv5_mask->forward(x).relu_());
}

}  // namespace mrcnn
