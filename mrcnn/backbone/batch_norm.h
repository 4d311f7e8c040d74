// Batch normalisation for the backbone: frozen (inference statistics, no trainable state) or trained.
//
// FrozenBatchNorm2d is torchvision's FrozenBatchNorm2d: y = (x - running_mean) / sqrt(running_var + eps)
// * weight + bias with all four as buffers, so optimisers never see them and train() does not change
// the output. It is what pretrained detection backbones use (matterport's TRAIN_BN = False): batches
// of 1-2 images give useless batch statistics. MakeBatchNorm picks it or torch::nn::BatchNorm2d; both
// have the tensor names weight, bias, running_mean, running_var of a torchvision checkpoint.
//
//   torch::nn::AnyModule bn = MakeBatchNorm(64, /*trainable=*/false);
//   register_module("bn1", bn.ptr());
//   torch::Tensor y = bn.forward(x);  // x: [N, 64, H, W]
#ifndef MRCNN_BACKBONE_BATCH_NORM_H_
#define MRCNN_BACKBONE_BATCH_NORM_H_

#include <utility>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace mrcnn {

struct FrozenBatchNorm2dImpl : torch::nn::Module {
  // eps 1e-5 as torchvision.ops.misc.FrozenBatchNorm2d; statistics start as the identity transform.
  explicit FrozenBatchNorm2dImpl(int64_t channels, double eps = 1e-5);

  // x: [N, C, H, W] -> [N, C, H, W]
  torch::Tensor forward(const torch::Tensor& x);

  // The per-channel affine map the norm applies, y = x * scale + shift: [C] each, in the buffers' dtype.
  std::pair<torch::Tensor, torch::Tensor> ScaleAndShift() const;

  torch::Tensor weight, bias, running_mean, running_var;  // [C] each
  double eps;
};
TORCH_MODULE(FrozenBatchNorm2d);

// FrozenBatchNorm2d when !trainable, else torch::nn::BatchNorm2d (eps 1e-5, momentum 0.1).
torch::nn::AnyModule MakeBatchNorm(int64_t channels, bool trainable);

}  // namespace mrcnn

#endif  // MRCNN_BACKBONE_BATCH_NORM_H_
