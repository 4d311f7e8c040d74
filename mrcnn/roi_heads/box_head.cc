#include "mrcnn/roi_heads/box_head.h"

namespace mrcnn {

TwoMLPHeadImpl::TwoMLPHeadImpl(int64_t in_features, int64_t representation_size) {
  TORCH_CHECK(in_features > 0 && representation_size > 0, "TwoMLPHead: in_features (", in_features,
              ") and FPN_CLASSIF_FC_LAYERS_SIZE (", representation_size, ") must be > 0");
  // LibTorch's Linear default init is PyTorch's, as torchvision leaves it.
  fc6 = register_module("fc6", torch::nn::Linear(in_features, representation_size));
  fc7 = register_module("fc7", torch::nn::Linear(representation_size, representation_size));
}

torch::Tensor TwoMLPHeadImpl::forward(const torch::Tensor& x) {
  int64_t per_roi = 1;
  for (int64_t d = 1; d < x.dim(); ++d) per_roi *= x.size(d);
  TORCH_CHECK(x.dim() >= 2 && per_roi == fc6->options.in_features(),
              "TwoMLPHead: expected [R, ...] with ", fc6->options.in_features(),
              " features per ROI, got ", x.sizes());
  return fc7->forward(fc6->forward(x.flatten(1)).relu_()).relu_();
}

FastRCNNPredictorImpl::FastRCNNPredictorImpl(int64_t in_features, int64_t num_classes) {
  TORCH_CHECK(in_features > 0 && num_classes > 0, "FastRCNNPredictor: in_features (", in_features,
              ") and NUM_CLASSES (", num_classes, ") must be > 0");
  cls_score = register_module("cls_score", torch::nn::Linear(in_features, num_classes));
  bbox_pred = register_module("bbox_pred", torch::nn::Linear(in_features, num_classes * 4));
}

BoxPrediction FastRCNNPredictorImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 2 || (x.dim() == 4 && x.size(2) == 1 && x.size(3) == 1),
              "FastRCNNPredictor: expected [R, C] or [R, C, 1, 1], got ", x.sizes());
  const torch::Tensor flat = x.flatten(1);
  return {cls_score->forward(flat), bbox_pred->forward(flat)};
}

}  // namespace mrcnn
