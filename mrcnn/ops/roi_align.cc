#include "mrcnn/ops/roi_align.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include "mrcnn/ops/box_math.h"

namespace mrcnn {
namespace ops {
namespace {

// Upper bound on the bilinear samples of one ROI (adaptive sampling of a huge box would otherwise
// try to allocate and loop over billions).
constexpr int64_t kMaxSamplesPerRoi = int64_t{1} << 26;
// ROIs are processed in chunks whose precomputed samples stay below this many (about 32 MB).
constexpr int64_t kSamplesPerChunk = int64_t{1} << 20;

// Geometry of one ROI on its feature map, as torchvision's kernels compute it.
template <typename T>
struct RoiGeometry {
  int64_t batch = 0;
  T start_h = 0, start_w = 0, bin_h = 0, bin_w = 0;
  int64_t grid_h = 0, grid_w = 0;
  int64_t samples = 0;  // pooled_h * pooled_w * grid_h * grid_w
};

template <typename T>
RoiGeometry<T> ComputeGeometry(const T* roi, T spatial_scale, int64_t pooled_h, int64_t pooled_w,
                               int64_t sampling_ratio, bool aligned) {
  RoiGeometry<T> g;
  g.batch = static_cast<int64_t>(roi[0]);
  const T offset = aligned ? T(0.5) : T(0.0);
  g.start_w = roi[1] * spatial_scale - offset;
  g.start_h = roi[2] * spatial_scale - offset;
  const T end_w = roi[3] * spatial_scale - offset;
  const T end_h = roi[4] * spatial_scale - offset;
  T roi_w = end_w - g.start_w;
  T roi_h = end_h - g.start_h;
  if (!aligned) {
    // Legacy ROIAlign: malformed (inverted or tiny) ROIs are forced to 1x1 cells.
    roi_w = std::max(roi_w, T(1));
    roi_h = std::max(roi_h, T(1));
  }
  g.bin_h = roi_h / static_cast<T>(pooled_h);
  g.bin_w = roi_w / static_cast<T>(pooled_w);
  g.grid_h = sampling_ratio > 0 ? sampling_ratio
                                : static_cast<int64_t>(std::ceil(roi_h / static_cast<T>(pooled_h)));
  g.grid_w = sampling_ratio > 0 ? sampling_ratio
                                : static_cast<int64_t>(std::ceil(roi_w / static_cast<T>(pooled_w)));
  // aligned ROIs may be inverted: ceil of a negative size gives no samples, as in torchvision.
  g.grid_h = std::max<int64_t>(g.grid_h, 0);
  g.grid_w = std::max<int64_t>(g.grid_w, 0);
  return g;
}

// Bilinear samples of one ROI, bin-major (ph, pw), then (iy, ix), as torchvision's pre_calc.
template <typename T>
void ComputeSamples(const RoiGeometry<T>& g, int64_t pooled_h, int64_t pooled_w, int height,
                    int width, math::BilinearSample<T>* out) {
  for (int64_t ph = 0; ph < pooled_h; ++ph) {
    for (int64_t pw = 0; pw < pooled_w; ++pw) {
      for (int64_t iy = 0; iy < g.grid_h; ++iy) {
        const T yy = g.start_h + static_cast<T>(ph) * g.bin_h +
                     static_cast<T>(iy + .5f) * g.bin_h / static_cast<T>(g.grid_h);
        for (int64_t ix = 0; ix < g.grid_w; ++ix) {
          const T xx = g.start_w + static_cast<T>(pw) * g.bin_w +
                       static_cast<T>(ix + .5f) * g.bin_w / static_cast<T>(g.grid_w);
          *out++ = math::BilinearWeights<T>(height, width, yy, xx);
        }
      }
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
  TORCH_CHECK(rois.device().is_cpu(), fn, ": only CPU tensors are supported");
  TORCH_CHECK(pooled_h > 0 && pooled_w > 0, fn, ": output size must be positive, got ", pooled_h,
              "x", pooled_w);
  TORCH_CHECK(spatial_scale > 0 && std::isfinite(spatial_scale), fn,
              ": spatial_scale must be positive and finite, got ", spatial_scale);
}

// Geometry of every ROI, with the checks that need the values: batch index in range, finite
// coordinates, a bounded number of samples.
template <typename T>
std::vector<RoiGeometry<T>> AllGeometry(const char* fn, const T* rois, int64_t k, int64_t batch,
                                        double spatial_scale, int64_t pooled_h, int64_t pooled_w,
                                        int64_t sampling_ratio, bool aligned) {
  std::vector<RoiGeometry<T>> geo(k);
  for (int64_t r = 0; r < k; ++r) {
    const T* roi = rois + 5 * r;
    for (int i = 0; i < 5; ++i) {
      TORCH_CHECK(std::isfinite(static_cast<double>(roi[i])), fn, ": roi ", r,
                  " has a non-finite value in column ", i);
    }
    TORCH_CHECK(roi[0] >= 0 && static_cast<int64_t>(roi[0]) < batch, fn, ": roi ", r,
                " has batch index ", static_cast<double>(roi[0]), ", outside [0, ", batch, ")");
    RoiGeometry<T> g = ComputeGeometry(roi, static_cast<T>(spatial_scale), pooled_h, pooled_w,
                                       sampling_ratio, aligned);
    const double samples = static_cast<double>(pooled_h) * pooled_w * g.grid_h * g.grid_w;
    TORCH_CHECK(samples <= static_cast<double>(kMaxSamplesPerRoi), fn, ": roi ", r,
                " would take ", samples,
                " bilinear samples (adaptive sampling of a huge box); use sampling_ratio > 0");
    g.samples = static_cast<int64_t>(samples);
    geo[r] = g;
  }
  return geo;
}

// Splits ROIs [0, k) into consecutive chunks of bounded sample count; returns chunk boundaries.
template <typename T>
std::vector<int64_t> Chunks(const std::vector<RoiGeometry<T>>& geo) {
  std::vector<int64_t> bounds = {0};
  int64_t acc = 0;
  for (int64_t r = 0; r < static_cast<int64_t>(geo.size()); ++r) {
    if (acc > 0 && acc + geo[r].samples > kSamplesPerChunk) {
      bounds.push_back(r);
      acc = 0;
    }
    acc += geo[r].samples;
  }
  bounds.push_back(static_cast<int64_t>(geo.size()));
  return bounds;
}

// Precomputes the samples of ROIs [r0, r1) in parallel; offsets[r - r0] is each ROI's first sample.
template <typename T>
void ChunkSamples(const std::vector<RoiGeometry<T>>& geo, int64_t r0, int64_t r1, int64_t pooled_h,
                  int64_t pooled_w, int height, int width,
                  std::vector<math::BilinearSample<T>>* samples, std::vector<int64_t>* offsets) {
  offsets->assign(r1 - r0 + 1, 0);
  for (int64_t r = r0; r < r1; ++r) (*offsets)[r - r0 + 1] = (*offsets)[r - r0] + geo[r].samples;
  samples->resize((*offsets)[r1 - r0]);
  at::parallel_for(r0, r1, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      ComputeSamples(geo[r], pooled_h, pooled_w, height, width,
                     samples->data() + (*offsets)[r - r0]);
    }
  });
}

template <typename T>
void ForwardKernel(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                   int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio, bool aligned,
                   at::Tensor& output) {
  const int64_t batch = input.size(0);
  const int64_t channels = input.size(1);
  const int height = static_cast<int>(input.size(2));
  const int width = static_cast<int>(input.size(3));
  const int64_t k = rois.size(0);
  const std::vector<RoiGeometry<T>> geo =
      AllGeometry("RoiAlign", rois.data_ptr<T>(), k, batch, spatial_scale, pooled_h, pooled_w,
                  sampling_ratio, aligned);
  const T* in = input.data_ptr<T>();
  T* out = output.data_ptr<T>();
  const int64_t plane = static_cast<int64_t>(height) * width;
  const int64_t bins = pooled_h * pooled_w;
  const std::vector<int64_t> bounds = Chunks(geo);
  std::vector<math::BilinearSample<T>> samples;
  std::vector<int64_t> offsets;
  for (size_t chunk = 0; chunk + 1 < bounds.size(); ++chunk) {
    const int64_t r0 = bounds[chunk];
    const int64_t r1 = bounds[chunk + 1];
    ChunkSamples(geo, r0, r1, pooled_h, pooled_w, height, width, &samples, &offsets);
    // One output value: the mean of the bin's samples, summed in torchvision's order.
    auto pool = [&](int64_t r, int64_t c) {
      const RoiGeometry<T>& g = geo[r];
      const T* data = in + (g.batch * channels + c) * plane;
      T* o = out + (r * channels + c) * bins;
      const math::BilinearSample<T>* s = samples.data() + offsets[r - r0];
      const int64_t per_bin = g.grid_h * g.grid_w;
      const T count = static_cast<T>(std::max<int64_t>(per_bin, 1));
      for (int64_t b = 0; b < bins; ++b) {
        T val = 0;
        for (int64_t i = 0; i < per_bin; ++i, ++s) {
          val += s->w1 * data[s->pos1] + s->w2 * data[s->pos2] + s->w3 * data[s->pos3] +
                 s->w4 * data[s->pos4];
        }
        o[b] = val / count;
      }
    };
    if (channels >= 2 * at::get_num_threads()) {
      // Channel-major: each thread keeps its channel planes in cache while visiting every ROI.
      at::parallel_for(0, channels, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          for (int64_t r = r0; r < r1; ++r) pool(r, c);
        }
      });
    } else {
      at::parallel_for(r0, r1, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t r = b0; r < b1; ++r) {
          for (int64_t c = 0; c < channels; ++c) pool(r, c);
        }
      });
    }
  }
}

