#include "mrcnn/backbone/batch_norm.h"

#include <torch/nn/modules/batchnorm.h>

namespace mrcnn {

FrozenBatchNorm2dImpl::FrozenBatchNorm2dImpl(int64_t channels, double eps) : eps(eps) {
  TORCH_CHECK(channels > 0, "FrozenBatchNorm2d: channels must be > 0, got ", channels);
  weight = register_buffer("weight", torch::ones({channels}));
  bias = register_buffer("bias", torch::zeros({channels}));
  running_mean = register_buffer("running_mean", torch::zeros({channels}));
  running_var = register_buffer("running_var", torch::ones({channels}));
}

torch::Tensor FrozenBatchNorm2dImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == weight.size(0), "FrozenBatchNorm2d: expected [N, ",
              weight.size(0), ", H, W], got ", x.sizes());
  const auto [scale, shift] = ScaleAndShift();
  // In x's dtype: under bf16 autocast an fp32 scale would promote the activations to fp32 and every
  // following convolution would cast them back (a no-op for fp32).
  return x * scale.to(x.scalar_type()).reshape({1, -1, 1, 1}) +
         shift.to(x.scalar_type()).reshape({1, -1, 1, 1});
}

std::pair<torch::Tensor, torch::Tensor> FrozenBatchNorm2dImpl::ScaleAndShift() const {
  // Same arithmetic order as torchvision, so results agree to the last bits.
  torch::Tensor scale = weight * (running_var + eps).rsqrt();
  torch::Tensor shift = bias - running_mean * scale;
  return {scale, shift};
}

torch::nn::AnyModule MakeBatchNorm(int64_t channels, bool trainable) {
  if (trainable) {
    return torch::nn::AnyModule(
        torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).eps(1e-5).momentum(0.1)));
  }
  return torch::nn::AnyModule(FrozenBatchNorm2d(channels));
}

}  // namespace mrcnn
