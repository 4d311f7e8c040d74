// Per-element math of the detection ops: IoU of two boxes, one box decode, and the bilinear sample
// weights of ROIAlign. The CPU kernels call these, and CUDA kernels compiled by nvcc can call the
// same functions (MRCNN_HOST_DEVICE expands to __host__ __device__ there), so CPU tests check the
// GPU's math.
//
// Boxes are (x1, y1, x2, y2) in pixels without torchvision's legacy "+1": width = x2 - x1. The
// order of the floating-point operations follows torchvision's kernels so that results agree to the
// last bit where torchvision's own arithmetic is deterministic.
#ifndef MRCNN_OPS_BOX_MATH_H_
#define MRCNN_OPS_BOX_MATH_H_

#include <math.h>  // ceil, for host and device

#if defined(__CUDACC__)
#define MRCNN_HOST_DEVICE __host__ __device__
#else
#define MRCNN_HOST_DEVICE
#endif

namespace mrcnn {
namespace ops {
namespace math {

template <typename T>
MRCNN_HOST_DEVICE inline T Max(T a, T b) {
  return a > b ? a : b;
}

template <typename T>
MRCNN_HOST_DEVICE inline T Min(T a, T b) {
  return a < b ? a : b;
}

// Area of a box; negative for inverted boxes, as torchvision computes it (no clamping).
template <typename T>
MRCNN_HOST_DEVICE inline T BoxArea(T x1, T y1, T x2, T y2) {
  return (x2 - x1) * (y2 - y1);
}

// Intersection over union of box a (area area_a) and box b (area area_b). The intersection's sides
// are clamped at 0; the union is (area_a + area_b) - inter, as in torchvision's NMS kernel and
// box_iou. A zero union gives NaN (0/0), which compares false against any threshold, as in
// torchvision.
template <typename T>
MRCNN_HOST_DEVICE inline T BoxIoU(T ax1, T ay1, T ax2, T ay2, T area_a, T bx1, T by1, T bx2, T by2,
                                  T area_b) {
  const T w = Max(Min(ax2, bx2) - Max(ax1, bx1), T(0));
  const T h = Max(Min(ay2, by2) - Max(ay1, by1), T(0));
  const T inter = w * h;
  return inter / (area_a + area_b - inter);
}

// Decodes one set of deltas (dx, dy, dw, dh), already divided by the coder's weights and with dw,
// dh clamped to bbox_xform_clip, relative to the reference box (x1, y1, x2, y2). exp_fn is exp for
// T (std::exp on the host, ::exp / ::expf on the device), passed in so this header needs no
// <cmath>.
template <typename T, typename ExpFn>
MRCNN_HOST_DEVICE inline void DecodeBox(T dx, T dy, T dw, T dh, T x1, T y1, T x2, T y2,
                                        ExpFn exp_fn, T* out) {
  const T width = x2 - x1;
  const T height = y2 - y1;
  const T ctr_x = x1 + T(0.5) * width;
  const T ctr_y = y1 + T(0.5) * height;
  const T pred_ctr_x = dx * width + ctr_x;
  const T pred_ctr_y = dy * height + ctr_y;
  const T half_w = T(0.5) * (exp_fn(dw) * width);
  const T half_h = T(0.5) * (exp_fn(dh) * height);
  out[0] = pred_ctr_x - half_w;
  out[1] = pred_ctr_y - half_h;
  out[2] = pred_ctr_x + half_w;
  out[3] = pred_ctr_y + half_h;
}

// How ROIAlign samples one ROI on its feature map, as torchvision's kernels compute it: the ROI's
// top-left corner and bin size in cells, and the samples per bin along each axis. roi is
// (batch_index, x1, y1, x2, y2) in image pixels; spatial_scale maps pixels to cells. Without
// `aligned`, malformed (inverted or tiny) ROIs are forced to 1x1 cell; with it, an inverted ROI under
// adaptive sampling gets a grid of <= 0 samples, i.e. none.
template <typename T>
struct RoiBins {
  T start_h, start_w;  // top-left corner, cells
  T bin_h, bin_w;      // bin size, cells
  int grid_h, grid_w;  // samples per bin and axis
};

// ceil(cells per bin), saturated at +-2^30 so huge boxes cannot overflow (callers reject them).
template <typename T>
MRCNN_HOST_DEVICE inline int AdaptiveGrid(T cells_per_bin) {
  const T g = ceil(cells_per_bin);
  const T limit = T(1 << 30);
  return g > limit ? (1 << 30) : (g < -limit ? -(1 << 30) : static_cast<int>(g));
}

template <typename T>
MRCNN_HOST_DEVICE inline RoiBins<T> RoiAlignBins(const T* roi, T spatial_scale, int pooled_height,
                                                 int pooled_width, int sampling_ratio,
                                                 bool aligned) {
  RoiBins<T> b;
  const T offset = aligned ? T(0.5) : T(0.0);
  b.start_w = roi[1] * spatial_scale - offset;
  b.start_h = roi[2] * spatial_scale - offset;
  const T end_w = roi[3] * spatial_scale - offset;
  const T end_h = roi[4] * spatial_scale - offset;
  T roi_width = end_w - b.start_w;
  T roi_height = end_h - b.start_h;
  if (!aligned) {
    roi_width = Max(roi_width, T(1.0));
    roi_height = Max(roi_height, T(1.0));
  }
  b.bin_h = roi_height / static_cast<T>(pooled_height);
  b.bin_w = roi_width / static_cast<T>(pooled_width);
  b.grid_h = sampling_ratio > 0 ? sampling_ratio : AdaptiveGrid(roi_height / static_cast<T>(pooled_height));
  b.grid_w = sampling_ratio > 0 ? sampling_ratio : AdaptiveGrid(roi_width / static_cast<T>(pooled_width));
  return b;
}

// ROIAlign's bilinear sampling is separable: a sample at (y, x) is the product of one sample along
// y and one along x. BilinearAxis gives one axis: the two neighbours (low, high) and their weights
// (h for low, l for high). A coordinate more than one cell outside [0, size] gives zero weights
// (and neighbours 0), which zeroes the 2-D sample as torchvision's "outside the feature map" rule
// does.
template <typename T>
struct AxisSample {
  int low, high;
  T l, h;  // weight of `high` (the fractional part) and of `low` (1 - l)
};

template <typename T>
MRCNN_HOST_DEVICE inline AxisSample<T> BilinearAxis(int size, T v) {
  AxisSample<T> s;
  if (v < T(-1.0) || v > T(size)) {
    s.low = s.high = 0;
    s.l = s.h = T(0);
    return s;
  }
  if (v <= T(0)) v = T(0);
  s.low = static_cast<int>(v);
  if (s.low >= size - 1) {
    s.high = s.low = size - 1;
    v = static_cast<T>(s.low);
  } else {
    s.high = s.low + 1;
  }
  s.l = v - static_cast<T>(s.low);
  s.h = T(1) - s.l;
  return s;
}

// One 2-D bilinear sample of ROIAlign at (y, x) on a height x width plane: the four neighbour
// offsets (row * width + column) and their weights, w1 = hy * hx, w2 = hy * lx, w3 = ly * hx, w4 =
// ly * lx, as torchvision's bilinear_interpolate.
template <typename T>
struct BilinearSample {
  int pos1, pos2, pos3, pos4;  // top-left, top-right, bottom-left, bottom-right
  T w1, w2, w3, w4;
};

template <typename T>
MRCNN_HOST_DEVICE inline BilinearSample<T> BilinearWeights(int height, int width, T y, T x) {
  const AxisSample<T> ay = BilinearAxis(height, y);
  const AxisSample<T> ax = BilinearAxis(width, x);
  BilinearSample<T> s;
  s.w1 = ay.h * ax.h;
  s.w2 = ay.h * ax.l;
  s.w3 = ay.l * ax.h;
  s.w4 = ay.l * ax.l;
  s.pos1 = ay.low * width + ax.low;
  s.pos2 = ay.low * width + ax.high;
  s.pos3 = ay.high * width + ax.low;
  s.pos4 = ay.high * width + ax.high;
  return s;
}

}  // namespace math
}  // namespace ops
}  // namespace mrcnn

#endif  // MRCNN_OPS_BOX_MATH_H_
