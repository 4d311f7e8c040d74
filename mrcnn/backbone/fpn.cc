#include "mrcnn/backbone/fpn.h"

#include <torch/nn/functional/pooling.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/container/sequential.h>

namespace mrcnn {
namespace {

namespace F = torch::nn::functional;

torch::nn::Conv2d Conv(int64_t in, int64_t out, int64_t kernel) {
  auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
  torch::nn::init::kaiming_uniform_(conv->weight, /*a=*/1);  // torchvision's FPN init
  torch::nn::init::zeros_(conv->bias);
  return conv;
}

}  // namespace

FeaturePyramidNetworkImpl::FeaturePyramidNetworkImpl(const std::vector<int64_t>& in_channels,
                                                     int64_t out_channels)
    : out_channels(out_channels) {
  TORCH_CHECK(!in_channels.empty(), "FPN: needs at least one input level");
  TORCH_CHECK(out_channels > 0, "FPN: TOP_DOWN_PYRAMID_SIZE must be > 0, got ", out_channels);
  for (int64_t in : in_channels) {
    TORCH_CHECK(in > 0, "FPN: input channels must be > 0, got ", in);
    lateral.push_back(Conv(in, out_channels, 1));
    output.push_back(Conv(out_channels, out_channels, 3));
    // Wrapped in a Sequential to get torchvision 0.14's names (inner_blocks.<i>.0.weight).
    inner_blocks->push_back(torch::nn::Sequential(lateral.back()));
    layer_blocks->push_back(torch::nn::Sequential(output.back()));
  }
  register_module("inner_blocks", inner_blocks);
  register_module("layer_blocks", layer_blocks);
}

std::vector<torch::Tensor> FeaturePyramidNetworkImpl::forward(
    const std::vector<torch::Tensor>& features) {
  const size_t n = lateral.size();
  TORCH_CHECK(features.size() == n, "FPN: expected ", n, " feature maps, got ", features.size());
  std::vector<torch::Tensor> results(n);
  torch::Tensor top_down = lateral[n - 1]->forward(features[n - 1]);
  results[n - 1] = output[n - 1]->forward(top_down);
  for (size_t k = n - 1; k-- > 0;) {
    const torch::Tensor inner = lateral[k]->forward(features[k]);
    const std::vector<int64_t> size = {inner.size(2), inner.size(3)};
    top_down = inner + F::interpolate(top_down, F::InterpolateFuncOptions().size(size).mode(
                                                    torch::kNearest));
    results[k] = output[k]->forward(top_down);
  }
  results.push_back(F::max_pool2d(results[n - 1], F::MaxPool2dFuncOptions(1).stride(2)));
  return results;
}

}  // namespace mrcnn
