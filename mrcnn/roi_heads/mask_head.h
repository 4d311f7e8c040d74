// Mask head and mask predictor: from pooled ROI features to per-class mask logits.
//
// torchvision's MaskRCNNHeads (4 conv 3x3 + ReLU of MASK_HEAD_CHANNELS, named `0.0` .. `3.0` in
// torchvision 0.14's spelling; the converter maps the older `mask_fcn1` .. `mask_fcn4`) and
// MaskRCNNPredictor (`conv5_mask`: 2x2 stride-2 transposed conv + ReLU, `mask_fcn_logits`: 1x1 conv
// to NUM_CLASSES). Inside the model they are `roi_heads.mask_head` and `roi_heads.mask_predictor`.
//
//   MaskRCNNHeads head(256, {256, 256, 256, 256});
//   MaskRCNNPredictor predictor(256, 256, 91);
//   torch::Tensor logits = predictor->forward(head->forward(pooled));  // [R, 91, 28, 28]
#ifndef MRCNN_ROI_HEADS_MASK_HEAD_H_
#define MRCNN_ROI_HEADS_MASK_HEAD_H_

#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace mrcnn {

struct MaskRCNNHeadsImpl : torch::nn::Module {
  MaskRCNNHeadsImpl(int64_t in_channels, const std::vector<int64_t>& layers);
  // x: [R, in_channels, S, S] -> [R, layers.back(), S, S]
  torch::Tensor forward(const torch::Tensor& x);

  std::vector<torch::nn::Conv2d> convs;  // registered as "<i>" -> Sequential(conv, ReLU)
};
TORCH_MODULE(MaskRCNNHeads);

struct MaskRCNNPredictorImpl : torch::nn::Module {
  MaskRCNNPredictorImpl(int64_t in_channels, int64_t dim_reduced, int64_t num_classes);
  // x: [R, in_channels, S, S] -> [R, num_classes, 2S, 2S] logits
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::ConvTranspose2d conv5_mask{nullptr};
  torch::nn::Conv2d mask_fcn_logits{nullptr};
};
TORCH_MODULE(MaskRCNNPredictor);

}  // namespace mrcnn

#endif  // MRCNN_ROI_HEADS_MASK_HEAD_H_
