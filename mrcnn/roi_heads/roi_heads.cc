#include "mrcnn/roi_heads/roi_heads.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "mrcnn/ops/boxes.h"
#include "mrcnn/ops/mask_ops.h"
#include "mrcnn/ops/matcher.h"
#include "mrcnn/ops/nms.h"
#include "mrcnn/ops/roi_align.h"
#include "mrcnn/ops/sampler.h"
#include "mrcnn/precision/autocast.h"

namespace mrcnn {
namespace {

std::array<double, 4> WeightsFromStdDev(const std::vector<double>& s) {
  return {1.0 / s[1], 1.0 / s[0], 1.0 / s[3], 1.0 / s[2]};  // (dy, dx, dh, dw) -> (wx, wy, ww, wh)
}

std::vector<torch::Tensor> Split(const torch::Tensor& x, const std::vector<int64_t>& counts) {
  std::vector<torch::Tensor> out;
  int64_t offset = 0;
  for (int64_t n : counts) {
    out.push_back(x.narrow(0, offset, n));
    offset += n;
  }
  return out;
}

// The losses, softmax and box decoding take fp32 whatever the head ran in (PRECISION=bf16).
BoxPrediction Fp32Prediction(BoxPrediction pred) {
  pred.class_logits = ToFp32(pred.class_logits);
  pred.box_deltas = ToFp32(pred.box_deltas);
  return pred;
}

}  // namespace

absl::StatusOr<RoIHeadsOptions> RoIHeadsOptionsFromConfig(const Config& c) {
  RoIHeadsOptions o;
  o.in_channels = c.TOP_DOWN_PYRAMID_SIZE;
  o.num_classes = c.NUM_CLASSES;
  o.representation_size = c.FPN_CLASSIF_FC_LAYERS_SIZE;
  o.mask_channels = c.MASK_HEAD_CHANNELS;
  o.pool_size = c.POOL_SIZE;
  o.mask_pool_size = c.MASK_POOL_SIZE;
  if (c.MASK_SHAPE.size() != 2 || c.MASK_SHAPE[0] != 2 * c.MASK_POOL_SIZE ||
      c.MASK_SHAPE[1] != 2 * c.MASK_POOL_SIZE) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MASK_SHAPE: must be [2 * MASK_POOL_SIZE, 2 * MASK_POOL_SIZE] (the mask head upsamples once)"));
  }
  o.sampling_ratio = c.ROI_ALIGN_SAMPLING_RATIO;
  o.aligned = c.ROI_ALIGN_ALIGNED;
  o.positive_iou = c.ROI_POSITIVE_IOU;
  o.negative_iou = c.ROI_NEGATIVE_IOU;
  o.rois_per_image = c.TRAIN_ROIS_PER_IMAGE;
  o.positive_fraction = c.ROI_POSITIVE_RATIO;
  if (c.BBOX_STD_DEV.size() != 4) {
    return absl::InvalidArgumentError("BBOX_STD_DEV: must have 4 values (dy, dx, dh, dw)");
  }
  o.coder_weights = WeightsFromStdDev(c.BBOX_STD_DEV);
  o.score_threshold = c.DETECTION_MIN_CONFIDENCE;
  o.nms_threshold = c.DETECTION_NMS_THRESHOLD;
  o.detections_per_image = c.DETECTION_MAX_INSTANCES;
  o.use_mini_masks = c.USE_MINI_MASK;
  return o;
}

RoIHeadsImpl::RoIHeadsImpl(const RoIHeadsOptions& o) : options(o) {
  box_head = register_module("box_head", TwoMLPHead(o.in_channels * o.pool_size * o.pool_size,
                                                    o.representation_size));
  box_predictor =
      register_module("box_predictor", FastRCNNPredictor(o.representation_size, o.num_classes));
  mask_head = register_module(
      "mask_head", MaskRCNNHeads(o.in_channels, std::vector<int64_t>(4, o.mask_channels)));
  mask_predictor = register_module(
      "mask_predictor", MaskRCNNPredictor(o.mask_channels, o.mask_channels, o.num_classes));
}

