// Instance-mask operations: rasterising polygons, matterport's mini masks, mask-head targets for
// sampled ROIs, and pasting predicted masks back into the image.
//
//   at::Tensor m = PolygonsToMask({{x0, y0, x1, y1, ...}, ...}, height, width);  // bool [H, W]
//   at::Tensor mini = MinimizeMasks(masks, boxes, 56, 56);     // bool [G, 56, 56]
//   at::Tensor full = ExpandMasks(mini, boxes, height, width);   // bool [G, H, W]
//   at::Tensor t = MaskTargets(masks, gt_boxes, rois, matched_gt, 28, 28, /*mini=*/false);
//   at::Tensor pasted = PasteMasksInImage(probs, boxes, height, width);  // float [D, 1, H, W]
//
// Boxes are (x1, y1, x2, y2) pixels. Argument errors raise c10::Error naming the argument.
#ifndef MRCNN_OPS_MASK_OPS_H_
#define MRCNN_OPS_MASK_OPS_H_

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace mrcnn {
namespace ops {

// The torch-free geometry of datasets/geometry (the project's one polygon rule and one mini-mask
// code path) on tensors: PolygonsToMask, MinimizeMasks and ExpandMasks convert and call it.
//
// One instance given as polygons (each a flat list x0, y0, x1, y1, ... of at least 3 points,
// sub-pixel floats, COCO's layout) -> bool [height, width]: pixel (row i, column j) is set when its
// centre (j + 0.5, i + 0.5) lies inside any of the polygons (even-odd rule per polygon, union over
// polygons; a centre exactly on a left or top edge is inside, on a right or bottom edge outside).
// Points outside the image are allowed; the mask is clipped to the image.
at::Tensor PolygonsToMask(const std::vector<std::vector<double>>& polygons, int64_t height,
                          int64_t width);

// matterport's minimize_mask: masks [G, H, W] (bool or float), boxes [G, 4] (rounded to integer
// pixels)
// -> bool [G, mini_h, mini_w]: each mask cropped to its box and resized bilinearly (half-pixel
// centres), then thresholded above 0.5 (np.around). A box with no pixels inside the image gives an all-false mini
// mask.
at::Tensor MinimizeMasks(const at::Tensor& masks, const at::Tensor& boxes, int64_t mini_height,
                         int64_t mini_width);

// matterport's expand_mask, the inverse: mini masks [G, mh, mw] and the boxes they came from
// [G, 4] -> bool [G, height, width], each resized to its (rounded) box and thresholded above 0.5.
at::Tensor ExpandMasks(const at::Tensor& mini_masks, const at::Tensor& boxes, int64_t height,
                       int64_t width);

// Mask-head targets for sampled ROIs, as torchvision's project_masks_on_boxes: ROIAlign (output
// mask_h x mask_w, adaptive sampling, aligned = false) of each ROI's matched gt mask -> float
// [K, mask_h, mask_w] soft targets in [0, 1].
//   gt_masks [G, H, W] full-image masks, or with use_mini_masks [G, mh, mw] mini masks of gt_boxes
//   gt_boxes [G, 4] (only read with mini masks: the box each mini mask covers)
//   rois [K, 4] image pixels; matched_gt int64 [K] indices into the gt
// With mini masks the ROI is mapped into the mini mask's pixel grid (pixel centres map to pixel
// centres), so a mini mask of its box's own size gives the same targets as the full mask.
at::Tensor MaskTargets(const at::Tensor& gt_masks, const at::Tensor& gt_boxes,
                       const at::Tensor& rois, const at::Tensor& matched_gt, int64_t mask_height,
                       int64_t mask_width, bool use_mini_masks);

// torchvision's paste_masks_in_image: masks [D, 1, M, M] (probabilities), boxes [D, 4] -> float
// [D, 1, height, width]: each mask padded by `padding` cells, its box scaled to match and truncated
// to integers, resized bilinearly to the box (+1 pixel, torchvision's legacy size) and pasted,
// clipped to the image. Threshold with BinarizeMasks (torchvision's users take > 0.5).
at::Tensor PasteMasksInImage(const at::Tensor& masks, const at::Tensor& boxes, int64_t height,
                             int64_t width, int64_t padding = 1);

// Pasted probabilities -> bool masks, probability > threshold (0.5 as torchvision's users).
at::Tensor BinarizeMasks(const at::Tensor& probabilities, double threshold = 0.5);

}  // namespace ops
}  // namespace mrcnn

#endif  // MRCNN_OPS_MASK_OPS_H_
