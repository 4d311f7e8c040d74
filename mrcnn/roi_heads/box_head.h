// Box head and box predictor: from pooled ROI features to class scores and class-specific deltas.
//
// torchvision's TwoMLPHead (`fc6`, `fc7`: flatten, two fully connected layers of
// FPN_CLASSIF_FC_LAYERS_SIZE with ReLU) and FastRCNNPredictor (`cls_score`: NUM_CLASSES logits,
// `bbox_pred`: 4 deltas per class). Inside the model they are `roi_heads.box_head` and
// `roi_heads.box_predictor`.
//
//   TwoMLPHead head(256 * 7 * 7, 1024);
//   FastRCNNPredictor predictor(1024, 91);
//   BoxPrediction p = predictor->forward(head->forward(pooled));  // pooled [R, 256, 7, 7]
#ifndef MRCNN_ROI_HEADS_BOX_HEAD_H_
#define MRCNN_ROI_HEADS_BOX_HEAD_H_

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace mrcnn {

struct TwoMLPHeadImpl : torch::nn::Module {
  TwoMLPHeadImpl(int64_t in_features, int64_t representation_size);
  // x: [R, C, P, P] with C * P * P == in_features -> [R, representation_size]
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear fc6{nullptr}, fc7{nullptr};
};
TORCH_MODULE(TwoMLPHead);

struct BoxPrediction {
  torch::Tensor class_logits;  // [R, num_classes]
  torch::Tensor box_deltas;    // [R, num_classes * 4]: (dx, dy, dw, dh) per class, scaled by weights
};

struct FastRCNNPredictorImpl : torch::nn::Module {
  FastRCNNPredictorImpl(int64_t in_features, int64_t num_classes);
  // x: [R, in_features] (or [R, in_features, 1, 1])
  BoxPrediction forward(const torch::Tensor& x);

  torch::nn::Linear cls_score{nullptr}, bbox_pred{nullptr};
};
TORCH_MODULE(FastRCNNPredictor);

}  // namespace mrcnn

#endif  // MRCNN_ROI_HEADS_BOX_HEAD_H_