RoIHeadsOutput RoIHeadsImpl::forward(const std::vector<torch::Tensor>& features_in,
                                     const std::vector<torch::Tensor>& proposals,
                                     const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                                     const std::vector<RoITargets>* targets,
                                     at::Generator* generator) {
  TORCH_CHECK(features_in.size() >= 4, "RoIHeads: expected at least P2..P5, got ",
              features_in.size(), " levels");
  // ROIAlign samples and accumulates in fp32: bf16 maps (PRECISION=bf16) are cast once, for both heads.
  std::vector<torch::Tensor> features;
  for (size_t l = 0; l < 4; ++l) features.push_back(ToFp32(features_in[l]));
  const size_t num_images = proposals.size();
  TORCH_CHECK(image_sizes.size() == num_images, "RoIHeads: ", image_sizes.size(),
              " image sizes for ", num_images, " proposal sets");
  RoIHeadsOutput out;
  if (is_training()) {
    TORCH_CHECK(targets != nullptr && generator != nullptr && targets->size() == num_images,
                "RoIHeads: training needs targets for every image and a generator");
    const TrainingSamples samples = SelectTrainingSamples(proposals, *targets, *generator, &out);
    const torch::Tensor pooled = ops::MultiScaleRoiAlign(features, samples.proposals, image_sizes,
                                                         options.pool_size, options.pool_size,
                                                         options.sampling_ratio, options.aligned);
    BoxLosses(Fp32Prediction(box_predictor->forward(box_head->forward(pooled))), samples, &out);
    out.loss_mask = MaskLoss(features, image_sizes, samples, *targets);
    return out;
  }
  const torch::Tensor pooled = ops::MultiScaleRoiAlign(features, proposals, image_sizes,
                                                       options.pool_size, options.pool_size,
                                                       options.sampling_ratio, options.aligned);
  out.detections =
      PostprocessDetections(Fp32Prediction(box_predictor->forward(box_head->forward(pooled))), proposals,
                            image_sizes);
  AddDetectionMasks(features, image_sizes, &out.detections);
  return out;
}

// torchvision's select_training_samples: gt boxes join the proposals, then match and sample.
RoIHeadsImpl::TrainingSamples RoIHeadsImpl::SelectTrainingSamples(
    const std::vector<torch::Tensor>& proposals_in, const std::vector<RoITargets>& targets,
    at::Generator& generator, RoIHeadsOutput* out) const {
  const size_t num_images = proposals_in.size();
  const ops::BoxCoder coder(options.coder_weights);
  const ops::Matcher matcher(options.positive_iou, options.negative_iou, false);
  const ops::BalancedPositiveNegativeSampler sampler(options.rois_per_image,
                                                     options.positive_fraction);
  TrainingSamples s;
  s.proposals = proposals_in;
  std::vector<torch::Tensor> all_labels;
  for (size_t i = 0; i < num_images; ++i) {
    const RoITargets& t = targets[i];
    TORCH_CHECK(t.boxes.dim() == 2 && t.boxes.size(1) == 4, "RoIHeads: gt boxes of image ", i,
                " must be [G, 4], got ", t.boxes.sizes());
    const torch::Tensor gt = t.boxes.to(s.proposals[i].dtype());
    s.proposals[i] = torch::cat({s.proposals[i], gt});
    torch::Tensor m, l;
    if (gt.size(0) == 0) {
      m = torch::zeros({s.proposals[i].size(0)}, s.proposals[i].options().dtype(torch::kLong));
      l = torch::zeros({s.proposals[i].size(0)}, s.proposals[i].options().dtype(torch::kLong));
    } else {
      m = matcher(ops::BoxIoU(gt, s.proposals[i]));
      l = t.labels.to(torch::kLong).index_select(0, m.clamp_min(0));
      l.masked_fill_(m == ops::Matcher::kBelowLowThreshold, 0);
      l.masked_fill_(m == ops::Matcher::kBetweenThresholds, -1);
    }
    s.matched_idxs.push_back(m.clamp_min(0));
    all_labels.push_back(l);
  }
  const std::vector<ops::SampledMasks> sampled = sampler.Sample(all_labels, generator);
  for (size_t i = 0; i < num_images; ++i) {
    const torch::Tensor keep = torch::where(sampled[i].positive | sampled[i].negative)[0];
    s.proposals[i] = s.proposals[i].index_select(0, keep);
    s.labels.push_back(all_labels[i].index_select(0, keep));
    out->sampled_rois.push_back(keep.size(0));
    out->sampled_positives.push_back((s.labels.back() > 0).sum().item<int64_t>());
    s.matched_idxs[i] = s.matched_idxs[i].index_select(0, keep);
    torch::Tensor gt = targets[i].boxes.to(s.proposals[i].dtype());
    if (gt.size(0) == 0) gt = torch::zeros({1, 4}, s.proposals[i].options());
    s.regression_targets.push_back(coder.Encode(gt.index_select(0, s.matched_idxs[i]), s.proposals[i]));
  }
  return s;
}

