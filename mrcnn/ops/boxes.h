// Box utilities of the detector, with torchvision's conventions: boxes are [N, 4] (x1, y1, x2, y2)
// in pixels, width = x2 - x1 (no legacy "+1").
//
//   at::Tensor iou = mrcnn::ops::BoxIoU(anchors, gt_boxes);          // [A, G]
//   mrcnn::ops::BoxCoder coder({1.0, 1.0, 1.0, 1.0});
//   at::Tensor deltas = coder.Encode(gt_boxes_per_anchor, anchors);  // [A, 4] regression targets
//   at::Tensor boxes = coder.Decode(deltas, anchors);                // [A, 1, 4]
//   boxes = mrcnn::ops::ClipBoxesToImage(boxes, height, width);
//   at::Tensor keep = mrcnn::ops::RemoveSmallBoxes(boxes.view({-1, 4}), 1e-3);
//
// Encode, Decode and ClipBoxesToImage are built from differentiable ATen ops, so gradients flow
// through them. Argument errors (rank, dtype, sizes) raise c10::Error with a message naming the
// function and the argument.
#ifndef MRCNN_OPS_BOXES_H_
#define MRCNN_OPS_BOXES_H_

#include <ATen/ATen.h>

#include <array>
#include <cmath>

namespace mrcnn {
namespace ops {

// [N] areas of [N, 4] boxes; negative for inverted boxes (torchvision does not clamp).
at::Tensor BoxArea(const at::Tensor& boxes);

// [N, M] pairwise IoU of boxes a [N, 4] and b [M, 4] (floating point, same dtype). Zero-area pairs
// give NaN (0/0), as torchvision.ops.box_iou.
at::Tensor BoxIoU(const at::Tensor& a, const at::Tensor& b);

// Encodes boxes as deltas (dx, dy, dw, dh) relative to reference boxes and decodes them back,
// as torchvision.models.detection._utils.BoxCoder. Weights scale the deltas (torchvision's RPN uses
// 1,1,1,1, its box head 10,10,5,5; matterport's BBOX_STD_DEV 0.1,0.1,0.2,0.2 is weights 10,10,5,5).
class BoxCoder {
 public:
  // bbox_xform_clip caps dw, dh before exp() so huge predictions cannot overflow.
  explicit BoxCoder(std::array<double, 4> weights,
                    double bbox_xform_clip = std::log(1000.0 / 16.0));

  // reference_boxes [N, 4] (the targets, e.g. matched gt boxes), proposals [N, 4] (the anchors or
  // proposals they are expressed against) -> [N, 4] deltas.
  at::Tensor Encode(const at::Tensor& reference_boxes, const at::Tensor& proposals) const;

  // rel_codes [N, K*4] deltas (K boxes per reference, e.g. one per class), boxes [N, 4] references
  // -> [N, K, 4] decoded boxes, in rel_codes' dtype.
  at::Tensor Decode(const at::Tensor& rel_codes, const at::Tensor& boxes) const;

  const std::array<double, 4>& weights() const { return weights_; }
  double bbox_xform_clip() const { return bbox_xform_clip_; }

 private:
  std::array<double, 4> weights_;
  double bbox_xform_clip_;
};

// Clamps x to [0, width] and y to [0, height]; boxes [..., 4] -> same shape.
at::Tensor ClipBoxesToImage(const at::Tensor& boxes, int64_t height, int64_t width);

// [N, 4] boxes -> int64 indices (ascending) of the boxes whose width and height are both >=
// min_size.
at::Tensor RemoveSmallBoxes(const at::Tensor& boxes, double min_size);

}  // namespace ops
}  // namespace mrcnn

#endif  // MRCNN_OPS_BOXES_H_
