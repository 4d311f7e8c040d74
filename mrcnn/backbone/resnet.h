// ResNet body of the detection backbone: the stem and the four stages C2..C5, as torchvision builds it.
//
// torchvision's ResNet (v1.5: a Bottleneck strides on its 3x3 conv, not the first 1x1), without the
// classifier, with BACKBONE_BASE_WIDTH channels in the first stage (64 in every standard ResNet; less
// gives the narrow variants for CPU experiments). Module names equal torchvision's, so the tensors of
// `backbone.body.*` in a maskrcnn_resnet50_fpn checkpoint load by name: conv1, bn1, layer1.0.conv1,
// layer1.0.downsample.0, ...
//
//   ResNet body(ResNetOptions{"resnet50", /*base_width=*/64, /*trainable_bn=*/false});
//   std::vector<torch::Tensor> c = body->forward(images);  // C2..C5, strides 4, 8, 16, 32
//   SetTrainableLayers(*body, 3);                          // torchvision's trainable_backbone_layers
#ifndef MRCNN_BACKBONE_RESNET_H_
#define MRCNN_BACKBONE_RESNET_H_

#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "absl/status/statusor.h"
#include "mrcnn/backbone/folded_conv.h"

namespace mrcnn {

struct ResNetOptions {
  std::string depth = "resnet50";  // resnet18 | resnet34 | resnet50 | resnet101
  int64_t base_width = 64;         // channels of the stem and of layer1's 3x3 convs
  bool trainable_bn = false;       // BatchNorm2d instead of FrozenBatchNorm2d
};

// Blocks per stage and block kind of a depth name.
struct ResNetLayout {
  bool bottleneck;          // Bottleneck (1x1, 3x3, 1x1 x4) or BasicBlock (3x3, 3x3)
  std::vector<int> blocks;  // per stage, layer1..layer4
};
absl::StatusOr<ResNetLayout> LayoutOf(const std::string& depth);

// One residual block. BasicBlock: conv1 3x3 (stride), conv2 3x3. Bottleneck: conv1 1x1, conv2 3x3
// (stride), conv3 1x1 to 4x the width. A 1x1 conv + norm `downsample` projects the shortcut when the
// shape changes.
struct ResidualBlockImpl : torch::nn::Module {
  ResidualBlockImpl(bool bottleneck, int64_t in_channels, int64_t width, int64_t stride,
                    bool trainable_bn);
  // x: [N, in_channels, H, W] -> [N, out_channels, ceil(H / stride), ceil(W / stride)]
  torch::Tensor forward(const torch::Tensor& x);

  int64_t out_channels;
  std::vector<torch::nn::Conv2d> convs;
  std::vector<torch::nn::AnyModule> norms;
  torch::nn::Sequential downsample{nullptr};  // null when the shortcut is the identity
  // bf16 inference: each norm folded into its convolution (folded_conv.h); per convs[i], then the
  // downsample's. Caches, not modules: nothing is registered or saved.
  std::vector<std::shared_ptr<ConvNormFolding>> folds;
};
TORCH_MODULE(ResidualBlock);

struct ResNetImpl : torch::nn::Module {
  // Aborts (c10::Error) on an unknown depth or non-positive width; use LayoutOf to check first.
  explicit ResNetImpl(const ResNetOptions& options);

  // images: [N, 3, H, W] -> {C2, C3, C4, C5}, C_k: [N, channels()[k-2], H / 2^k, W / 2^k] (rounded up)
  std::vector<torch::Tensor> forward(const torch::Tensor& images);

  // Channels of C2..C5: base_width x {1, 2, 4, 8}, times 4 for bottleneck ResNets.
  std::vector<int64_t> channels() const { return stage_channels; }

  torch::nn::Conv2d conv1{nullptr};
  torch::nn::AnyModule bn1;
  std::shared_ptr<ConvNormFolding> fold1 = std::make_shared<ConvNormFolding>();  // bn1 into conv1
  std::vector<torch::nn::Sequential> stages;  // layer1..layer4
  std::vector<int64_t> stage_channels;
};
TORCH_MODULE(ResNet);

// torchvision's trainable_backbone_layers: the parameters of the last `trainable_layers` of
// (conv1, layer1, layer2, layer3, layer4) get requires_grad = true, all others false; 5 also trains
// the stem's bn1 (which has no parameters when frozen). 0 freezes the whole body. On a fresh module
// this is exactly torchvision's freezing. Throws c10::Error outside 0..5.
void SetTrainableLayers(ResNetImpl& body, int trainable_layers);

}  // namespace mrcnn

#endif  // MRCNN_BACKBONE_RESNET_H_