// torchvision's fastrcnn_loss: cross entropy over the sampled ROIs, smooth L1 on the positives' deltas
// of their own class, normalised by the number of sampled ROIs.
void RoIHeadsImpl::BoxLosses(const BoxPrediction& pred, const TrainingSamples& s,
                             RoIHeadsOutput* out) const {
  const torch::Tensor all_labels = torch::cat(s.labels);
  const torch::Tensor all_targets = torch::cat(s.regression_targets);
  out->loss_classifier = torch::cross_entropy_loss(pred.class_logits, all_labels);
  const torch::Tensor pos = torch::where(all_labels > 0)[0];
  const torch::Tensor deltas = pred.box_deltas.reshape({pred.box_deltas.size(0), -1, 4})
                                   .index({pos, all_labels.index_select(0, pos)});
  out->loss_box_reg = torch::smooth_l1_loss(deltas, all_targets.index_select(0, pos),
                                            at::Reduction::Sum, 1.0 / 9) /
                      std::max<int64_t>(1, all_labels.numel());
}

// torchvision's maskrcnn_loss on the positive ROIs only: each ROI's mask logits of its own class
// against its gt mask projected into the ROI (MaskTargets, on the CPU).
torch::Tensor RoIHeadsImpl::MaskLoss(const std::vector<torch::Tensor>& features,
                                     const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                                     const TrainingSamples& s,
                                     const std::vector<RoITargets>& targets) {
  const int64_t m = 2 * options.mask_pool_size;
  std::vector<torch::Tensor> mask_rois, mask_labels, mask_targets;
  for (size_t i = 0; i < s.proposals.size(); ++i) {
    const torch::Tensor p = torch::where(s.labels[i] > 0)[0];
    const torch::Tensor rois = s.proposals[i].index_select(0, p);
    mask_rois.push_back(rois);
    mask_labels.push_back(s.labels[i].index_select(0, p));
    const RoITargets& t = targets[i];
    if (p.numel() == 0) {
      mask_targets.push_back(torch::zeros({0, m, m}, rois.options()));
      continue;
    }
    mask_targets.push_back(ops::MaskTargets(t.masks, t.boxes.to(rois.dtype()), rois,
                                            s.matched_idxs[i].index_select(0, p), m, m,
                                            options.use_mini_masks)
                               .to(rois.device()));
  }
  const torch::Tensor mask_pooled =
      ops::MultiScaleRoiAlign(features, mask_rois, image_sizes, options.mask_pool_size,
                              options.mask_pool_size, options.sampling_ratio, options.aligned);
  const torch::Tensor logits = ToFp32(mask_predictor->forward(mask_head->forward(mask_pooled)));
  const torch::Tensor lbl = torch::cat(mask_labels);
  const torch::Tensor tgt = torch::cat(mask_targets);
  if (tgt.numel() == 0) return logits.sum() * 0;
  const torch::Tensor picked = logits.index({torch::arange(lbl.size(0), lbl.options()), lbl});
  return torch::binary_cross_entropy_with_logits(picked, tgt.to(picked.dtype()));
}