template <typename T>
void BackwardKernel(const at::Tensor& grad_output, const at::Tensor& rois, double spatial_scale,
                    int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio, bool aligned,
                    at::Tensor& grad_input) {
  const int64_t batch = grad_input.size(0);
  const int64_t channels = grad_input.size(1);
  const int height = static_cast<int>(grad_input.size(2));
  const int width = static_cast<int>(grad_input.size(3));
  const int64_t k = rois.size(0);
  const std::vector<RoiGeometry<T>> geo =
      AllGeometry("RoiAlignBackward", rois.data_ptr<T>(), k, batch, spatial_scale, pooled_h,
                  pooled_w, sampling_ratio, aligned);
  const T* go = grad_output.data_ptr<T>();
  T* gi = grad_input.data_ptr<T>();
  const int64_t plane = static_cast<int64_t>(height) * width;
  const int64_t bins = pooled_h * pooled_w;
  const std::vector<int64_t> bounds = Chunks(geo);
  std::vector<math::BilinearSample<T>> samples;
  std::vector<int64_t> offsets;
  for (size_t chunk = 0; chunk + 1 < bounds.size(); ++chunk) {
    const int64_t r0 = bounds[chunk];
    const int64_t r1 = bounds[chunk + 1];
    ChunkSamples(geo, r0, r1, pooled_h, pooled_w, height, width, &samples, &offsets);
    // Each thread owns whole channels of grad_input, so the scattered additions never race.
    at::parallel_for(0, channels, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        for (int64_t r = r0; r < r1; ++r) {
          const RoiGeometry<T>& g = geo[r];
          const int64_t per_bin = g.grid_h * g.grid_w;
          if (per_bin == 0) continue;
          const T count = static_cast<T>(per_bin);
          T* data = gi + (g.batch * channels + c) * plane;
          const T* gob = go + (r * channels + c) * bins;
          const math::BilinearSample<T>* s = samples.data() + offsets[r - r0];
          for (int64_t b = 0; b < bins; ++b) {
            const T grad = gob[b];
            if (grad == T(0)) {
              s += per_bin;
              continue;
            }
            for (int64_t i = 0; i < per_bin; ++i, ++s) {
              data[s->pos1] += grad * s->w1 / count;
              data[s->pos2] += grad * s->w2 / count;
              data[s->pos3] += grad * s->w3 / count;
              data[s->pos4] += grad * s->w4 / count;
            }
          }
        }
      }
    });
  }
}

