#include "mrcnn/ops/roi_align.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "mrcnn/ops/box_math.h"
#include "mrcnn/ops/device_kernels.h"

namespace mrcnn {
namespace ops {
namespace {

// Upper bound on the bilinear samples of one ROI (adaptive sampling of a huge box would otherwise
// try to allocate and loop over billions).
constexpr int64_t kMaxSamplesPerRoi = int64_t{1} << 26;

// Geometry of one ROI on its feature map, as torchvision's kernels compute it.
template <typename T>
struct RoiGeometry {
  int64_t batch = 0;
  int64_t level = 0;  // feature level; -1: pooled from no level (all zeros)
  T start_h = 0, start_w = 0, bin_h = 0, bin_w = 0;
  int64_t grid_h = 0, grid_w = 0;
  int64_t samples = 0;  // pooled_h * pooled_w * grid_h * grid_w
};

template <typename T>
RoiGeometry<T> ComputeGeometry(const T* roi, T spatial_scale, int64_t pooled_h, int64_t pooled_w,
                               int64_t sampling_ratio, bool aligned) {
  RoiGeometry<T> g;
  g.batch = static_cast<int64_t>(roi[0]);
  const math::RoiBins<T> b =
      math::RoiAlignBins(roi, spatial_scale, static_cast<int>(pooled_h), static_cast<int>(pooled_w),
                         static_cast<int>(sampling_ratio), aligned);
  g.start_h = b.start_h;
  g.start_w = b.start_w;
  g.bin_h = b.bin_h;
  g.bin_w = b.bin_w;
  g.grid_h = b.grid_h;
  g.grid_w = b.grid_w;
  // aligned ROIs may be inverted: ceil of a negative size gives no samples, as in torchvision.
  g.grid_h = std::max<int64_t>(g.grid_h, 0);
  g.grid_w = std::max<int64_t>(g.grid_w, 0);
  return g;
}

// The separable bilinear samples of one ROI: along y, pooled_h * grid_h samples (bin-major, then
// iy); along x, pooled_w * grid_w. The 2-D sample (ph, pw, iy, ix) is the product of ys[ph * grid_h
// + iy] and xs[pw * grid_w + ix], with the coordinates torchvision's pre_calc computes.
template <typename T>
void ComputeAxisSamples(const RoiGeometry<T>& g, int64_t pooled_h, int64_t pooled_w, int height,
                        int width, math::AxisSample<T>* ys, math::AxisSample<T>* xs) {
  for (int64_t ph = 0; ph < pooled_h; ++ph) {
    for (int64_t iy = 0; iy < g.grid_h; ++iy) {
      const T yy = g.start_h + static_cast<T>(ph) * g.bin_h +
                   static_cast<T>(iy + .5f) * g.bin_h / static_cast<T>(g.grid_h);
      *ys++ = math::BilinearAxis<T>(height, yy);
    }
  }
  for (int64_t pw = 0; pw < pooled_w; ++pw) {
    for (int64_t ix = 0; ix < g.grid_w; ++ix) {
      const T xx = g.start_w + static_cast<T>(pw) * g.bin_w +
                   static_cast<T>(ix + .5f) * g.bin_w / static_cast<T>(g.grid_w);
      *xs++ = math::BilinearAxis<T>(width, xx);
    }
  }
}

void CheckRoiArgs(const char* fn, const at::Tensor& rois, int64_t pooled_h, int64_t pooled_w,
                  double spatial_scale) {
  TORCH_CHECK(rois.defined() && rois.dim() == 2 && rois.size(1) == 5, fn,
              ": rois must be [K, 5] (batch_index, x1, y1, x2, y2), got shape ",
              rois.defined() ? rois.sizes() : at::IntArrayRef{});
  TORCH_CHECK(at::isFloatingType(rois.scalar_type()), fn, ": rois must be floating, got ",
              rois.scalar_type());
  TORCH_CHECK(pooled_h > 0 && pooled_w > 0, fn, ": output size must be positive, got ", pooled_h,
              "x", pooled_w);
  TORCH_CHECK(spatial_scale > 0 && std::isfinite(spatial_scale), fn,
              ": spatial_scale must be positive and finite, got ", spatial_scale);
}

// The feature levels as the kernels see them: [N, C, H_l, W_l] planes.
struct LevelShapes {
  int64_t batch = 0;
  int64_t channels = 0;
  std::vector<int> height, width;
};

// Geometry of every ROI, with the checks that need the values: batch index in range, finite
// coordinates, a bounded number of samples. levels[r] picks the ROI's feature level (nullptr: level
// 0 for all); a level outside [0, scales.size()) pools nothing, as torchvision's MultiScaleRoIAlign
// leaves ROIs that no level claims at zero.
template <typename T>
std::vector<RoiGeometry<T>> AllGeometry(const char* fn, const T* rois, int64_t k,
                                        const LevelShapes& shapes, const int64_t* levels,
                                        const std::vector<double>& scales, int64_t pooled_h,
                                        int64_t pooled_w, int64_t sampling_ratio, bool aligned) {
  std::vector<RoiGeometry<T>> geo(k);
  const int64_t num_levels = static_cast<int64_t>(scales.size());
  for (int64_t r = 0; r < k; ++r) {
    const T* roi = rois + 5 * r;
    for (int i = 0; i < 5; ++i) {
      TORCH_CHECK(std::isfinite(static_cast<double>(roi[i])), fn, ": roi ", r,
                  " has a non-finite value in column ", i);
    }
    TORCH_CHECK(roi[0] >= 0 && static_cast<int64_t>(roi[0]) < shapes.batch, fn, ": roi ", r,
                " has batch index ", static_cast<double>(roi[0]), ", outside [0, ", shapes.batch,
                ")");
    const int64_t level = levels ? levels[r] : 0;
    // An empty feature map has nothing to sample: such ROIs pool zeros.
    if (level < 0 || level >= num_levels || shapes.height[level] == 0 || shapes.width[level] == 0) {
      geo[r].batch = static_cast<int64_t>(roi[0]);
      geo[r].level = -1;
      continue;
    }
    RoiGeometry<T> g = ComputeGeometry(roi, static_cast<T>(scales[level]), pooled_h, pooled_w,
                                       sampling_ratio, aligned);
    g.level = level;
    const double samples = static_cast<double>(pooled_h) * pooled_w * g.grid_h * g.grid_w;
    TORCH_CHECK(samples <= static_cast<double>(kMaxSamplesPerRoi), fn, ": roi ", r, " would take ",
                samples,
                " bilinear samples (adaptive sampling of a huge box); use sampling_ratio > 0");
    g.samples = static_cast<int64_t>(samples);
    geo[r] = g;
  }
  return geo;
}

// Runs fn(i) for i in [0, n) on the intra-op threads, handing out indices one at a time from a
// shared counter: on a busy machine a descheduled thread does not hold back the others as a static
// split would. Each fn(i) must write only its own outputs (the callers give each index whole
// channels).
template <typename Fn>
void ParallelForDynamic(int64_t n, const Fn& fn) {
  const int64_t threads = std::min<int64_t>(at::get_num_threads(), n);
  if (threads <= 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<int64_t> next{0};
  at::parallel_for(0, threads, 1, [&](int64_t, int64_t) {
    for (int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
  });
}

// Channels are processed in groups of this many: the samples' weights and offsets are loaded once
// for the group, and the group's independent sums keep the floating-point units busy.
constexpr int64_t kChannelGroup = 4;

// The axis samples of every ROI, computed once and reused for every channel.
template <typename T>
struct RoiSamples {
  std::vector<math::AxisSample<T>> ys, xs;
  std::vector<int64_t> y_offset, x_offset;  // first sample of each ROI in ys / xs
};

template <typename T>
RoiSamples<T> AllSamples(const std::vector<RoiGeometry<T>>& geo, const LevelShapes& shapes,
                         int64_t pooled_h, int64_t pooled_w) {
  const int64_t k = static_cast<int64_t>(geo.size());
  RoiSamples<T> s;
  s.y_offset.assign(k + 1, 0);
  s.x_offset.assign(k + 1, 0);
  for (int64_t r = 0; r < k; ++r) {
    s.y_offset[r + 1] = s.y_offset[r] + pooled_h * geo[r].grid_h;
    s.x_offset[r + 1] = s.x_offset[r] + pooled_w * geo[r].grid_w;
  }
  s.ys.resize(s.y_offset[k]);
  s.xs.resize(s.x_offset[k]);
  for (int64_t r = 0; r < k; ++r) {
    if (geo[r].level < 0) continue;
    ComputeAxisSamples(geo[r], pooled_h, pooled_w, shapes.height[geo[r].level],
                       shapes.width[geo[r].level], s.ys.data() + s.y_offset[r],
                       s.xs.data() + s.x_offset[r]);
  }
  return s;
}

// output [K, C, ph, pw]: every element is written (ROIs of no level get zeros).
template <typename T>
void ForwardKernel(const std::vector<const T*>& inputs, const LevelShapes& shapes,
                   const std::vector<RoiGeometry<T>>& geo, int64_t pooled_h, int64_t pooled_w,
                   T* out) {
  const int64_t k = static_cast<int64_t>(geo.size());
  const int64_t channels = shapes.channels;
  const int64_t bins = pooled_h * pooled_w;
  const RoiSamples<T> smp = AllSamples(geo, shapes, pooled_h, pooled_w);
  // One ROI on channels [c0, c0 + n), n <= kChannelGroup: each bin is the mean of its samples, each
  // sample summed in torchvision's order (w1 * v1 + w2 * v2 + w3 * v3 + w4 * v4).
  auto pool = [&](int64_t r, int64_t c0, int64_t n) {
    const RoiGeometry<T>& g = geo[r];
    T* o[kChannelGroup];
    for (int64_t j = 0; j < n; ++j) o[j] = out + (r * channels + c0 + j) * bins;
    if (g.level < 0) {
      for (int64_t j = 0; j < n; ++j) std::fill(o[j], o[j] + bins, T(0));
      return;
    }
    const int64_t width = shapes.width[g.level];
    const int64_t plane = static_cast<int64_t>(shapes.height[g.level]) * width;
    const T* data[kChannelGroup];
    for (int64_t j = 0; j < n; ++j)
      data[j] = inputs[g.level] + (g.batch * channels + c0 + j) * plane;
    const math::AxisSample<T>* ys = smp.ys.data() + smp.y_offset[r];
    const math::AxisSample<T>* xs = smp.xs.data() + smp.x_offset[r];
    const int64_t gh = g.grid_h;
    const int64_t gw = g.grid_w;
    const T count = static_cast<T>(std::max<int64_t>(gh * gw, 1));
    for (int64_t ph = 0; ph < pooled_h; ++ph) {
      for (int64_t pw = 0; pw < pooled_w; ++pw) {
        T val[kChannelGroup] = {};
        for (int64_t iy = 0; iy < gh; ++iy) {
          const math::AxisSample<T>& y = ys[ph * gh + iy];
          const int64_t lo = static_cast<int64_t>(y.low) * width;
          const int64_t hi = static_cast<int64_t>(y.high) * width;
          for (int64_t ix = 0; ix < gw; ++ix) {
            const math::AxisSample<T>& x = xs[pw * gw + ix];
            const T w1 = y.h * x.h, w2 = y.h * x.l, w3 = y.l * x.h, w4 = y.l * x.l;
            const int64_t p1 = lo + x.low, p2 = lo + x.high, p3 = hi + x.low, p4 = hi + x.high;
            if (n == kChannelGroup) {
              for (int64_t j = 0; j < kChannelGroup; ++j) {
                val[j] += w1 * data[j][p1] + w2 * data[j][p2] + w3 * data[j][p3] + w4 * data[j][p4];
              }
            } else {
              for (int64_t j = 0; j < n; ++j) {
                val[j] += w1 * data[j][p1] + w2 * data[j][p2] + w3 * data[j][p3] + w4 * data[j][p4];
              }
            }
          }
        }
        for (int64_t j = 0; j < n; ++j) o[j][ph * pooled_w + pw] = val[j] / count;
      }
    }
  };
  const int64_t groups = (channels + kChannelGroup - 1) / kChannelGroup;
  if (groups >= 2 * at::get_num_threads()) {
    // Channel-major: a task keeps its channel planes in cache while visiting every ROI.
    ParallelForDynamic(groups, [&](int64_t group) {
      const int64_t c0 = group * kChannelGroup;
      const int64_t n = std::min(kChannelGroup, channels - c0);
      for (int64_t r = 0; r < k; ++r) pool(r, c0, n);
    });
  } else {
    ParallelForDynamic(k, [&](int64_t r) {
      for (int64_t c0 = 0; c0 < channels; c0 += kChannelGroup) {
        pool(r, c0, std::min(kChannelGroup, channels - c0));
      }
    });
  }
}

// grads[l]: [N, C, H_l, W_l], uninitialised; every plane is zeroed and accumulated by the one task
// that owns its channel group, so the scattered additions never race and every plane receives its
// additions in the same order whatever the thread count.
template <typename T>
void BackwardKernel(const T* grad_output, const LevelShapes& shapes,
                    const std::vector<RoiGeometry<T>>& geo, int64_t pooled_h, int64_t pooled_w,
                    const std::vector<T*>& grads) {
  const int64_t k = static_cast<int64_t>(geo.size());
  const int64_t channels = shapes.channels;
  const int64_t bins = pooled_h * pooled_w;
  const RoiSamples<T> smp = AllSamples(geo, shapes, pooled_h, pooled_w);
  const int64_t groups = (channels + kChannelGroup - 1) / kChannelGroup;
  ParallelForDynamic(groups, [&](int64_t group) {
    const int64_t c0 = group * kChannelGroup;
    const int64_t n = std::min(kChannelGroup, channels - c0);
    for (size_t l = 0; l < grads.size(); ++l) {
      const int64_t plane = static_cast<int64_t>(shapes.height[l]) * shapes.width[l];
      for (int64_t b = 0; b < shapes.batch; ++b) {
        T* first = grads[l] + (b * channels + c0) * plane;
        std::fill(first, first + n * plane, T(0));
      }
    }
    for (int64_t r = 0; r < k; ++r) {
      const RoiGeometry<T>& g = geo[r];
      const int64_t gh = g.grid_h;
      const int64_t gw = g.grid_w;
      if (g.level < 0 || gh * gw == 0) continue;
      const int64_t width = shapes.width[g.level];
      const int64_t plane = static_cast<int64_t>(shapes.height[g.level]) * width;
      const T count = static_cast<T>(gh * gw);
      T* data[kChannelGroup];
      const T* gob[kChannelGroup];
      for (int64_t j = 0; j < n; ++j) {
        data[j] = grads[g.level] + (g.batch * channels + c0 + j) * plane;
        gob[j] = grad_output + (r * channels + c0 + j) * bins;
      }
      const math::AxisSample<T>* ys = smp.ys.data() + smp.y_offset[r];
      const math::AxisSample<T>* xs = smp.xs.data() + smp.x_offset[r];
      for (int64_t ph = 0; ph < pooled_h; ++ph) {
        for (int64_t pw = 0; pw < pooled_w; ++pw) {
          T grad[kChannelGroup] = {};
          for (int64_t j = 0; j < n; ++j) grad[j] = gob[j][ph * pooled_w + pw] / count;
          for (int64_t iy = 0; iy < gh; ++iy) {
            const math::AxisSample<T>& y = ys[ph * gh + iy];
            const int64_t lo = static_cast<int64_t>(y.low) * width;
            const int64_t hi = static_cast<int64_t>(y.high) * width;
            for (int64_t ix = 0; ix < gw; ++ix) {
              const math::AxisSample<T>& x = xs[pw * gw + ix];
              const T w1 = y.h * x.h, w2 = y.h * x.l, w3 = y.l * x.h, w4 = y.l * x.l;
              const int64_t p1 = lo + x.low, p2 = lo + x.high, p3 = hi + x.low, p4 = hi + x.high;
              for (int64_t j = 0; j < n; ++j) {
                T* d = data[j];
                d[p1] += grad[j] * w1;
                d[p2] += grad[j] * w2;
                d[p3] += grad[j] * w3;
                d[p4] += grad[j] * w4;
              }
            }
          }
        }
      }
    }
  });
}

void CheckFeatures(const char* fn, at::TensorList features) {
  TORCH_CHECK(!features.empty(), fn, ": no feature levels");
  const at::Tensor& f0 = features[0];
  for (size_t l = 0; l < features.size(); ++l) {
    const at::Tensor& f = features[l];
    TORCH_CHECK(f.defined() && f.dim() == 4, fn, ": input (level ", l,
                ") must be [N, C, H, W], got shape ", f.defined() ? f.sizes() : at::IntArrayRef{});
    TORCH_CHECK(f.scalar_type() == at::kFloat || f.scalar_type() == at::kDouble, fn,
                ": input (level ", l, ") must be float or double, got ", f.scalar_type());
    TORCH_CHECK(f.device() == f0.device(), fn, ": level ", l, " is on ", f.device(),
                ", level 0 on ", f0.device());
    TORCH_CHECK(f.device().is_cpu() || f.device().is_cuda(), fn,
                ": CPU or CUDA tensors only, got ", f.device());
    TORCH_CHECK(
        f.size(0) == f0.size(0) && f.size(1) == f0.size(1) && f.scalar_type() == f0.scalar_type(),
        fn, ": level ", l, " must be [", f0.size(0), ", ", f0.size(1), ", H, W] of dtype ",
        f0.scalar_type(), " like level 0, got ", f.sizes(), " ", f.scalar_type());
    TORCH_CHECK(f.size(2) < (int64_t{1} << 31) / std::max<int64_t>(f.size(3), 1), fn,
                ": feature map ", f.size(2), "x", f.size(3), " is too large");
  }
}

LevelShapes ShapesOf(at::TensorList features) {
  LevelShapes s;
  s.batch = features[0].size(0);
  s.channels = features[0].size(1);
  for (const at::Tensor& f : features) {
    s.height.push_back(static_cast<int>(f.size(2)));
    s.width.push_back(static_cast<int>(f.size(3)));
  }
  return s;
}

// The CUDA kernels' arguments (device_kernels.h).
RoiAlignArgs CudaArgs(const std::vector<double>& scales, int64_t k_min, int64_t k_max, int64_t pooled_h,
                      int64_t pooled_w, int64_t sampling_ratio, bool aligned) {
  RoiAlignArgs args;
  args.scales = scales;
  args.k_min = k_min;
  args.k_max = k_max;
  args.pooled_height = pooled_h;
  args.pooled_width = pooled_w;
  args.sampling_ratio = sampling_ratio;
  args.aligned = aligned;
  return args;
}

// Multi-level forward: features [N, C, H_l, W_l] per level, rois [K, 5], levels int64 [K]
// (undefined: all level 0), scales per level -> [K, C, ph, pw].
at::Tensor MultiLevelForward(const char* fn, at::TensorList features, const at::Tensor& rois,
                             const at::Tensor& levels, const std::vector<double>& scales,
                             int64_t k_min, int64_t k_max, int64_t pooled_h, int64_t pooled_w,
                             int64_t sampling_ratio, bool aligned) {
  CheckFeatures(fn, features);
  if (features[0].is_cuda()) {
    for (double scale : scales) CheckRoiArgs(fn, rois, pooled_h, pooled_w, scale);
    TORCH_CHECK(scales.size() == features.size(), fn, ": ", scales.size(), " scales for ",
                features.size(), " levels");
    TORCH_CHECK(features[0].scalar_type() == at::kFloat && rois.scalar_type() == at::kFloat, fn,
                ": the CUDA kernel takes float32 features and rois, got ",
                features[0].scalar_type(), " and ", rois.scalar_type());
    TORCH_CHECK(rois.device() == features[0].device(), fn, ": rois must be on the features' device ",
                features[0].device(), ", got ", rois.device());
    const RoiAlignArgs args =
        CudaArgs(scales, k_min, k_max, pooled_h, pooled_w, sampling_ratio, aligned);
    // The kernel maps each ROI to its level itself (the same LevelMapper formula in float32).
    return CudaKernels(fn).roi_align_forward(features, rois, args);
  }
  for (double scale : scales) CheckRoiArgs(fn, rois, pooled_h, pooled_w, scale);
  TORCH_CHECK(scales.size() == features.size(), fn, ": ", scales.size(), " scales for ",
              features.size(), " levels");
  TORCH_CHECK(rois.scalar_type() == features[0].scalar_type(), fn,
              ": rois must have the input's dtype ", features[0].scalar_type(), ", got ",
              rois.scalar_type());
  TORCH_CHECK(rois.device().is_cpu(), fn, ": rois must be on the features' device (cpu), got ",
              rois.device());
  const LevelShapes shapes = ShapesOf(features);
  at::Tensor output =
      at::empty({rois.size(0), shapes.channels, pooled_h, pooled_w}, features[0].options());
  const at::Tensor r = rois.contiguous();
  const at::Tensor lv = levels.defined() ? levels.to(at::kLong).contiguous() : at::Tensor();
  std::vector<at::Tensor> inputs;
  for (const at::Tensor& f : features) inputs.push_back(f.contiguous());
  AT_DISPATCH_FLOATING_TYPES(r.scalar_type(), "RoiAlign", [&] {
    const std::vector<RoiGeometry<scalar_t>> geo =
        AllGeometry(fn, r.data_ptr<scalar_t>(), r.size(0), shapes,
                    lv.defined() ? lv.data_ptr<int64_t>() : nullptr, scales, pooled_h, pooled_w,
                    sampling_ratio, aligned);
    if (output.numel() == 0) return;
    std::vector<const scalar_t*> ptrs;
    for (const at::Tensor& f : inputs) ptrs.push_back(f.data_ptr<scalar_t>());
    ForwardKernel<scalar_t>(ptrs, shapes, geo, pooled_h, pooled_w, output.data_ptr<scalar_t>());
  });
  return output;
}

// Multi-level backward: grad_output [K, C, ph, pw] -> one gradient per level, shaped like the
// level.
std::vector<at::Tensor> MultiLevelBackward(const char* fn, const at::Tensor& grad_output,
                                           const at::Tensor& rois, const at::Tensor& levels,
                                           const std::vector<double>& scales, int64_t k_min,
                                           int64_t k_max, const LevelShapes& shapes,
                                           int64_t sampling_ratio, bool aligned) {
  TORCH_CHECK(grad_output.defined() && grad_output.dim() == 4, fn,
              ": grad_output must be [K, C, ph, pw], got shape ",
              grad_output.defined() ? grad_output.sizes() : at::IntArrayRef{});
  const int64_t pooled_h = grad_output.size(2);
  const int64_t pooled_w = grad_output.size(3);
  for (double scale : scales) CheckRoiArgs(fn, rois, pooled_h, pooled_w, scale);
  TORCH_CHECK(shapes.batch >= 0 && shapes.channels >= 0, fn, ": input shape must be non-negative");
  for (size_t l = 0; l < shapes.height.size(); ++l) {
    TORCH_CHECK(shapes.height[l] >= 0 && shapes.width[l] >= 0, fn,
                ": input shape must be non-negative, got ", shapes.height[l], "x", shapes.width[l]);
  }
  TORCH_CHECK(grad_output.size(0) == rois.size(0) && grad_output.size(1) == shapes.channels, fn,
              ": grad_output shape ", grad_output.sizes(), " does not match ", rois.size(0),
              " rois and ", shapes.channels, " channels");
  TORCH_CHECK(grad_output.scalar_type() == rois.scalar_type(), fn,
              ": grad_output and rois must have the same dtype");
  TORCH_CHECK(grad_output.device() == rois.device(), fn,
              ": grad_output and rois must be on the same device, got ", grad_output.device(),
              " and ", rois.device());
  if (grad_output.is_cuda()) {
    TORCH_CHECK(grad_output.scalar_type() == at::kFloat, fn,
                ": the CUDA kernel takes float32, got ", grad_output.scalar_type());
    std::vector<int64_t> heights(shapes.height.begin(), shapes.height.end());
    std::vector<int64_t> widths(shapes.width.begin(), shapes.width.end());
    const RoiAlignArgs args =
        CudaArgs(scales, k_min, k_max, pooled_h, pooled_w, sampling_ratio, aligned);
    // Atomics unless the user asked torch for deterministic algorithms.
    return CudaKernels(fn).roi_align_backward(grad_output, rois, args, shapes.batch,
                                              shapes.channels, heights, widths,
                                              at::globalContext().deterministicAlgorithms());
  }
  TORCH_CHECK(rois.device().is_cpu(), fn, ": CPU or CUDA tensors only, got ", rois.device());
  std::vector<at::Tensor> grads;
  for (size_t l = 0; l < shapes.height.size(); ++l) {
    grads.push_back(at::empty({shapes.batch, shapes.channels, shapes.height[l], shapes.width[l]},
                              grad_output.options()));
  }
  const at::Tensor go = grad_output.contiguous();
  const at::Tensor r = rois.contiguous();
  const at::Tensor lv = levels.defined() ? levels.to(at::kLong).contiguous() : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(go.scalar_type(), "RoiAlignBackward", [&] {
    const std::vector<RoiGeometry<scalar_t>> geo =
        AllGeometry(fn, r.data_ptr<scalar_t>(), r.size(0), shapes,
                    lv.defined() ? lv.data_ptr<int64_t>() : nullptr, scales, pooled_h, pooled_w,
                    sampling_ratio, aligned);
    std::vector<scalar_t*> ptrs;
    for (at::Tensor& g : grads) ptrs.push_back(g.data_ptr<scalar_t>());
    BackwardKernel<scalar_t>(go.data_ptr<scalar_t>(), shapes, geo, pooled_h, pooled_w, ptrs);
  });
  return grads;
}

// The autograd node: gradients for every feature level, none for the boxes or settings.
class RoiAlignFunction : public torch::autograd::Function<RoiAlignFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, at::TensorList features,
                            const at::Tensor& rois, const at::Tensor& levels,
                            std::vector<double> scales, int64_t k_min, int64_t k_max,
                            int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio,
                            bool aligned) {
    std::vector<int64_t> shapes;
    for (const at::Tensor& f : features)
      shapes.insert(shapes.end(), f.sizes().begin(), f.sizes().end());
    ctx->saved_data["shapes"] = shapes;
    ctx->saved_data["scales"] = scales;
    ctx->saved_data["k_min"] = k_min;
    ctx->saved_data["k_max"] = k_max;
    ctx->saved_data["sampling_ratio"] = sampling_ratio;
    ctx->saved_data["aligned"] = aligned;
    ctx->save_for_backward({rois, levels});
    return MultiLevelForward("RoiAlign", features, rois, levels, scales, k_min, k_max, pooled_h,
                             pooled_w, sampling_ratio, aligned);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const torch::autograd::variable_list saved = ctx->get_saved_variables();
    const std::vector<int64_t> flat = ctx->saved_data["shapes"].toIntVector();
    LevelShapes shapes;
    for (size_t i = 0; i + 3 < flat.size(); i += 4) {
      shapes.batch = flat[i];
      shapes.channels = flat[i + 1];
      shapes.height.push_back(static_cast<int>(flat[i + 2]));
      shapes.width.push_back(static_cast<int>(flat[i + 3]));
    }
    torch::autograd::variable_list grads = MultiLevelBackward(
        "RoiAlignBackward", grad_outputs[0], saved[0], saved[1],
        ctx->saved_data["scales"].toDoubleVector(), ctx->saved_data["k_min"].toInt(),
        ctx->saved_data["k_max"].toInt(), shapes,
        ctx->saved_data["sampling_ratio"].toInt(), ctx->saved_data["aligned"].toBool());
    // rois, levels, scales, k_min, k_max, pooled_h, pooled_w, sampling_ratio, aligned: no gradient.
    grads.resize(grads.size() + 9);
    return grads;
  }
};

}  // namespace

at::Tensor RoiAlignForward(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                           int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                           bool aligned) {
  return MultiLevelForward("RoiAlign", {input}, rois, at::Tensor(), {spatial_scale}, 0, 0,
                           pooled_height, pooled_width, sampling_ratio, aligned);
}

at::Tensor RoiAlignBackward(const at::Tensor& grad_output, const at::Tensor& rois,
                            double spatial_scale, int64_t batch, int64_t channels, int64_t height,
                            int64_t width, int64_t sampling_ratio, bool aligned) {
  TORCH_CHECK(batch >= 0 && channels >= 0 && height >= 0 && width >= 0,
              "RoiAlignBackward: input shape must be non-negative, got [", batch, ", ", channels,
              ", ", height, ", ", width, "]");
  TORCH_CHECK(height < (int64_t{1} << 31) / std::max<int64_t>(width, 1),
              "RoiAlignBackward: feature map ", height, "x", width, " is too large");
  LevelShapes shapes;
  shapes.batch = batch;
  shapes.channels = channels;
  shapes.height = {static_cast<int>(height)};
  shapes.width = {static_cast<int>(width)};
  return MultiLevelBackward("RoiAlignBackward", grad_output, rois, at::Tensor(), {spatial_scale}, 0,
                            0, shapes, sampling_ratio, aligned)[0];
}

at::Tensor RoiAlign(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                    int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                    bool aligned) {
  CheckRoiArgs("RoiAlign", rois, pooled_height, pooled_width, spatial_scale);
  return RoiAlignFunction::apply(
      at::TensorList{input}, rois, at::zeros({rois.size(0)}, rois.options().dtype(at::kLong)),
      std::vector<double>{spatial_scale}, int64_t{0}, int64_t{0}, pooled_height, pooled_width,
      sampling_ratio, aligned);
}

LevelMapper::LevelMapper(int64_t k_min, int64_t k_max, double canonical_scale,
                         int64_t canonical_level, double eps)
    : k_min_(k_min),
      k_max_(k_max),
      canonical_scale_(canonical_scale),
      canonical_level_(canonical_level),
      eps_(eps) {
  TORCH_CHECK(k_min <= k_max, "LevelMapper: k_min (", k_min, ") must not exceed k_max (", k_max,
              ")");
  TORCH_CHECK(canonical_scale > 0, "LevelMapper: canonical_scale must be positive, got ",
              canonical_scale);
}

at::Tensor LevelMapper::operator()(const at::Tensor& boxes) const {
  TORCH_CHECK(boxes.defined() && boxes.dim() == 2 && boxes.size(1) == 4,
              "LevelMapper: boxes must be [K, 4], got shape ",
              boxes.defined() ? boxes.sizes() : at::IntArrayRef{});
  TORCH_CHECK(at::isFloatingType(boxes.scalar_type()), "LevelMapper: boxes must be floating, got ",
              boxes.scalar_type());
  at::NoGradGuard no_grad;
  // torchvision's expression, evaluated in the boxes' dtype.
  const at::Tensor area =
      (boxes.select(1, 2) - boxes.select(1, 0)) * (boxes.select(1, 3) - boxes.select(1, 1));
  const at::Tensor s = at::sqrt(area);
  const at::Tensor eps = at::scalar_tensor(eps_, s.options());
  at::Tensor lvls =
      at::floor(static_cast<double>(canonical_level_) + at::log2(s / canonical_scale_) + eps);
  lvls = at::clamp(lvls, static_cast<double>(k_min_), static_cast<double>(k_max_));
  // Degenerate (inverted) boxes give NaN; they get level -1 and are pooled by no level (zeros),
  // where torchvision's NaN-to-integer cast leaves them unmatched as well.
  lvls = at::where(at::isnan(lvls), at::full_like(lvls, static_cast<double>(k_min_ - 1)), lvls);
  return lvls.to(at::kLong) - k_min_;
}

LevelScales InferLevelScales(const std::vector<at::Tensor>& features,
                             const std::vector<std::pair<int64_t, int64_t>>& image_sizes) {
  TORCH_CHECK(!features.empty(), "MultiScaleRoiAlign: no feature levels");
  TORCH_CHECK(!image_sizes.empty(), "MultiScaleRoiAlign: no image sizes");
  int64_t max_h = 0;
  for (const auto& s : image_sizes) {
    TORCH_CHECK(s.first > 0 && s.second > 0,
                "MultiScaleRoiAlign: image sizes must be positive, got ", s.first, "x", s.second);
    max_h = std::max(max_h, s.first);
  }
  LevelScales out;
  for (size_t l = 0; l < features.size(); ++l) {
    TORCH_CHECK(features[l].defined() && features[l].dim() == 4, "MultiScaleRoiAlign: level ", l,
                " must be [N, C, H, W]");
    TORCH_CHECK(features[l].size(2) > 0, "MultiScaleRoiAlign: level ", l, " has height 0");
    // torchvision: 2 ** round(log2(h / H)) with the log taken in float32.
    const float approx =
        static_cast<float>(static_cast<double>(features[l].size(2)) / static_cast<double>(max_h));
    const float e = std::nearbyint(std::log2(approx));
    out.scales.push_back(std::pow(2.0, static_cast<double>(e)));
  }
  out.k_min = static_cast<int64_t>(-std::log2(static_cast<float>(out.scales.front())));
  out.k_max = static_cast<int64_t>(-std::log2(static_cast<float>(out.scales.back())));
  return out;
}

at::Tensor BoxesToRois(const std::vector<at::Tensor>& boxes) {
  TORCH_CHECK(!boxes.empty(), "BoxesToRois: no images");
  std::vector<at::Tensor> parts;
  for (size_t i = 0; i < boxes.size(); ++i) {
    TORCH_CHECK(boxes[i].defined() && boxes[i].dim() == 2 && boxes[i].size(1) == 4,
                "BoxesToRois: boxes of image ", i, " must be [K, 4], got shape ",
                boxes[i].defined() ? boxes[i].sizes() : at::IntArrayRef{});
    TORCH_CHECK(boxes[i].scalar_type() == boxes[0].scalar_type(), "BoxesToRois: image ", i,
                " has dtype ", boxes[i].scalar_type(), ", image 0 has ", boxes[0].scalar_type());
    parts.push_back(at::cat(
        {at::full({boxes[i].size(0), 1}, static_cast<double>(i), boxes[i].options()), boxes[i]},
        1));
  }
  return at::cat(parts, 0);
}

at::Tensor MultiScaleRoiAlign(const std::vector<at::Tensor>& features,
                              const std::vector<at::Tensor>& boxes,
                              const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                              int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                              bool aligned) {
  TORCH_CHECK(!features.empty(), "MultiScaleRoiAlign: no feature levels");
  const at::Tensor& f0 = features[0];
  TORCH_CHECK(f0.defined() && f0.dim() == 4, "MultiScaleRoiAlign: level 0 must be [N, C, H, W]");
  for (size_t l = 1; l < features.size(); ++l) {
    TORCH_CHECK(features[l].defined() && features[l].dim() == 4 &&
                    features[l].size(0) == f0.size(0) && features[l].size(1) == f0.size(1) &&
                    features[l].scalar_type() == f0.scalar_type(),
                "MultiScaleRoiAlign: level ", l, " must be [", f0.size(0), ", ", f0.size(1),
                ", H, W] of dtype ", f0.scalar_type());
  }
  TORCH_CHECK(static_cast<int64_t>(boxes.size()) == f0.size(0), "MultiScaleRoiAlign: got ",
              boxes.size(), " box lists for a batch of ", f0.size(0));
  TORCH_CHECK(image_sizes.size() == boxes.size(), "MultiScaleRoiAlign: got ", image_sizes.size(),
              " image sizes for ", boxes.size(), " images");
  const at::Tensor rois = BoxesToRois(boxes).to(f0.scalar_type());
  const LevelScales ls = InferLevelScales(features, image_sizes);
  if (features.size() == 1) {
    return RoiAlign(f0, rois, ls.scales[0], pooled_height, pooled_width, sampling_ratio, aligned);
  }
  TORCH_CHECK(ls.k_max - ls.k_min + 1 == static_cast<int64_t>(features.size()),
              "MultiScaleRoiAlign: ", features.size(), " levels but their sizes imply levels ",
              ls.k_min, "..", ls.k_max);
  const LevelMapper mapper(ls.k_min, ls.k_max);
  // One kernel over all levels: each ROI pools from its level (torchvision loops over the levels).
  // The CPU kernel takes the levels from LevelMapper; the CUDA kernel maps each ROI itself with the
  // same formula (the tensor is still passed: autograd's inputs must be defined tensors).
  const at::Tensor levels = mapper(rois.slice(1, 1, 5));
  return RoiAlignFunction::apply(at::TensorList(features), rois, levels, ls.scales, ls.k_min,
                                 ls.k_max, pooled_height, pooled_width, sampling_ratio, aligned);
}

}  // namespace ops
}  // namespace mrcnn
