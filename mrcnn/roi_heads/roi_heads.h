// ROI heads: from proposals to detections (inference) or to the box and mask losses (training).
//
// torchvision's RoIHeads with matterport's knobs. Registered as `roi_heads` with `box_head` (fc6, fc7),
// `box_predictor`, `mask_head` and `mask_predictor`, so torchvision checkpoints load by name.
//   Training: ground-truth boxes are added to the proposals, proposals are matched at ROI_POSITIVE_IOU /
//     ROI_NEGATIVE_IOU, TRAIN_ROIS_PER_IMAGE are sampled with ROI_POSITIVE_RATIO; features are pooled
//     with multi-level ROIAlign (POOL_SIZE, MASK_POOL_SIZE); losses: cross-entropy on classes, smooth L1
//     (beta 1/9) on the class-specific deltas of positives (coder weights 1 / BBOX_STD_DEV), and binary
//     cross-entropy of the mask logits of the gt class against ROIAligned gt masks (full or mini masks).
//   Inference: softmax scores, class-specific boxes clipped to the image, scores above
//     DETECTION_MIN_CONFIDENCE, per-class NMS at DETECTION_NMS_THRESHOLD, the best
//     DETECTION_MAX_INSTANCES, then the mask of each detection's class (probabilities, MASK_SHAPE).
//
//   RoIHeads heads(RoIHeadsOptionsFromConfig(config).value());
//   RoIHeadsOutput out = heads->forward(features, proposals, image_sizes, targets, &generator);
#ifndef MRCNN_ROI_HEADS_ROI_HEADS_H_
#define MRCNN_ROI_HEADS_ROI_HEADS_H_

#include <array>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "absl/status/statusor.h"
#include "mrcnn/config/config.h"
#include "mrcnn/roi_heads/box_head.h"
#include "mrcnn/roi_heads/mask_head.h"

namespace mrcnn {

struct RoIHeadsOptions {
  int64_t in_channels = 256;
  int64_t num_classes = 91;
  int64_t representation_size = 1024;  // FPN_CLASSIF_FC_LAYERS_SIZE
  int64_t mask_channels = 256;         // MASK_HEAD_CHANNELS
  int64_t pool_size = 7, mask_pool_size = 14;
  int64_t sampling_ratio = 2;
  bool aligned = false;
  double positive_iou = 0.5, negative_iou = 0.5;
  int64_t rois_per_image = 512;
  double positive_fraction = 0.25;
  std::array<double, 4> coder_weights = {10.0, 10.0, 5.0, 5.0};
  double score_threshold = 0.05;
  double nms_threshold = 0.5;
  int64_t detections_per_image = 100;
  bool use_mini_masks = false;
};

absl::StatusOr<RoIHeadsOptions> RoIHeadsOptionsFromConfig(const Config& config);

// Ground truth of one image, in the coordinates of the network input (resized image).
struct RoITargets {
  torch::Tensor boxes;   // [G, 4] float (x1, y1, x2, y2)
  torch::Tensor labels;  // [G] int64, 1 .. num_classes - 1
  torch::Tensor masks;   // [G, H, W] full masks of the resized image, or [G, mh, mw] mini masks
};

struct Detections {
  torch::Tensor boxes;   // [D, 4]
  torch::Tensor labels;  // [D] int64
  torch::Tensor scores;  // [D]
  torch::Tensor masks;   // [D, 1, M, M] mask probabilities in the box (M = 2 * MASK_POOL_SIZE)
};

struct RoIHeadsOutput {
  std::vector<Detections> detections;  // per image; empty in training
  torch::Tensor loss_classifier, loss_box_reg, loss_mask;  // undefined outside training
  // Training only: per image, the ROIs sampled for the heads and how many of them are positive.
  std::vector<int64_t> sampled_rois, sampled_positives;
};

struct RoIHeadsImpl : torch::nn::Module {
  explicit RoIHeadsImpl(const RoIHeadsOptions& options);

  // features: P2..P5 [N, C, H_l, W_l] (P6 is not pooled); proposals: per image [P_i, 4];
  // image_sizes: per image (height, width) of the resized image. Training needs targets and a
  // generator for the ROI sampling.
  RoIHeadsOutput forward(const std::vector<torch::Tensor>& features,
                         const std::vector<torch::Tensor>& proposals,
                         const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                         const std::vector<RoITargets>* targets = nullptr,
                         at::Generator* generator = nullptr);

  RoIHeadsOptions options;
  TwoMLPHead box_head{nullptr};
  FastRCNNPredictor box_predictor{nullptr};
  MaskRCNNHeads mask_head{nullptr};
  MaskRCNNPredictor mask_predictor{nullptr};

 private:
  // The ROIs the heads train on, per image: the sampled proposals (gt boxes included), their labels
  // (0 background), the matched gt index and the box regression targets.
  struct TrainingSamples {
    std::vector<torch::Tensor> proposals, labels, matched_idxs, regression_targets;
  };
  TrainingSamples SelectTrainingSamples(const std::vector<torch::Tensor>& proposals,
                                        const std::vector<RoITargets>& targets,
                                        at::Generator& generator, RoIHeadsOutput* out) const;
  void BoxLosses(const BoxPrediction& pred, const TrainingSamples& samples, RoIHeadsOutput* out) const;
  torch::Tensor MaskLoss(const std::vector<torch::Tensor>& features,
                         const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                         const TrainingSamples& samples, const std::vector<RoITargets>& targets);
  std::vector<Detections> PostprocessDetections(
      const BoxPrediction& pred, const std::vector<torch::Tensor>& proposals,
      const std::vector<std::pair<int64_t, int64_t>>& image_sizes) const;
  void AddDetectionMasks(const std::vector<torch::Tensor>& features,
                         const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                         std::vector<Detections>* detections);
};
TORCH_MODULE(RoIHeads);

}  // namespace mrcnn

#endif  // MRCNN_ROI_HEADS_ROI_HEADS_H_