class RoiAlignFunction : public torch::autograd::Function<RoiAlignFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input,
                            const at::Tensor& rois, double spatial_scale, int64_t pooled_h,
                            int64_t pooled_w, int64_t sampling_ratio, bool aligned) {
    ctx->saved_data["spatial_scale"] = spatial_scale;
    ctx->saved_data["pooled_h"] = pooled_h;
    ctx->saved_data["pooled_w"] = pooled_w;
    ctx->saved_data["sampling_ratio"] = sampling_ratio;
    ctx->saved_data["aligned"] = aligned;
    ctx->saved_data["input_shape"] = input.sizes();
    ctx->save_for_backward({rois});
    return RoiAlignForward(input, rois, spatial_scale, pooled_h, pooled_w, sampling_ratio, aligned);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const at::Tensor rois = ctx->get_saved_variables()[0];
    const std::vector<int64_t> shape = ctx->saved_data["input_shape"].toIntVector();
    const at::Tensor grad_input = RoiAlignBackward(
        grad_outputs[0], rois, ctx->saved_data["spatial_scale"].toDouble(),
        shape[0], shape[1], shape[2], shape[3], ctx->saved_data["sampling_ratio"].toInt(),
        ctx->saved_data["aligned"].toBool());
    // The pooled size comes from grad_output's shape; rois and the settings get no gradient.
    return {grad_input, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor()};
  }
};

}  // namespace

