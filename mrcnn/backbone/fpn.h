// Feature Pyramid Network: turns the ResNet stages C2..C5 into P2..P6 with one channel count.
//
// torchvision's FeaturePyramidNetwork with LastLevelMaxPool: a 1x1 lateral conv per stage
// (inner_blocks.<i>.0), a top-down pathway adding the nearest-upsampled coarser level, a 3x3 output
// conv per level (layer_blocks.<i>.0), and P6 = max_pool2d(P5, kernel 1, stride 2), which only the RPN
// uses. Names follow torchvision 0.14 (the converter maps the older inner_blocks.<i>.weight).
//
//   FeaturePyramidNetwork fpn({256, 512, 1024, 2048}, /*out_channels=*/256);
//   std::vector<torch::Tensor> p = fpn->forward(c);  // P2..P6
#ifndef MRCNN_BACKBONE_FPN_H_
#define MRCNN_BACKBONE_FPN_H_

#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace mrcnn {

struct FeaturePyramidNetworkImpl : torch::nn::Module {
  FeaturePyramidNetworkImpl(const std::vector<int64_t>& in_channels, int64_t out_channels);

  // features: C2..C5 with in_channels[i] channels, each level half the size of the previous (rounded
  // up). Returns P2..P6: [N, out_channels, H_i, W_i] for the four inputs' sizes, then P6 at half P5's.
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& features);

  int64_t out_channels;
  torch::nn::ModuleList inner_blocks, layer_blocks;
  std::vector<torch::nn::Conv2d> lateral, output;  // the same convs, typed
};
TORCH_MODULE(FeaturePyramidNetwork);

}  // namespace mrcnn

#endif  // MRCNN_BACKBONE_FPN_H_