// torchvision's postprocess_detections: per class boxes and scores, score threshold, small boxes out,
// NMS per class, the best DETECTION_MAX_INSTANCES.
std::vector<Detections> RoIHeadsImpl::PostprocessDetections(
    const BoxPrediction& pred, const std::vector<torch::Tensor>& proposals,
    const std::vector<std::pair<int64_t, int64_t>>& image_sizes) const {
  const ops::BoxCoder coder(options.coder_weights);
  std::vector<int64_t> counts;
  for (const auto& p : proposals) counts.push_back(p.size(0));
  const torch::Tensor all_proposals = torch::cat(proposals);
  const torch::Tensor decoded = coder.Decode(pred.box_deltas, all_proposals);  // [R, K, 4]
  const torch::Tensor probs = torch::softmax(pred.class_logits, -1);           // [R, K]
  const std::vector<torch::Tensor> boxes_split = Split(decoded, counts);
  const std::vector<torch::Tensor> probs_split = Split(probs, counts);
  const int64_t k = options.num_classes;
  std::vector<Detections> detections;
  for (size_t i = 0; i < proposals.size(); ++i) {
    torch::Tensor boxes =
        ops::ClipBoxesToImage(boxes_split[i], image_sizes[i].first, image_sizes[i].second);
    torch::Tensor scores = probs_split[i];
    torch::Tensor lbl =
        torch::arange(k, scores.options().dtype(torch::kLong)).view({1, -1}).expand_as(scores);
    boxes = boxes.narrow(1, 1, k - 1).reshape({-1, 4});
    scores = scores.narrow(1, 1, k - 1).reshape({-1});
    lbl = lbl.narrow(1, 1, k - 1).reshape({-1});
    torch::Tensor keep = torch::where(scores > options.score_threshold)[0];
    boxes = boxes.index_select(0, keep);
    scores = scores.index_select(0, keep);
    lbl = lbl.index_select(0, keep);
    keep = ops::RemoveSmallBoxes(boxes, 1e-2);
    boxes = boxes.index_select(0, keep);
    scores = scores.index_select(0, keep);
    lbl = lbl.index_select(0, keep);
    keep = ops::BatchedNms(boxes, scores, lbl, options.nms_threshold);
    keep = keep.narrow(0, 0, std::min<int64_t>(options.detections_per_image, keep.size(0)));
    Detections d;
    d.boxes = boxes.index_select(0, keep);
    d.scores = scores.index_select(0, keep);
    d.labels = lbl.index_select(0, keep);
    detections.push_back(d);
  }
  return detections;
}

// The mask head on the detections: each detection's mask probabilities for its class.
void RoIHeadsImpl::AddDetectionMasks(const std::vector<torch::Tensor>& features,
                                     const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                                     std::vector<Detections>* detections) {
  std::vector<torch::Tensor> det_boxes, det_labels;
  std::vector<int64_t> det_counts;
  for (const Detections& d : *detections) {
    det_boxes.push_back(d.boxes);
    det_labels.push_back(d.labels);
    det_counts.push_back(d.boxes.size(0));
  }
  const torch::Tensor mask_pooled =
      ops::MultiScaleRoiAlign(features, det_boxes, image_sizes, options.mask_pool_size,
                              options.mask_pool_size, options.sampling_ratio, options.aligned);
  const torch::Tensor logits = ToFp32(mask_predictor->forward(mask_head->forward(mask_pooled)));
  const torch::Tensor all_labels = torch::cat(det_labels);
  const torch::Tensor mask_probs =
      logits.index({torch::arange(all_labels.size(0), all_labels.options()), all_labels})
          .sigmoid()
          .unsqueeze(1);
  const std::vector<torch::Tensor> masks_split = Split(mask_probs, det_counts);
  for (size_t i = 0; i < detections->size(); ++i) (*detections)[i].masks = masks_split[i];
}

}  // namespace mrcnn
