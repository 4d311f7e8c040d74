#include "mrcnn/backbone/backbone.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mrcnn {

const std::vector<int>& PyramidStrides() {
  static const std::vector<int>* strides = new std::vector<int>{4, 8, 16, 32, 64};
  return *strides;
}

absl::StatusOr<BackboneOptions> BackboneOptionsFromConfig(const Config& config) {
  const absl::StatusOr<ResNetLayout> layout = LayoutOf(EnumName(config.BACKBONE));
  if (!layout.ok()) return layout.status();
  if (config.BACKBONE_BASE_WIDTH <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("BACKBONE_BASE_WIDTH: must be > 0, got ", config.BACKBONE_BASE_WIDTH));
  }
  if (config.TOP_DOWN_PYRAMID_SIZE <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("TOP_DOWN_PYRAMID_SIZE: must be > 0, got ", config.TOP_DOWN_PYRAMID_SIZE));
  }
  if (config.BACKBONE_STRIDES != PyramidStrides()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "BACKBONE_STRIDES: the ResNet-FPN backbone produces P2..P6 with strides [",
        absl::StrJoin(PyramidStrides(), ","), "], got [", absl::StrJoin(config.BACKBONE_STRIDES, ","),
        "]"));
  }
  BackboneOptions o;
  o.resnet.depth = EnumName(config.BACKBONE);
  o.resnet.base_width = config.BACKBONE_BASE_WIDTH;
  o.resnet.trainable_bn = config.TRAIN_BN;
  o.out_channels = config.TOP_DOWN_PYRAMID_SIZE;
  return o;
}

BackboneWithFPNImpl::BackboneWithFPNImpl(const BackboneOptions& options)
    : out_channels(options.out_channels) {
  body = register_module("body", ResNet(options.resnet));
  fpn = register_module("fpn", FeaturePyramidNetwork(body->channels(), options.out_channels));
}

std::vector<torch::Tensor> BackboneWithFPNImpl::forward(const torch::Tensor& images) {
  return fpn->forward(body->forward(images));
}

}  // namespace mrcnn
