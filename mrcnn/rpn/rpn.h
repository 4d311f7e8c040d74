// Region Proposal Network: objectness and box deltas per anchor, proposals, and the RPN losses.
//
// torchvision's RegionProposalNetwork with matterport's knobs. The head (registered as `rpn.head`)
// scores every anchor of P2..P6; with RPN_ANCHOR_STRIDE > 1 its outputs are subsampled to the anchors'
// cells (every RPN_ANCHOR_STRIDE-th cell). Proposals: decode deltas on the anchors, keep the
// PRE_NMS_LIMIT best (PRE_NMS_LIMIT_INFERENCE at inference), clip to the image, drop boxes smaller
// than RPN_MIN_SIZE, NMS at RPN_NMS_THRESHOLD, keep POST_NMS_ROIS_TRAINING / POST_NMS_ROIS_INFERENCE.
// PROPOSAL_SELECTION picks how:
//   "per_level" (torchvision): the top-k and the NMS run per pyramid level;
//   "global"    (matterport):  one top-k over all levels and one NMS over all of them.
// Training adds the losses: anchors matched to ground truth at RPN_POSITIVE_IOU / RPN_NEGATIVE_IOU
// (each gt keeps its best anchors), RPN_TRAIN_ANCHORS_PER_IMAGE sampled with RPN_POSITIVE_FRACTION,
// binary cross-entropy on objectness and smooth L1 (beta 1/9) on deltas, as torchvision.
//
//   RegionProposalNetwork rpn(RPNOptionsFromConfig(config).value());
//   RPNOutput out = rpn->forward(features, image_sizes, padded_size, gt_boxes, &generator);
#ifndef MRCNN_RPN_RPN_H_
#define MRCNN_RPN_RPN_H_

#include <array>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "absl/status/statusor.h"
#include "mrcnn/config/config.h"
#include "mrcnn/ops/anchors.h"
#include "mrcnn/rpn/rpn_head.h"

namespace mrcnn {

struct RPNOptions {
  int64_t in_channels = 256;
  ops::AnchorOptions anchors;
  std::vector<int64_t> level_strides = {4, 8, 16, 32, 64};  // BACKBONE_STRIDES (matterport anchors)
  ProposalSelection selection = ProposalSelection::kPerLevel;
  int64_t pre_nms_top_n_train = 2000, pre_nms_top_n_test = 1000;
  int64_t post_nms_top_n_train = 2000, post_nms_top_n_test = 1000;
  double nms_threshold = 0.7;
  double min_size = 1e-3;
  double positive_iou = 0.7, negative_iou = 0.3;
  int64_t batch_size_per_image = 256;
  double positive_fraction = 0.5;
  std::array<double, 4> coder_weights = {1.0, 1.0, 1.0, 1.0};  // (wx, wy, ww, wh) = 1 / RPN_BBOX_STD_DEV
};

// Errors name the config key; Config::Validate refuses every config that fails here.
absl::StatusOr<RPNOptions> RPNOptionsFromConfig(const Config& config);

// BoxCoder weights (wx, wy, ww, wh) from matterport's std devs (dy, dx, dh, dw): weights = 1 / std.
std::array<double, 4> CoderWeightsFromStdDev(const std::vector<double>& std_dev);

struct RPNOutput {
  std::vector<torch::Tensor> proposals;  // per image [P_i, 4] (x1, y1, x2, y2), detached
  std::vector<torch::Tensor> scores;     // per image [P_i] objectness probabilities
  torch::Tensor loss_objectness;         // scalars; undefined outside training
  torch::Tensor loss_box;
};

struct RegionProposalNetworkImpl : torch::nn::Module {
  explicit RegionProposalNetworkImpl(const RPNOptions& options);

  // features: P2..P6 [N, C, H_l, W_l]; image_sizes: per image (height, width) of the resized image
  // before padding; padded_size: (height, width) of the batch tensor. In training mode gt_boxes (per
  // image [G_i, 4], may be empty) and a generator for the anchor sampling are required.
  RPNOutput forward(const std::vector<torch::Tensor>& features,
                    const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                    std::pair<int64_t, int64_t> padded_size,
                    const std::vector<torch::Tensor>* gt_boxes = nullptr,
                    at::Generator* generator = nullptr);

  // Anchors per level for a batch of the given padded size and feature maps: [A_l, 4].
  std::vector<torch::Tensor> Anchors(const std::vector<torch::Tensor>& features,
                                     std::pair<int64_t, int64_t> padded_size) const;

  RPNOptions options;
  ops::AnchorGenerator anchor_generator;
  RPNHead head{nullptr};
};
TORCH_MODULE(RegionProposalNetwork);

}  // namespace mrcnn

#endif  // MRCNN_RPN_RPN_H_
