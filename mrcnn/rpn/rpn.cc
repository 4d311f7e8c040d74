#include "mrcnn/rpn/rpn.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "mrcnn/ops/boxes.h"
#include "mrcnn/ops/matcher.h"
#include "mrcnn/ops/nms.h"
#include "mrcnn/ops/sampler.h"
#include "mrcnn/precision/autocast.h"

namespace mrcnn {
namespace {

ops::AnchorGenerator MakeAnchorGenerator(const ops::AnchorOptions& options) {
  absl::StatusOr<ops::AnchorGenerator> g = ops::AnchorGenerator::Create(options);
  TORCH_CHECK(g.ok(), "RegionProposalNetwork: ", std::string(g.status().message()));
  return *g;
}

// [N, A*C, H, W] -> [N, H*W*A, C]: the anchors' order (cell-major, then anchor), as torchvision's
// permute_and_flatten.
torch::Tensor PermuteAndFlatten(const torch::Tensor& x, int64_t c) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  const int64_t a = x.size(1) / c;
  return x.view({n, a, c, h, w}).permute({0, 3, 4, 1, 2}).reshape({n, -1, c});
}

}  // namespace

std::array<double, 4> CoderWeightsFromStdDev(const std::vector<double>& s) {
  TORCH_CHECK(s.size() == 4, "BBOX_STD_DEV must have 4 values (dy, dx, dh, dw)");
  return {1.0 / s[1], 1.0 / s[0], 1.0 / s[3], 1.0 / s[2]};
}

absl::StatusOr<RPNOptions> RPNOptionsFromConfig(const Config& c) {
  RPNOptions o;
  o.in_channels = c.TOP_DOWN_PYRAMID_SIZE;
  o.anchors = ops::AnchorOptionsFromConfig(c);
  absl::StatusOr<ops::AnchorGenerator> g = ops::AnchorGenerator::Create(o.anchors);
  if (!g.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("RPN anchors: ", g.status().message()));
  }
  if (c.RPN_ANCHOR_SCALES.size() != 5) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RPN_ANCHOR_SCALES: one scale per FPN level P2..P6 (5), got ", c.RPN_ANCHOR_SCALES.size()));
  }
  o.level_strides.assign(c.BACKBONE_STRIDES.begin(), c.BACKBONE_STRIDES.end());
  o.selection = c.PROPOSAL_SELECTION;
  o.pre_nms_top_n_train = c.PRE_NMS_LIMIT;
  o.pre_nms_top_n_test = c.PRE_NMS_LIMIT_INFERENCE;
  o.post_nms_top_n_train = c.POST_NMS_ROIS_TRAINING;
  o.post_nms_top_n_test = c.POST_NMS_ROIS_INFERENCE;
  // Global selection keeps at most PRE_NMS_LIMIT boxes before NMS, so it cannot return more.
  if (o.selection == ProposalSelection::kGlobal && o.post_nms_top_n_train > o.pre_nms_top_n_train) {
    return absl::InvalidArgumentError(absl::StrCat(
        "POST_NMS_ROIS_TRAINING (", o.post_nms_top_n_train, ") exceeds PRE_NMS_LIMIT (",
        o.pre_nms_top_n_train, "): global proposal selection keeps at most PRE_NMS_LIMIT boxes"));
  }
  if (o.selection == ProposalSelection::kGlobal && o.post_nms_top_n_test > o.pre_nms_top_n_test) {
    return absl::InvalidArgumentError(absl::StrCat(
        "POST_NMS_ROIS_INFERENCE (", o.post_nms_top_n_test, ") exceeds PRE_NMS_LIMIT_INFERENCE (",
        o.pre_nms_top_n_test, "): global proposal selection keeps at most that many boxes"));
  }
  o.nms_threshold = c.RPN_NMS_THRESHOLD;
  o.min_size = c.RPN_MIN_SIZE;
  o.positive_iou = c.RPN_POSITIVE_IOU;
  o.negative_iou = c.RPN_NEGATIVE_IOU;
  o.batch_size_per_image = c.RPN_TRAIN_ANCHORS_PER_IMAGE;
  o.positive_fraction = c.RPN_POSITIVE_FRACTION;
  o.coder_weights = CoderWeightsFromStdDev(c.RPN_BBOX_STD_DEV);
  return o;
}

