#include "mrcnn/ops/mask_ops.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>

#include "datasets/geometry/masks.h"
#include "datasets/geometry/polygon.h"
#include "mrcnn/ops/roi_align.h"

namespace mrcnn {
namespace ops {
namespace {

void CheckBoxes(const char* fn, const char* name, const at::Tensor& boxes, int64_t n) {
  TORCH_CHECK(boxes.defined() && boxes.dim() == 2 && boxes.size(1) == 4, fn, ": ", name,
              " must be [N, 4] (x1, y1, x2, y2), got shape ",
              boxes.defined() ? boxes.sizes() : at::IntArrayRef{});
  TORCH_CHECK(boxes.size(0) == n, fn, ": ", name, " has ", boxes.size(0), " rows, expected ", n);
  TORCH_CHECK(at::isFloatingType(boxes.scalar_type()) || boxes.scalar_type() == at::kLong ||
                  boxes.scalar_type() == at::kInt,
              fn, ": ", name, " must be numeric, got ", boxes.scalar_type());
}

// A box rounded to whole pixels (x1, y1, x2, y2), as matterport's integer boxes.
struct PixelBox {
  int64_t x1, y1, x2, y2;
};

std::vector<PixelBox> RoundBoxes(const char* fn, const at::Tensor& boxes) {
  const at::Tensor b = boxes.detach().to(at::kDouble).contiguous().cpu();
  const double* p = b.data_ptr<double>();
  std::vector<PixelBox> out(b.size(0));
  for (int64_t i = 0; i < b.size(0); ++i) {
    for (int k = 0; k < 4; ++k) {
      TORCH_CHECK(std::isfinite(p[4 * i + k]) && std::fabs(p[4 * i + k]) < 1e9, fn, ": box ", i,
                  " has an invalid coordinate ", p[4 * i + k]);
    }
    out[i] = {static_cast<int64_t>(std::nearbyint(p[4 * i])),
              static_cast<int64_t>(std::nearbyint(p[4 * i + 1])),
              static_cast<int64_t>(std::nearbyint(p[4 * i + 2])),
              static_cast<int64_t>(std::nearbyint(p[4 * i + 3]))};
  }
  return out;
}


}  // namespace

at::Tensor PolygonsToMask(const std::vector<std::vector<double>>& polygons, int64_t height,
                          int64_t width) {
  TORCH_CHECK(height >= 0 && width >= 0, "PolygonsToMask: image size must be non-negative, got ",
              height, "x", width);
  for (size_t p = 0; p < polygons.size(); ++p) {
    TORCH_CHECK(polygons[p].size() % 2 == 0 && polygons[p].size() >= 6, "PolygonsToMask: polygon ",
                p, " must be a flat list x0, y0, x1, y1, ... of at least 3 points, got ",
                polygons[p].size(), " numbers");
    for (double v : polygons[p]) {
      TORCH_CHECK(std::isfinite(v), "PolygonsToMask: polygon ", p, " has a non-finite coordinate");
    }
  }
  // The project's one rasterisation rule (datasets/geometry), each polygon filled into one mask.
  at::Tensor mask = at::zeros({height, width}, at::kByte);
  for (const std::vector<double>& poly : polygons) {
    geometry::FillPolygon(geometry::PolygonFromFlat(poly), mask.data_ptr<uint8_t>(), static_cast<int>(height),
                          static_cast<int>(width));
  }
  return mask.to(at::kBool);
}

at::Tensor MinimizeMasks(const at::Tensor& masks, const at::Tensor& boxes, int64_t mini_height,
                         int64_t mini_width) {
  TORCH_CHECK(masks.defined() && masks.dim() == 3,
              "MinimizeMasks: masks must be [G, H, W], got shape ",
              masks.defined() ? masks.sizes() : at::IntArrayRef{});
  CheckBoxes("MinimizeMasks", "boxes", boxes, masks.size(0));
  TORCH_CHECK(mini_height > 0 && mini_width > 0,
              "MinimizeMasks: mini mask shape must be positive, got ", mini_height, "x",
              mini_width);
  RoundBoxes("MinimizeMasks", boxes);  // checks the coordinates
  const at::Tensor m = (masks.detach().cpu() != 0).to(at::kByte).contiguous();
  const at::Tensor b = boxes.detach().to(at::kDouble).cpu().contiguous();
  const int h = static_cast<int>(m.size(1)), w = static_cast<int>(m.size(2));
  at::Tensor out = at::zeros({m.size(0), mini_height, mini_width}, at::kByte);
  for (int64_t g = 0; g < m.size(0); ++g) {
    const double* bx = b.data_ptr<double>() + 4 * g;
    const std::vector<uint8_t> mini = geometry::MinimizeMask(m[g].data_ptr<uint8_t>(), h, w, {bx[0], bx[1], bx[2], bx[3]},
                                                             static_cast<int>(mini_height), static_cast<int>(mini_width));
    std::copy(mini.begin(), mini.end(), out[g].data_ptr<uint8_t>());
  }
  return out.to(at::kBool);
}

at::Tensor ExpandMasks(const at::Tensor& mini_masks, const at::Tensor& boxes, int64_t height,
                       int64_t width) {
  TORCH_CHECK(mini_masks.defined() && mini_masks.dim() == 3,
              "ExpandMasks: mini_masks must be [G, mh, mw], got shape ",
              mini_masks.defined() ? mini_masks.sizes() : at::IntArrayRef{});
  CheckBoxes("ExpandMasks", "boxes", boxes, mini_masks.size(0));
  TORCH_CHECK(height >= 0 && width >= 0, "ExpandMasks: image size must be non-negative, got ",
              height, "x", width);
  RoundBoxes("ExpandMasks", boxes);  // checks the coordinates
  const at::Tensor m = (mini_masks.detach().cpu() != 0).to(at::kByte).contiguous();
  const at::Tensor b = boxes.detach().to(at::kDouble).cpu().contiguous();
  at::Tensor out = at::zeros({m.size(0), height, width}, at::kByte);
  for (int64_t g = 0; g < m.size(0); ++g) {
    const double* bx = b.data_ptr<double>() + 4 * g;
    const std::vector<uint8_t> full =
        geometry::ExpandMask(m[g].data_ptr<uint8_t>(), static_cast<int>(m.size(1)), static_cast<int>(m.size(2)),
                             {bx[0], bx[1], bx[2], bx[3]}, static_cast<int>(height), static_cast<int>(width));
    std::copy(full.begin(), full.end(), out[g].data_ptr<uint8_t>());
  }
  return out.to(at::kBool);
}

at::Tensor MaskTargets(const at::Tensor& gt_masks, const at::Tensor& gt_boxes,
                       const at::Tensor& rois, const at::Tensor& matched_gt, int64_t mask_height,
                       int64_t mask_width, bool use_mini_masks) {
  TORCH_CHECK(gt_masks.defined() && gt_masks.dim() == 3,
              "MaskTargets: gt_masks must be [G, H, W], got shape ",
              gt_masks.defined() ? gt_masks.sizes() : at::IntArrayRef{});
  const int64_t g = gt_masks.size(0);
  TORCH_CHECK(rois.defined() && rois.dim() == 2 && rois.size(1) == 4,
              "MaskTargets: rois must be [K, 4], got shape ",
              rois.defined() ? rois.sizes() : at::IntArrayRef{});
  TORCH_CHECK(at::isFloatingType(rois.scalar_type()), "MaskTargets: rois must be floating, got ",
              rois.scalar_type());
  const int64_t k = rois.size(0);
  TORCH_CHECK(matched_gt.defined() && matched_gt.dim() == 1 && matched_gt.size(0) == k,
              "MaskTargets: matched_gt must be [K] with K = ", k);
  TORCH_CHECK(
      !at::isFloatingType(matched_gt.scalar_type()) && matched_gt.scalar_type() != at::kBool,
      "MaskTargets: matched_gt must be an integer tensor, got ", matched_gt.scalar_type());
  TORCH_CHECK(mask_height > 0 && mask_width > 0, "MaskTargets: mask shape must be positive, got ",
              mask_height, "x", mask_width);
  if (use_mini_masks) CheckBoxes("MaskTargets", "gt_boxes", gt_boxes, g);
  if (k == 0) return at::zeros({0, mask_height, mask_width}, at::kFloat);
  const at::Tensor idx = matched_gt.detach().to(at::kLong).cpu();
  const int64_t lo = idx.min().item<int64_t>();
  const int64_t hi = idx.max().item<int64_t>();
  TORCH_CHECK(lo >= 0 && hi < g, "MaskTargets: matched_gt values must be in [0, ", g,
              "), got range [", lo, ", ", hi, "]");
  // A copy: the mini-mask mapping below rewrites the coordinates, and the caller still pools its
  // features with rois.
  at::Tensor boxes = rois.detach().to(at::kFloat).cpu().contiguous().clone();
  if (use_mini_masks) {
    // Map image pixels into each mini mask's grid: pixel centres to pixel centres, so that
    // x_mini = (x + 0.5 - gx1) * mw / gw - 0.5 (same for y), with the rounded gt box of
    // MinimizeMasks.
    const std::vector<PixelBox> pb = RoundBoxes("MaskTargets", gt_boxes);
    const int64_t* pi = idx.data_ptr<int64_t>();
    float* p = boxes.data_ptr<float>();
    const double mh = static_cast<double>(gt_masks.size(1));
    const double mw = static_cast<double>(gt_masks.size(2));
    for (int64_t r = 0; r < k; ++r) {
      const PixelBox& b = pb[pi[r]];
      const double sx = mw / static_cast<double>(std::max<int64_t>(b.x2 - b.x1, 1));
      const double sy = mh / static_cast<double>(std::max<int64_t>(b.y2 - b.y1, 1));
      float* q = p + 4 * r;
      q[0] = static_cast<float>((q[0] + 0.5 - b.x1) * sx - 0.5);
      q[1] = static_cast<float>((q[1] + 0.5 - b.y1) * sy - 0.5);
      q[2] = static_cast<float>((q[2] + 0.5 - b.x1) * sx - 0.5);
      q[3] = static_cast<float>((q[3] + 0.5 - b.y1) * sy - 0.5);
    }
  }
  const at::Tensor rois5 = at::cat({idx.to(at::kFloat).unsqueeze(1), boxes}, 1);
  const at::Tensor masks = gt_masks.detach().to(at::kFloat).cpu().unsqueeze(1);
  return RoiAlignForward(masks, rois5, 1.0, mask_height, mask_width, /*sampling_ratio=*/-1,
                         /*aligned=*/false)
      .squeeze(1);
}

at::Tensor PasteMasksInImage(const at::Tensor& masks, const at::Tensor& boxes, int64_t height,
                             int64_t width, int64_t padding) {
  TORCH_CHECK(masks.defined() && masks.dim() == 4 && masks.size(1) == 1 &&
                  masks.size(2) == masks.size(3) && masks.size(2) > 0,
              "PasteMasksInImage: masks must be [D, 1, M, M], got shape ",
              masks.defined() ? masks.sizes() : at::IntArrayRef{});
  TORCH_CHECK(at::isFloatingType(masks.scalar_type()),
              "PasteMasksInImage: masks must be floating, got ", masks.scalar_type());
  CheckBoxes("PasteMasksInImage", "boxes", boxes, masks.size(0));
  TORCH_CHECK(at::isFloatingType(boxes.scalar_type()), "PasteMasksInImage: boxes must be floating");
  TORCH_CHECK(height >= 0 && width >= 0 && padding >= 0,
              "PasteMasksInImage: image size and padding must be non-negative, got ", height, "x",
              width, ", padding ", padding);
  at::NoGradGuard no_grad;
  const int64_t d = masks.size(0);
  at::Tensor out = at::zeros({d, 1, height, width}, masks.options());
  if (d == 0) return out;
  // torchvision's expand_masks / expand_boxes: pad the mask and scale the box to match, in the
  // boxes' dtype, then truncate to integers.
  const int64_t m = masks.size(3);
  const double scale = static_cast<double>(m + 2 * padding) / static_cast<double>(m);
  const at::Tensor padded = at::constant_pad_nd(masks, {padding, padding, padding, padding}, 0);
  const at::Tensor b = boxes.detach().cpu();
  const at::Tensor w_half = (b.select(1, 2) - b.select(1, 0)) * 0.5 * scale;
  const at::Tensor h_half = (b.select(1, 3) - b.select(1, 1)) * 0.5 * scale;
  const at::Tensor x_c = (b.select(1, 2) + b.select(1, 0)) * 0.5;
  const at::Tensor y_c = (b.select(1, 3) + b.select(1, 1)) * 0.5;
  const at::Tensor expanded =
      at::stack({x_c - w_half, y_c - h_half, x_c + w_half, y_c + h_half}, 1);
  TORCH_CHECK(
      at::isfinite(expanded).all().item<bool>() && expanded.abs().max().item<double>() < 1e9,
      "PasteMasksInImage: boxes must be finite and below 1e9 in magnitude");
  const at::Tensor ib = expanded.to(at::kLong).contiguous();
  const int64_t* pb = ib.data_ptr<int64_t>();
  for (int64_t i = 0; i < d; ++i) {
    const int64_t* bx = pb + 4 * i;
    // torchvision's legacy "+1" size of the pasted mask.
    const int64_t w = std::max<int64_t>(bx[2] - bx[0] + 1, 1);
    const int64_t h = std::max<int64_t>(bx[3] - bx[1] + 1, 1);
    const int64_t x0 = std::max<int64_t>(bx[0], 0), x1 = std::min<int64_t>(bx[2] + 1, width);
    const int64_t y0 = std::max<int64_t>(bx[1], 0), y1 = std::min<int64_t>(bx[3] + 1, height);
    if (x1 <= x0 || y1 <= y0) continue;
    const at::Tensor resized =
        at::upsample_bilinear2d(padded.slice(0, i, i + 1), {h, w}, /*align_corners=*/false)[0][0];
    out[i][0].slice(0, y0, y1).slice(1, x0, x1).copy_(
        resized.slice(0, y0 - bx[1], y1 - bx[1]).slice(1, x0 - bx[0], x1 - bx[0]));
  }
  return out;
}

at::Tensor BinarizeMasks(const at::Tensor& probabilities, double threshold) {
  TORCH_CHECK(probabilities.defined(), "BinarizeMasks: probabilities is undefined");
  return probabilities > threshold;
}

}  // namespace ops
}  // namespace mrcnn