at::Tensor RoiAlignForward(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                           int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                           bool aligned) {
  CheckRoiArgs("RoiAlign", rois, pooled_height, pooled_width, spatial_scale);
  TORCH_CHECK(input.defined() && input.dim() == 4,
              "RoiAlign: input must be [N, C, H, W], got shape ",
              input.defined() ? input.sizes() : at::IntArrayRef{});
  TORCH_CHECK(input.scalar_type() == at::kFloat || input.scalar_type() == at::kDouble,
              "RoiAlign: input must be float or double, got ", input.scalar_type());
  TORCH_CHECK(rois.scalar_type() == input.scalar_type(),
              "RoiAlign: rois must have the input's dtype ", input.scalar_type(), ", got ",
              rois.scalar_type());
  TORCH_CHECK(input.device().is_cpu(), "RoiAlign: only CPU tensors are supported");
  TORCH_CHECK(input.size(2) < (int64_t{1} << 31) / std::max<int64_t>(input.size(3), 1),
              "RoiAlign: feature map ", input.size(2), "x", input.size(3), " is too large");
  at::Tensor output =
      at::zeros({rois.size(0), input.size(1), pooled_height, pooled_width}, input.options());
  if (rois.size(0) == 0 || input.numel() == 0) {
    // Empty feature maps: torchvision pools zeros there too; still check the batch indices.
    if (rois.size(0) > 0) {
      const at::Tensor r = rois.contiguous();
      AT_DISPATCH_FLOATING_TYPES(r.scalar_type(), "RoiAlign", [&] {
        AllGeometry("RoiAlign", r.data_ptr<scalar_t>(), r.size(0), input.size(0), spatial_scale,
                    pooled_height, pooled_width, sampling_ratio, aligned);
      });
    }
    return output;
  }
  const at::Tensor in = input.contiguous();
  const at::Tensor r = rois.contiguous();
  AT_DISPATCH_FLOATING_TYPES(in.scalar_type(), "RoiAlign", [&] {
    ForwardKernel<scalar_t>(in, r, spatial_scale, pooled_height, pooled_width, sampling_ratio,
                            aligned, output);
  });
  return output;
}

