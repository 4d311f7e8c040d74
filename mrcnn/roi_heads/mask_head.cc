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
  TORCH_CHECK(x.dim() == 4 && x.size(1) == conv5_mask->weight.size(0), "MaskRCNNPredictor: expected [R, ",
              conv5_mask->weight.size(0), ", S, S], got ", x.sizes());
  // A 2x2 stride-2 transposed conv writes each input pixel to its own 2x2 output block, so it is one
  // matrix product: [R*S*S, in] x [in, out*2*2]. The 1x1 logits conv is a second product on the same
  // pixel-major rows. Same sums as the conv modules, without LibTorch's slow CPU transposed conv.
  const int64_t r = x.size(0), h = x.size(2), w = x.size(3);
  const int64_t in = x.size(1), mid = conv5_mask->weight.size(1), classes = mask_fcn_logits->weight.size(0);
  const torch::Tensor rows = x.permute({0, 2, 3, 1}).reshape({r * h * w, in});
  // [R*S*S, mid, 4] (column mid*4 + 2i + j) -> pixel-major [R*S*S*4, mid] after the bias and ReLU.
  torch::Tensor up = torch::mm(rows, conv5_mask->weight.reshape({in, mid * 4})).view({r * h * w, mid, 4});
  up = (up + conv5_mask->bias.view({1, mid, 1})).relu_().transpose(1, 2).reshape({r * h * w * 4, mid});
  const torch::Tensor logits =
      torch::addmm(mask_fcn_logits->bias, up, mask_fcn_logits->weight.view({classes, mid}).t());
  // [R, S, S, 2, 2, C] -> [R, C, 2S, 2S]
  return logits.view({r, h, w, 2, 2, classes}).permute({0, 5, 1, 3, 2, 4}).reshape({r, classes, 2 * h, 2 * w});
}

}  // namespace mrcnn
