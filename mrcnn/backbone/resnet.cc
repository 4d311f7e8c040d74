#include "mrcnn/backbone/resnet.h"

#include <algorithm>

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/init.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "mrcnn/backbone/batch_norm.h"

namespace mrcnn {
namespace {

namespace F = torch::nn::functional;

torch::nn::Conv2d Conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  auto conv = torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
  // torchvision's ResNet init.
  torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
  return conv;
}

}  // namespace

absl::StatusOr<ResNetLayout> LayoutOf(const std::string& depth) {
  if (depth == "resnet18") return ResNetLayout{false, {2, 2, 2, 2}};
  if (depth == "resnet34") return ResNetLayout{false, {3, 4, 6, 3}};
  if (depth == "resnet50") return ResNetLayout{true, {3, 4, 6, 3}};
  if (depth == "resnet101") return ResNetLayout{true, {3, 4, 23, 3}};
  return absl::InvalidArgumentError(absl::StrCat(
      "BACKBONE: unknown ResNet '", depth, "' (choose resnet18, resnet34, resnet50 or resnet101)"));
}

ResidualBlockImpl::ResidualBlockImpl(bool bottleneck, int64_t in_channels, int64_t width,
                                     int64_t stride, bool trainable_bn) {
  if (bottleneck) {
    out_channels = width * 4;
    convs = {Conv(in_channels, width, 1, 1), Conv(width, width, 3, stride),
             Conv(width, out_channels, 1, 1)};
  } else {
    out_channels = width;
    convs = {Conv(in_channels, width, 3, stride), Conv(width, width, 3, 1)};
  }
  for (size_t i = 0; i < convs.size(); ++i) {
    register_module(absl::StrCat("conv", i + 1), convs[i]);
    norms.push_back(MakeBatchNorm(convs[i]->options.out_channels(), trainable_bn));
    register_module(absl::StrCat("bn", i + 1), norms.back().ptr());
    folds.push_back(std::make_shared<ConvNormFolding>());
  }
  if (stride != 1 || in_channels != out_channels) {
    downsample = torch::nn::Sequential();
    downsample->push_back(Conv(in_channels, out_channels, 1, stride));
    downsample->push_back(MakeBatchNorm(out_channels, trainable_bn));
    register_module("downsample", downsample);
    folds.push_back(std::make_shared<ConvNormFolding>());
  }
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = x;
  for (size_t i = 0; i < convs.size(); ++i) {
    y = folds[i]->Forward(*convs[i], norms[i], y);
    if (i + 1 < convs.size()) y.relu_();
  }
  torch::Tensor identity = x;
  if (downsample) {
    auto conv_and_norm = downsample->begin();
    identity = folds.back()->Forward(conv_and_norm[0].get<torch::nn::Conv2dImpl>(), conv_and_norm[1], x);
  }
  return (y + identity).relu_();
}

ResNetImpl::ResNetImpl(const ResNetOptions& options) {
  const absl::StatusOr<ResNetLayout> layout = LayoutOf(options.depth);
  TORCH_CHECK(layout.ok(), std::string(layout.status().message()));
  TORCH_CHECK(options.base_width > 0, "BACKBONE_BASE_WIDTH must be > 0, got ", options.base_width);
  const int64_t w = options.base_width;
  conv1 = register_module("conv1", Conv(3, w, 7, 2));
  bn1 = MakeBatchNorm(w, options.trainable_bn);
  register_module("bn1", bn1.ptr());
  int64_t in = w;
  for (int s = 0; s < 4; ++s) {
    torch::nn::Sequential stage;
    const int64_t width = w << s;
    for (int b = 0; b < layout->blocks[s]; ++b) {
      const int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      ResidualBlock block(layout->bottleneck, in, width, stride, options.trainable_bn);
      in = block->out_channels;
      stage->push_back(block);
    }
    stages.push_back(register_module(absl::StrCat("layer", s + 1), stage));
    stage_channels.push_back(in);
  }
}

std::vector<torch::Tensor> ResNetImpl::forward(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3, "ResNet: expected images [N, 3, H, W], got ",
              images.sizes());
  torch::Tensor x = fold1->Forward(*conv1, bn1, images).relu_();
  x = F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2).padding(1));
  std::vector<torch::Tensor> out;
  for (auto& stage : stages) {
    x = stage->forward(x);
    out.push_back(x);
  }
  return out;
}

void SetTrainableLayers(ResNetImpl& body, int trainable_layers) {
  TORCH_CHECK(trainable_layers >= 0 && trainable_layers <= 5,
              "trainable backbone layers must be in 0..5, got ", trainable_layers);
  const std::vector<std::string> order = {"layer4", "layer3", "layer2", "layer1", "conv1"};
  std::vector<std::string> train(order.begin(), order.begin() + trainable_layers);
  if (trainable_layers == 5) train.push_back("bn1");
  for (auto& item : body.named_parameters(/*recurse=*/true)) {
    const bool keep = std::any_of(train.begin(), train.end(), [&](const std::string& prefix) {
      return absl::StartsWith(item.key(), prefix);
    });
    item.value().set_requires_grad(keep);
  }
}

}  // namespace mrcnn
