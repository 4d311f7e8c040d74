// The detection backbone: a ResNet body and an FPN, images in, pyramid levels P2..P6 out.
//
// Registered as `body` and `fpn` so that, inside the model's `backbone`, names match torchvision's
// maskrcnn_resnet50_fpn (backbone.body.layer1.0.conv1.weight, backbone.fpn.inner_blocks.0.0.weight).
// Built from the Config keys BACKBONE, BACKBONE_BASE_WIDTH, TRAIN_BN, TOP_DOWN_PYRAMID_SIZE and
// BACKBONE_STRIDES (which must be the FPN's 4, 8, 16, 32, 64).
//
//   absl::StatusOr<BackboneOptions> o = BackboneOptionsFromConfig(config);
//   BackboneWithFPN backbone(*o);
//   std::vector<torch::Tensor> p = backbone->forward(images);  // images [N, 3, H, W], H, W % 32 == 0
#ifndef MRCNN_BACKBONE_BACKBONE_H_
#define MRCNN_BACKBONE_BACKBONE_H_

#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "absl/status/statusor.h"
#include "mrcnn/backbone/fpn.h"
#include "mrcnn/backbone/resnet.h"
#include "mrcnn/config/config.h"

namespace mrcnn {

struct BackboneOptions {
  ResNetOptions resnet;
  int64_t out_channels = 256;  // TOP_DOWN_PYRAMID_SIZE
};

// Errors name the config key: unknown BACKBONE, non-positive widths, strides other than P2..P6's.
absl::StatusOr<BackboneOptions> BackboneOptionsFromConfig(const Config& config);

// The strides of P2..P6.
const std::vector<int>& PyramidStrides();

struct BackboneWithFPNImpl : torch::nn::Module {
  explicit BackboneWithFPNImpl(const BackboneOptions& options);

  // images: [N, 3, H, W] -> P2..P6, P_k: [N, out_channels, ceil(H / 2^k), ceil(W / 2^k)]
  std::vector<torch::Tensor> forward(const torch::Tensor& images);

  int64_t out_channels;
  ResNet body{nullptr};
  FeaturePyramidNetwork fpn{nullptr};
};
TORCH_MODULE(BackboneWithFPN);

}  // namespace mrcnn

#endif  // MRCNN_BACKBONE_BACKBONE_H_
