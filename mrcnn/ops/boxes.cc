#include "mrcnn/ops/boxes.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include <cmath>

#include "mrcnn/ops/box_math.h"

namespace mrcnn {
namespace ops {
namespace {

void CheckBoxes(const at::Tensor& boxes, const char* fn, const char* name) {
  TORCH_CHECK(boxes.defined(), fn, ": ", name, " is undefined");
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, fn, ": ", name,
              " must be [N, 4] (x1, y1, x2, y2), got shape ", boxes.sizes());
  TORCH_CHECK(at::isFloatingType(boxes.scalar_type()), fn, ": ", name,
              " must be a floating tensor, got ", boxes.scalar_type());
}

}  // namespace

at::Tensor BoxArea(const at::Tensor& boxes) {
  CheckBoxes(boxes, "BoxArea", "boxes");
  return (boxes.select(1, 2) - boxes.select(1, 0)) * (boxes.select(1, 3) - boxes.select(1, 1));
}

at::Tensor BoxIoU(const at::Tensor& a, const at::Tensor& b) {
  CheckBoxes(a, "BoxIoU", "a");
  CheckBoxes(b, "BoxIoU", "b");
  TORCH_CHECK(a.scalar_type() == b.scalar_type(), "BoxIoU: a and b must have the same dtype, got ",
              a.scalar_type(), " and ", b.scalar_type());
  TORCH_CHECK(a.device() == b.device(), "BoxIoU: a and b must be on the same device");
  if (!a.device().is_cpu() ||
      (at::GradMode::is_enabled() && (a.requires_grad() || b.requires_grad()))) {
    // Differentiable (and device-agnostic) path, torchvision's formula.
    const at::Tensor area_a = BoxArea(a);
    const at::Tensor area_b = BoxArea(b);
    const at::Tensor lt = at::max(a.unsqueeze(1).slice(2, 0, 2), b.unsqueeze(0).slice(2, 0, 2));
    const at::Tensor rb = at::min(a.unsqueeze(1).slice(2, 2, 4), b.unsqueeze(0).slice(2, 2, 4));
    const at::Tensor wh = (rb - lt).clamp_min(0);
    const at::Tensor inter = wh.select(2, 0) * wh.select(2, 1);
    return inter / (area_a.unsqueeze(1) + area_b.unsqueeze(0) - inter);
  }
  const at::Tensor ac = a.contiguous();
  const at::Tensor bc = b.contiguous();
  const int64_t n = ac.size(0);
  const int64_t m = bc.size(0);
  at::Tensor out = at::empty({n, m}, ac.options());
  AT_DISPATCH_FLOATING_TYPES(ac.scalar_type(), "BoxIoU", [&] {
    const scalar_t* pa = ac.data_ptr<scalar_t>();
    const scalar_t* pb = bc.data_ptr<scalar_t>();
    scalar_t* po = out.data_ptr<scalar_t>();
    std::vector<scalar_t> area_b(m);
    for (int64_t j = 0; j < m; ++j) {
      area_b[j] = math::BoxArea(pb[4 * j], pb[4 * j + 1], pb[4 * j + 2], pb[4 * j + 3]);
    }
    at::parallel_for(0, n, std::max<int64_t>(1, 16384 / std::max<int64_t>(m, 1)),
                     [&](int64_t begin, int64_t end) {
                       for (int64_t i = begin; i < end; ++i) {
                         const scalar_t* bi = pa + 4 * i;
                         const scalar_t area_i = math::BoxArea(bi[0], bi[1], bi[2], bi[3]);
                         scalar_t* row = po + i * m;
                         for (int64_t j = 0; j < m; ++j) {
                           const scalar_t* bj = pb + 4 * j;
                           row[j] = math::BoxIoU(bi[0], bi[1], bi[2], bi[3], area_i, bj[0], bj[1],
                                                 bj[2], bj[3], area_b[j]);
                         }
                       }
                     });
  });
  return out;
}

BoxCoder::BoxCoder(std::array<double, 4> weights, double bbox_xform_clip)
    : weights_(weights), bbox_xform_clip_(bbox_xform_clip) {
  for (double w : weights_) {
    TORCH_CHECK(w > 0 && std::isfinite(w), "BoxCoder: weights must be positive and finite, got ",
                w);
  }
}

at::Tensor BoxCoder::Encode(const at::Tensor& reference_boxes, const at::Tensor& proposals) const {
  CheckBoxes(reference_boxes, "BoxCoder::Encode", "reference_boxes");
  CheckBoxes(proposals, "BoxCoder::Encode", "proposals");
  TORCH_CHECK(
      reference_boxes.size(0) == proposals.size(0),
      "BoxCoder::Encode: reference_boxes and proposals must have the same number of rows, got ",
      reference_boxes.size(0), " and ", proposals.size(0));
  const at::Tensor ref = reference_boxes.to(proposals.scalar_type());
  // torchvision's encode_boxes, column by column.
  const at::Tensor ex_widths = proposals.select(1, 2) - proposals.select(1, 0);
  const at::Tensor ex_heights = proposals.select(1, 3) - proposals.select(1, 1);
  const at::Tensor ex_ctr_x = proposals.select(1, 0) + 0.5 * ex_widths;
  const at::Tensor ex_ctr_y = proposals.select(1, 1) + 0.5 * ex_heights;
  const at::Tensor gt_widths = ref.select(1, 2) - ref.select(1, 0);
  const at::Tensor gt_heights = ref.select(1, 3) - ref.select(1, 1);
  const at::Tensor gt_ctr_x = ref.select(1, 0) + 0.5 * gt_widths;
  const at::Tensor gt_ctr_y = ref.select(1, 1) + 0.5 * gt_heights;
  const at::Tensor dx = weights_[0] * (gt_ctr_x - ex_ctr_x) / ex_widths;
  const at::Tensor dy = weights_[1] * (gt_ctr_y - ex_ctr_y) / ex_heights;
  const at::Tensor dw = weights_[2] * at::log(gt_widths / ex_widths);
  const at::Tensor dh = weights_[3] * at::log(gt_heights / ex_heights);
  return at::stack({dx, dy, dw, dh}, 1);
}

at::Tensor BoxCoder::Decode(const at::Tensor& rel_codes, const at::Tensor& boxes) const {
  CheckBoxes(boxes, "BoxCoder::Decode", "boxes");
  TORCH_CHECK(rel_codes.defined() && rel_codes.dim() == 2 && rel_codes.size(1) % 4 == 0,
              "BoxCoder::Decode: rel_codes must be [N, K*4], got shape ",
              rel_codes.defined() ? rel_codes.sizes() : at::IntArrayRef{});
  TORCH_CHECK(at::isFloatingType(rel_codes.scalar_type()),
              "BoxCoder::Decode: rel_codes must be a floating tensor, got ",
              rel_codes.scalar_type());
  TORCH_CHECK(rel_codes.size(0) == boxes.size(0),
              "BoxCoder::Decode: rel_codes and boxes must have the same number of rows, got ",
              rel_codes.size(0), " and ", boxes.size(0));
  const int64_t n = rel_codes.size(0);
  const int64_t k = rel_codes.size(1) / 4;
  const at::Tensor ref = boxes.to(rel_codes.scalar_type());
  const bool needs_grad =
      at::GradMode::is_enabled() && (rel_codes.requires_grad() || ref.requires_grad());
  if (needs_grad || !rel_codes.device().is_cpu()) {
    // Differentiable path: torchvision's decode_single with tensor ops.
    const at::Tensor codes = rel_codes.view({n, k, 4});
    const at::Tensor widths = (ref.select(1, 2) - ref.select(1, 0)).unsqueeze(1);
    const at::Tensor heights = (ref.select(1, 3) - ref.select(1, 1)).unsqueeze(1);
    const at::Tensor ctr_x = ref.select(1, 0).unsqueeze(1) + 0.5 * widths;
    const at::Tensor ctr_y = ref.select(1, 1).unsqueeze(1) + 0.5 * heights;
    const at::Tensor dx = codes.select(2, 0) / weights_[0];
    const at::Tensor dy = codes.select(2, 1) / weights_[1];
    const at::Tensor dw = (codes.select(2, 2) / weights_[2]).clamp_max(bbox_xform_clip_);
    const at::Tensor dh = (codes.select(2, 3) / weights_[3]).clamp_max(bbox_xform_clip_);
    const at::Tensor pred_ctr_x = dx * widths + ctr_x;
    const at::Tensor pred_ctr_y = dy * heights + ctr_y;
    const at::Tensor half_w = 0.5 * (at::exp(dw) * widths);
    const at::Tensor half_h = 0.5 * (at::exp(dh) * heights);
    return at::stack(
        {pred_ctr_x - half_w, pred_ctr_y - half_h, pred_ctr_x + half_w, pred_ctr_y + half_h}, 2);
  }
  // Inference path: the shared per-box math (box_math.h), one pass over the data.
  const at::Tensor codes = rel_codes.contiguous();
  const at::Tensor refc = ref.contiguous();
  at::Tensor out = at::empty({n, k, 4}, codes.options());
  AT_DISPATCH_FLOATING_TYPES(codes.scalar_type(), "BoxCoder::Decode", [&] {
    const scalar_t* pc = codes.data_ptr<scalar_t>();
    const scalar_t* pr = refc.data_ptr<scalar_t>();
    scalar_t* po = out.data_ptr<scalar_t>();
    const scalar_t wx = static_cast<scalar_t>(weights_[0]);
    const scalar_t wy = static_cast<scalar_t>(weights_[1]);
    const scalar_t ww = static_cast<scalar_t>(weights_[2]);
    const scalar_t wh = static_cast<scalar_t>(weights_[3]);
    const scalar_t clip = static_cast<scalar_t>(bbox_xform_clip_);
    auto exp_fn = [](scalar_t v) { return std::exp(v); };
    at::parallel_for(0, n, 4096, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const scalar_t* r = pr + 4 * i;
        for (int64_t j = 0; j < k; ++j) {
          const scalar_t* c = pc + (i * k + j) * 4;
          const scalar_t dw = math::Min(c[2] / ww, clip);
          const scalar_t dh = math::Min(c[3] / wh, clip);
          math::DecodeBox(c[0] / wx, c[1] / wy, dw, dh, r[0], r[1], r[2], r[3], exp_fn,
                          po + (i * k + j) * 4);
        }
      }
    });
  });
  return out;
}