RegionProposalNetworkImpl::RegionProposalNetworkImpl(const RPNOptions& options)
    : options(options), anchor_generator(MakeAnchorGenerator(options.anchors)) {
  const int64_t a = anchor_generator.NumAnchorsPerCell(0);
  for (size_t l = 1; l < options.anchors.sizes_per_level.size(); ++l) {
    TORCH_CHECK(anchor_generator.NumAnchorsPerCell(static_cast<int>(l)) == a,
                "RegionProposalNetwork: the shared head needs the same number of anchors per level");
  }
  head = register_module("head", RPNHead(options.in_channels, a));
}

std::vector<torch::Tensor> RegionProposalNetworkImpl::Anchors(
    const std::vector<torch::Tensor>& features, std::pair<int64_t, int64_t> padded_size) const {
  std::vector<std::pair<int64_t, int64_t>> sizes;
  for (const auto& f : features) sizes.emplace_back(f.size(2), f.size(3));
  if (options.anchors.convention == AnchorConvention::kTorchvision) {
    // torchvision's strides: padded image size // feature size (P6 of an 800x1088 batch: 61, 64).
    return anchor_generator.Anchors(sizes, ops::AnchorGenerator::InferStrides(padded_size, sizes));
  }
  return anchor_generator.Anchors(sizes, options.level_strides);
}