at::Tensor RoiAlignBackward(const at::Tensor& grad_output, const at::Tensor& rois,
                            double spatial_scale, int64_t batch, int64_t channels, int64_t height,
                            int64_t width, int64_t sampling_ratio, bool aligned) {
  TORCH_CHECK(grad_output.defined() && grad_output.dim() == 4,
              "RoiAlignBackward: grad_output must be [K, C, ph, pw], got shape ",
              grad_output.defined() ? grad_output.sizes() : at::IntArrayRef{});
  const int64_t pooled_h = grad_output.size(2);
  const int64_t pooled_w = grad_output.size(3);
  CheckRoiArgs("RoiAlignBackward", rois, pooled_h, pooled_w, spatial_scale);
  TORCH_CHECK(batch >= 0 && channels >= 0 && height >= 0 && width >= 0,
              "RoiAlignBackward: input shape must be non-negative, got [", batch, ", ", channels,
              ", ", height, ", ", width, "]");
  TORCH_CHECK(grad_output.size(0) == rois.size(0) && grad_output.size(1) == channels,
              "RoiAlignBackward: grad_output shape ", grad_output.sizes(), " does not match ",
              rois.size(0), " rois and ", channels, " channels");
  TORCH_CHECK(grad_output.scalar_type() == rois.scalar_type(),
              "RoiAlignBackward: grad_output and rois must have the same dtype");
  at::Tensor grad_input = at::zeros({batch, channels, height, width}, grad_output.options());
  if (rois.size(0) == 0 || grad_input.numel() == 0) return grad_input;
  const at::Tensor go = grad_output.contiguous();
  const at::Tensor r = rois.contiguous();
  AT_DISPATCH_FLOATING_TYPES(go.scalar_type(), "RoiAlignBackward", [&] {
    BackwardKernel<scalar_t>(go, r, spatial_scale, pooled_h, pooled_w, sampling_ratio, aligned,
                             grad_input);
  });
  return grad_input;
}

at::Tensor RoiAlign(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                    int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                    bool aligned) {
  return RoiAlignFunction::apply(input, rois, spatial_scale, pooled_height, pooled_width,
                                 sampling_ratio, aligned);
}

LevelMapper::LevelMapper(int64_t k_min, int64_t k_max, double canonical_scale,
                         int64_t canonical_level, double eps)
    : k_min_(k_min),
      k_max_(k_max),
      canonical_scale_(canonical_scale),
      canonical_level_(canonical_level),
      eps_(eps) {
  TORCH_CHECK(k_min <= k_max, "LevelMapper: k_min (", k_min, ") must not exceed k_max (", k_max, ")");
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
  at::Tensor lvls = at::floor(static_cast<double>(canonical_level_) +
                              at::log2(s / canonical_scale_) + eps);
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
    TORCH_CHECK(s.first > 0 && s.second > 0, "MultiScaleRoiAlign: image sizes must be positive, got ",
                s.first, "x", s.second);
    max_h = std::max(max_h, s.first);
  }
  LevelScales out;
  for (size_t l = 0; l < features.size(); ++l) {
    TORCH_CHECK(features[l].defined() && features[l].dim() == 4, "MultiScaleRoiAlign: level ", l,
                " must be [N, C, H, W]");
    TORCH_CHECK(features[l].size(2) > 0, "MultiScaleRoiAlign: level ", l, " has height 0");
    // torchvision: 2 ** round(log2(h / H)) with the log taken in float32.
    const float approx = static_cast<float>(static_cast<double>(features[l].size(2)) /
                                            static_cast<double>(max_h));
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
        {at::full({boxes[i].size(0), 1}, static_cast<double>(i), boxes[i].options()), boxes[i]}, 1));
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
  const at::Tensor levels = mapper(rois.slice(1, 1, 5));
  at::Tensor result =
      at::zeros({rois.size(0), f0.size(1), pooled_height, pooled_width}, f0.options());
  for (size_t l = 0; l < features.size(); ++l) {
    const at::Tensor idx = at::nonzero(levels == static_cast<int64_t>(l)).view({-1});
    if (idx.numel() == 0) continue;
    const at::Tensor pooled = RoiAlign(features[l], rois.index_select(0, idx), ls.scales[l],
                                       pooled_height, pooled_width, sampling_ratio, aligned);
    result = result.index_put({idx}, pooled);
  }
  return result;
}

}  // namespace ops
}  // namespace mrcnn