at::Tensor ClipBoxesToImage(const at::Tensor& boxes, int64_t height, int64_t width) {
  TORCH_CHECK(boxes.defined() && boxes.dim() >= 1 && boxes.size(-1) == 4,
              "ClipBoxesToImage: boxes must be [..., 4], got shape ",
              boxes.defined() ? boxes.sizes() : at::IntArrayRef{});
  TORCH_CHECK(height >= 0 && width >= 0, "ClipBoxesToImage: image size must be non-negative, got ",
              height, "x", width);
  const at::Tensor x = boxes.slice(-1, 0, 4, 2).clamp(0, static_cast<double>(width));
  const at::Tensor y = boxes.slice(-1, 1, 4, 2).clamp(0, static_cast<double>(height));
  // Interleave back to (x1, y1, x2, y2).
  return at::stack({x, y}, -1).reshape(boxes.sizes());
}

at::Tensor RemoveSmallBoxes(const at::Tensor& boxes, double min_size) {
  CheckBoxes(boxes, "RemoveSmallBoxes", "boxes");
  const at::Tensor ws = boxes.select(1, 2) - boxes.select(1, 0);
  const at::Tensor hs = boxes.select(1, 3) - boxes.select(1, 1);
  const at::Tensor keep = at::logical_and(ws >= min_size, hs >= min_size);
  return at::nonzero(keep).view({-1});
}

}  // namespace ops
}  // namespace mrcnn
