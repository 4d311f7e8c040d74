// The per-thread work of the CUDA kernels, as host-and-device functions: the FPN level of a box, one
// ROIAlign output bin forward and backward, one 64-bit word of the NMS suppression mask, and one
// proposal's decode, clip and size test. The kernels in this folder call them from device code; the
// CPU test (tests/mrcnn/ops/cuda/kernel_math_test) runs them over whole grids on the host and compares
// with the CPU ops, so the GPU's arithmetic is checked on machines without a GPU.
//
// Built on box_math.h (IoU, box decode, bilinear weights), which the CPU kernels use too.
#ifndef MRCNN_OPS_CUDA_KERNEL_MATH_H_
#define MRCNN_OPS_CUDA_KERNEL_MATH_H_

#include <math.h>
#include <stdint.h>

#include "mrcnn/ops/box_math.h"

namespace mrcnn {
namespace ops {
namespace cuda {

constexpr int kMaxFpnLevels = 5;
constexpr int kNmsWordBits = 64;

// FPN feature maps as raw pointers: level l is [batch, channels, height[l], width[l]] and maps image
// pixels to cells by scale[l] (1 / stride). k_min, k_max: the levels' indices in torchvision's
// LevelMapper (2 and 5 for P2..P5); level l corresponds to k_min + l.
template <typename T>
struct FpnLevels {
  T* data[kMaxFpnLevels];
  int height[kMaxFpnLevels];
  int width[kMaxFpnLevels];
  float scale[kMaxFpnLevels];
  int num_levels;
  int k_min;
  int k_max;
  int batch;
  int channels;
};

// torchvision's LevelMapper for one box, in float32 as torchvision computes it:
// floor(4 + log2(sqrt(area) / 224) + 1e-6), clamped to [k_min, k_max], returned relative to k_min.
MRCNN_HOST_DEVICE inline int MapFpnLevel(float x1, float y1, float x2, float y2, int k_min,
                                         int k_max) {
  const float s = sqrtf((x2 - x1) * (y2 - y1));
  const float level = floorf((4.0f + log2f(s / 224.0f)) + 1e-6f);
  int k = static_cast<int>(level);
  // NaN (inverted boxes) and tiny boxes go to the finest level, huge ones to the coarsest, as
  // torch.clamp does for finite values; a NaN level compares false and lands at k_min.
  if (!(level >= static_cast<float>(k_min))) k = k_min;
  if (level > static_cast<float>(k_max)) k = k_max;
  return k - k_min;
}

// One ROI's sampling (box_math.h's RoiBins) plus its image and its samples per bin (>= 1).
template <typename T>
struct RoiGeometry : math::RoiBins<T> {
  int batch_index;
  T count;
};

// roi: (batch_index, x1, y1, x2, y2) in image pixels; spatial_scale: cells per pixel.
template <typename T>
MRCNN_HOST_DEVICE inline RoiGeometry<T> MakeRoiGeometry(const T* roi, T spatial_scale,
                                                        int pooled_height, int pooled_width,
                                                        int sampling_ratio, bool aligned) {
  RoiGeometry<T> g;
  static_cast<math::RoiBins<T>&>(g) =
      math::RoiAlignBins(roi, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned);
  g.batch_index = static_cast<int>(roi[0]);
  const int count = g.grid_h * g.grid_w;
  g.count = static_cast<T>(count > 1 ? count : 1);
  return g;
}

// The average of the bilinear samples of bin (ph, pw) on one [height, width] plane.
template <typename T>
MRCNN_HOST_DEVICE inline T RoiAlignBinForward(const RoiGeometry<T>& g, const T* plane, int height,
                                              int width, int ph, int pw) {
  T sum = T(0);
  for (int iy = 0; iy < g.grid_h; ++iy) {
    const T y = g.start_h + static_cast<T>(ph) * g.bin_h +
                (static_cast<T>(iy) + T(0.5)) * g.bin_h / static_cast<T>(g.grid_h);
    for (int ix = 0; ix < g.grid_w; ++ix) {
      const T x = g.start_w + static_cast<T>(pw) * g.bin_w +
                  (static_cast<T>(ix) + T(0.5)) * g.bin_w / static_cast<T>(g.grid_w);
      const math::BilinearSample<T> s = math::BilinearWeights(height, width, y, x);
      sum += s.w1 * plane[s.pos1] + s.w2 * plane[s.pos2] + s.w3 * plane[s.pos3] +
             s.w4 * plane[s.pos4];
    }
  }
  return sum / g.count;
}

// Spreads the gradient of bin (ph, pw) over its samples' neighbours: add(plane + offset, value) is
// atomicAdd in the fast kernel and a plain += where one thread owns the plane.
template <typename T, typename AddFn>
MRCNN_HOST_DEVICE inline void RoiAlignBinBackward(const RoiGeometry<T>& g, T grad, T* plane,
                                                  int height, int width, int ph, int pw, AddFn add) {
  for (int iy = 0; iy < g.grid_h; ++iy) {
    const T y = g.start_h + static_cast<T>(ph) * g.bin_h +
                (static_cast<T>(iy) + T(0.5)) * g.bin_h / static_cast<T>(g.grid_h);
    for (int ix = 0; ix < g.grid_w; ++ix) {
      const T x = g.start_w + static_cast<T>(pw) * g.bin_w +
                  (static_cast<T>(ix) + T(0.5)) * g.bin_w / static_cast<T>(g.grid_w);
      if (y < T(-1.0) || y > T(height) || x < T(-1.0) || x > T(width)) continue;
      const math::BilinearSample<T> s = math::BilinearWeights(height, width, y, x);
      add(plane + s.pos1, grad * s.w1 / g.count);
      add(plane + s.pos2, grad * s.w2 / g.count);
      add(plane + s.pos3, grad * s.w3 / g.count);
      add(plane + s.pos4, grad * s.w4 / g.count);
    }
  }
}

// Where output element `index` of the fused multi-level ROIAlign ([K, C, ph, pw], row-major) reads
// from: its bin, the ROI's FPN level and geometry, and the offset of its feature plane in that level.
template <typename T>
struct FusedBin {
  int ph, pw, level;
  RoiGeometry<T> geometry;
  int64_t plane_offset;
};

template <typename T>
MRCNN_HOST_DEVICE inline int RoiLevel(const FpnLevels<T>& levels, const T* roi) {
  return MapFpnLevel(static_cast<float>(roi[1]), static_cast<float>(roi[2]),
                     static_cast<float>(roi[3]), static_cast<float>(roi[4]), levels.k_min,
                     levels.k_max);
}

// rois [K, 5] (batch_index, x1, y1, x2, y2) in image pixels.
template <typename T>
MRCNN_HOST_DEVICE inline FusedBin<T> LocateFusedBin(const FpnLevels<T>& levels, const T* rois,
                                                    int64_t index, int pooled_height,
                                                    int pooled_width, int sampling_ratio,
                                                    bool aligned) {
  FusedBin<T> bin;
  bin.pw = static_cast<int>(index % pooled_width);
  bin.ph = static_cast<int>((index / pooled_width) % pooled_height);
  const int c = static_cast<int>((index / pooled_width / pooled_height) % levels.channels);
  const int64_t k = index / pooled_width / pooled_height / levels.channels;
  const T* roi = rois + k * 5;
  bin.level = RoiLevel(levels, roi);
  bin.geometry = MakeRoiGeometry(roi, static_cast<T>(levels.scale[bin.level]), pooled_height,
                                 pooled_width, sampling_ratio, aligned);
  const int64_t plane_size =
      static_cast<int64_t>(levels.height[bin.level]) * levels.width[bin.level];
  bin.plane_offset =
      (static_cast<int64_t>(bin.geometry.batch_index) * levels.channels + c) * plane_size;
  return bin;
}

// Output element `index` of the fused multi-level ROIAlign: pools from the ROI's level.
template <typename T>
MRCNN_HOST_DEVICE inline T FusedRoiAlignForwardElement(const FpnLevels<T>& levels, const T* rois,
                                                       int64_t index, int pooled_height,
                                                       int pooled_width, int sampling_ratio,
                                                       bool aligned) {
  const FusedBin<T> b =
      LocateFusedBin(levels, rois, index, pooled_height, pooled_width, sampling_ratio, aligned);
  return RoiAlignBinForward(b.geometry, levels.data[b.level] + b.plane_offset,
                            levels.height[b.level], levels.width[b.level], b.ph, b.pw);
}

// Gradient element `index` of grad_output [K, C, ph, pw]: adds its share into the gradient planes of
// the ROI's level (levels.data are the gradient maps here).
template <typename T, typename AddFn>
MRCNN_HOST_DEVICE inline void FusedRoiAlignBackwardElement(const FpnLevels<T>& grads, const T* rois,
                                                           const T* grad_output, int64_t index,
                                                           int pooled_height, int pooled_width,
                                                           int sampling_ratio, bool aligned,
                                                           AddFn add) {
  const FusedBin<T> b =
      LocateFusedBin(grads, rois, index, pooled_height, pooled_width, sampling_ratio, aligned);
  RoiAlignBinBackward(b.geometry, grad_output[index], grads.data[b.level] + b.plane_offset,
                      grads.height[b.level], grads.width[b.level], b.ph, b.pw, add);
}

// The deterministic backward's unit of work: the whole gradient plane (level l, image b, channel c),
// summing the ROIs of that image and level in ROI order. One thread owns the plane, so the sum's
// order is fixed and no atomics are needed.
template <typename T>
MRCNN_HOST_DEVICE inline void FusedRoiAlignBackwardPlane(const FpnLevels<T>& grads, const T* rois,
                                                         int64_t num_rois, const T* grad_output,
                                                         int l, int b, int c, int pooled_height,
                                                         int pooled_width, int sampling_ratio,
                                                         bool aligned) {
  const int64_t plane_size = static_cast<int64_t>(grads.height[l]) * grads.width[l];
  T* plane = grads.data[l] + (static_cast<int64_t>(b) * grads.channels + c) * plane_size;
  const auto add = [](T* p, T v) { *p += v; };
  for (int64_t k = 0; k < num_rois; ++k) {
    const T* roi = rois + k * 5;
    if (static_cast<int>(roi[0]) != b) continue;
    if (RoiLevel(grads, roi) != l) continue;
    const RoiGeometry<T> g = MakeRoiGeometry(roi, static_cast<T>(grads.scale[l]), pooled_height,
                                             pooled_width, sampling_ratio, aligned);
    const T* grad = grad_output + (k * grads.channels + c) * pooled_height * pooled_width;
    for (int ph = 0; ph < pooled_height; ++ph) {
      for (int pw = 0; pw < pooled_width; ++pw) {
        RoiAlignBinBackward(g, grad[ph * pooled_width + pw], plane, grads.height[l],
                            grads.width[l], ph, pw, add);
      }
    }
  }
}

// Bit j of the result is set when box `row` suppresses box col_start + j: the latter comes later in
// score order, belongs to the same class (when classes are given) and overlaps with IoU > threshold.
// boxes [n, 4] sorted by decreasing score; classes [n] or nullptr.
template <typename T>
MRCNN_HOST_DEVICE inline uint64_t NmsMaskWord(const T* boxes, const int* classes, int n, int row,
                                              int col_start, T threshold) {
  const T* a = boxes + static_cast<int64_t>(row) * 4;
  const T area_a = math::BoxArea(a[0], a[1], a[2], a[3]);
  uint64_t word = 0;
  const int begin = row + 1 > col_start ? row + 1 : col_start;
  const int end = col_start + kNmsWordBits < n ? col_start + kNmsWordBits : n;
  for (int j = begin; j < end; ++j) {
    if (classes != nullptr && classes[j] != classes[row]) continue;
    const T* b = boxes + static_cast<int64_t>(j) * 4;
    const T iou = math::BoxIoU(a[0], a[1], a[2], a[3], area_a, b[0], b[1], b[2], b[3],
                               math::BoxArea(b[0], b[1], b[2], b[3]));
    if (iou > threshold) word |= uint64_t(1) << (j - col_start);
  }
  return word;
}

// One proposal of the fused proposal step: decodes the anchor's deltas (divided by the coder's
// weights, dw and dh clamped at bbox_xform_clip, as torchvision's BoxCoder), clips the box to the
// image and tells whether it survives the size and score tests. Returns the validity.
template <typename T>
MRCNN_HOST_DEVICE inline bool DecodeProposal(const T* deltas, const T* anchor, T logit,
                                             const T* weights, T bbox_xform_clip, int image_height,
                                             int image_width, T min_size, T score_threshold,
                                             T* box, T* probability) {
  const T dx = deltas[0] / weights[0];
  const T dy = deltas[1] / weights[1];
  const T dw = math::Min(deltas[2] / weights[2], bbox_xform_clip);
  const T dh = math::Min(deltas[3] / weights[3], bbox_xform_clip);
  math::DecodeBox(dx, dy, dw, dh, anchor[0], anchor[1], anchor[2], anchor[3],
                  [](T v) { return static_cast<T>(exp(v)); }, box);
  box[0] = math::Min(math::Max(box[0], T(0)), static_cast<T>(image_width));
  box[1] = math::Min(math::Max(box[1], T(0)), static_cast<T>(image_height));
  box[2] = math::Min(math::Max(box[2], T(0)), static_cast<T>(image_width));
  box[3] = math::Min(math::Max(box[3], T(0)), static_cast<T>(image_height));
  *probability = T(1) / (T(1) + static_cast<T>(exp(-logit)));
  return (box[2] - box[0]) >= min_size && (box[3] - box[1]) >= min_size &&
         *probability >= score_threshold;
}

}  // namespace cuda
}  // namespace ops
}  // namespace mrcnn

#endif  // MRCNN_OPS_CUDA_KERNEL_MATH_H_