RPNOutput RegionProposalNetworkImpl::forward(
    const std::vector<torch::Tensor>& features,
    const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
    std::pair<int64_t, int64_t> padded_size, const std::vector<torch::Tensor>* gt_boxes,
    at::Generator* generator) {
  TORCH_CHECK(features.size() == options.anchors.sizes_per_level.size(), "RPN: expected ",
              options.anchors.sizes_per_level.size(), " feature levels, got ", features.size());
  const int64_t num_images = features[0].size(0);
  TORCH_CHECK(static_cast<int64_t>(image_sizes.size()) == num_images, "RPN: ", image_sizes.size(),
              " image sizes for a batch of ", num_images);
  const bool training = is_training();
  TORCH_CHECK(!training || (gt_boxes != nullptr && generator != nullptr &&
                            static_cast<int64_t>(gt_boxes->size()) == num_images),
              "RPN: training needs gt boxes for every image and a generator");

  RPNHeadOutput head_out = head->forward(features);
  // Scores and deltas in fp32 whatever the head ran in (PRECISION=bf16): box decoding, top-k, NMS
  // and the losses are fp32 on purpose.
  for (torch::Tensor& o : head_out.objectness) o = ToFp32(o);
  for (torch::Tensor& d : head_out.deltas) d = ToFp32(d);
  const std::vector<torch::Tensor> anchors_per_level = Anchors(features, padded_size);
  std::vector<torch::Tensor> objectness_levels, deltas_levels;
  std::vector<int64_t> anchors_in_level;
  for (size_t l = 0; l < features.size(); ++l) {
    const torch::Tensor o = ops::SubsampleToAnchorStride(head_out.objectness[l], options.anchors.anchor_stride);
    const torch::Tensor d = ops::SubsampleToAnchorStride(head_out.deltas[l], options.anchors.anchor_stride);
    objectness_levels.push_back(PermuteAndFlatten(o, 1).squeeze(2));  // [N, A_l]
    deltas_levels.push_back(PermuteAndFlatten(d, 4));                 // [N, A_l, 4]
    TORCH_CHECK(objectness_levels.back().size(1) == anchors_per_level[l].size(0),
                "RPN: level ", l, " has ", objectness_levels.back().size(1), " scores for ",
                anchors_per_level[l].size(0), " anchors");
    anchors_in_level.push_back(anchors_per_level[l].size(0));
  }
  const torch::Tensor anchors =
      torch::cat(anchors_per_level)
          .to(features[0].device(), Fp32Dtype(features[0].scalar_type()));  // [A, 4], fp32 under bf16
  const torch::Tensor objectness = torch::cat(objectness_levels, 1);                   // [N, A]
  const torch::Tensor deltas = torch::cat(deltas_levels, 1);                           // [N, A, 4]
  const int64_t total = anchors.size(0);

  const ops::BoxCoder coder(options.coder_weights);
  const torch::Tensor decoded =
      coder.Decode(deltas.detach().reshape({-1, 4}), anchors.repeat({num_images, 1}))
          .view({num_images, total, 4});
  const torch::Tensor levels = torch::cat([&] {
    std::vector<torch::Tensor> v;
    for (size_t l = 0; l < anchors_in_level.size(); ++l) {
      v.push_back(torch::full({anchors_in_level[l]}, static_cast<int64_t>(l),
                              anchors.options().dtype(torch::kLong)));
    }
    return v;
  }());
  const int64_t pre_nms = training ? options.pre_nms_top_n_train : options.pre_nms_top_n_test;
  const int64_t post_nms = training ? options.post_nms_top_n_train : options.post_nms_top_n_test;

  RPNOutput out;
  const torch::Tensor scores_all = objectness.detach();
  for (int64_t i = 0; i < num_images; ++i) {
    // Candidates: the pre_nms best per level (torchvision) or over all levels (matterport).
    torch::Tensor candidates;
    if (options.selection == ProposalSelection::kPerLevel) {
      std::vector<torch::Tensor> picks;
      int64_t offset = 0;
      for (int64_t n : anchors_in_level) {
        const torch::Tensor level_scores = scores_all[i].narrow(0, offset, n);
        picks.push_back(std::get<1>(level_scores.topk(std::min(pre_nms, n))) + offset);
        offset += n;
      }
      candidates = torch::cat(picks);
    } else {
      candidates = std::get<1>(scores_all[i].topk(std::min(pre_nms, total)));
    }
    torch::Tensor boxes = decoded[i].index_select(0, candidates);
    torch::Tensor scores = scores_all[i].index_select(0, candidates).sigmoid();
    torch::Tensor lvl = levels.index_select(0, candidates);
    boxes = ops::ClipBoxesToImage(boxes, image_sizes[i].first, image_sizes[i].second);
    torch::Tensor keep = ops::RemoveSmallBoxes(boxes, options.min_size);
    boxes = boxes.index_select(0, keep);
    scores = scores.index_select(0, keep);
    lvl = lvl.index_select(0, keep);
    keep = options.selection == ProposalSelection::kPerLevel
               ? ops::BatchedNms(boxes, scores, lvl, options.nms_threshold)
               : ops::Nms(boxes, scores, options.nms_threshold);
    keep = keep.narrow(0, 0, std::min<int64_t>(post_nms, keep.size(0)));
    out.proposals.push_back(boxes.index_select(0, keep));
    out.scores.push_back(scores.index_select(0, keep));
  }
  if (!training) return out;

  // Losses (torchvision's assign_targets_to_anchors and compute_loss).
  const ops::Matcher matcher(options.positive_iou, options.negative_iou,
                             /*allow_low_quality_matches=*/true);
  const ops::BalancedPositiveNegativeSampler sampler(options.batch_size_per_image,
                                                     options.positive_fraction);
  std::vector<torch::Tensor> labels, targets;
  for (int64_t i = 0; i < num_images; ++i) {
    const torch::Tensor gt = (*gt_boxes)[i].to(anchors.dtype());
    TORCH_CHECK(gt.dim() == 2 && gt.size(1) == 4, "RPN: gt boxes of image ", i,
                " must be [G, 4], got ", gt.sizes());
    if (gt.size(0) == 0) {
      labels.push_back(torch::zeros({total}, anchors.options()));
      targets.push_back(torch::zeros({total, 4}, anchors.options()));
      continue;
    }
    const torch::Tensor matched = matcher(ops::BoxIoU(gt, anchors));
    torch::Tensor l = (matched >= 0).to(anchors.dtype());
    l.masked_fill_(matched == ops::Matcher::kBetweenThresholds, -1.0);
    labels.push_back(l);
    targets.push_back(coder.Encode(gt.index_select(0, matched.clamp_min(0)), anchors));
  }
  const std::vector<ops::SampledMasks> sampled = sampler.Sample(labels, *generator);
  std::vector<torch::Tensor> pos_masks, neg_masks;
  for (const auto& s : sampled) {
    pos_masks.push_back(s.positive);
    neg_masks.push_back(s.negative);
  }
  const torch::Tensor pos = torch::where(torch::cat(pos_masks))[0];
  const torch::Tensor neg = torch::where(torch::cat(neg_masks))[0];
  const torch::Tensor sampled_inds = torch::cat({pos, neg});
  const torch::Tensor flat_objectness = objectness.reshape({-1});
  const torch::Tensor flat_deltas = deltas.reshape({-1, 4});
  const torch::Tensor flat_labels = torch::cat(labels);
  const torch::Tensor flat_targets = torch::cat(targets);
  out.loss_box = torch::smooth_l1_loss(flat_deltas.index_select(0, pos),
                                       flat_targets.index_select(0, pos), at::Reduction::Sum,
                                       1.0 / 9) /
                 std::max<int64_t>(1, sampled_inds.numel());
  out.loss_objectness = torch::binary_cross_entropy_with_logits(
      flat_objectness.index_select(0, sampled_inds), flat_labels.index_select(0, sampled_inds));
  return out;
}

}  // namespace mrcnn
