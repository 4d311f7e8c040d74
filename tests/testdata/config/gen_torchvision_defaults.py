"""Writes torchvision_defaults.json: the settings of torchvision's maskrcnn_resnet50_fpn, read from a
model built by Debian's torchvision, under our Config's key names. The config test checks the
"torchvision" preset against this file.

Run: /usr/bin/python3 tests/testdata/config/gen_torchvision_defaults.py > tests/testdata/config/torchvision_defaults.json
"""
import json

import torchvision
from torchvision.models.detection import maskrcnn_resnet50_fpn

m = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None)
rpn, heads, transform = m.rpn, m.roi_heads, m.transform
assert heads.box_roi_pool.output_size == (7, 7) or heads.box_roi_pool.output_size == [7, 7]
out = {
    "_torchvision_version": torchvision.__version__,
    "NUM_CLASSES": heads.box_predictor.cls_score.out_features,
    "IMAGE_MIN_DIM": transform.min_size[0],
    "IMAGE_MAX_DIM": transform.max_size,
    "MEAN_PIXEL": [v * 255 for v in transform.image_mean],
    "IMAGE_STD": [v * 255 for v in transform.image_std],
    "RPN_ANCHOR_SCALES": [s[0] for s in rpn.anchor_generator.sizes],
    "RPN_ANCHOR_RATIOS": list(rpn.anchor_generator.aspect_ratios[0]),
    "PRE_NMS_LIMIT": rpn._pre_nms_top_n["training"],
    "PRE_NMS_LIMIT_INFERENCE": rpn._pre_nms_top_n["testing"],
    "POST_NMS_ROIS_TRAINING": rpn._post_nms_top_n["training"],
    "POST_NMS_ROIS_INFERENCE": rpn._post_nms_top_n["testing"],
    "RPN_NMS_THRESHOLD": rpn.nms_thresh,
    "RPN_MIN_SIZE": rpn.min_size,
    "RPN_TRAIN_ANCHORS_PER_IMAGE": rpn.fg_bg_sampler.batch_size_per_image,
    "RPN_POSITIVE_FRACTION": rpn.fg_bg_sampler.positive_fraction,
    "RPN_POSITIVE_IOU": rpn.proposal_matcher.high_threshold,
    "RPN_NEGATIVE_IOU": rpn.proposal_matcher.low_threshold,
    # BoxCoder weights are the inverse of matterport's standard deviations.
    "RPN_BBOX_STD_DEV": [1.0 / w for w in rpn.box_coder.weights],
    "BBOX_STD_DEV": [1.0 / w for w in heads.box_coder.weights],
    "DETECTION_MIN_CONFIDENCE": heads.score_thresh,
    "DETECTION_NMS_THRESHOLD": heads.nms_thresh,
    "DETECTION_MAX_INSTANCES": heads.detections_per_img,
    "TRAIN_ROIS_PER_IMAGE": heads.fg_bg_sampler.batch_size_per_image,
    "ROI_POSITIVE_RATIO": heads.fg_bg_sampler.positive_fraction,
    "ROI_POSITIVE_IOU": heads.proposal_matcher.high_threshold,
    "ROI_NEGATIVE_IOU": heads.proposal_matcher.low_threshold,
    "POOL_SIZE": heads.box_roi_pool.output_size[0],
    "MASK_POOL_SIZE": heads.mask_roi_pool.output_size[0],
    "ROI_ALIGN_SAMPLING_RATIO": heads.box_roi_pool.sampling_ratio,
    "FPN_CLASSIF_FC_LAYERS_SIZE": heads.box_head.fc6.out_features,
    "TOP_DOWN_PYRAMID_SIZE": m.backbone.out_channels,
    "MASK_HEAD_CHANNELS": heads.mask_predictor.conv5_mask.in_channels,
    "MASK_SHAPE": [2 * heads.mask_roi_pool.output_size[0]] * 2,
}
print(json.dumps(out, indent=1, sort_keys=True))
