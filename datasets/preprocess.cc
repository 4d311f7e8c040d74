#include "datasets/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "datasets/geometry/masks.h"
#include "opencv2/imgproc.hpp"

namespace mrcnn::datasets {

namespace {

// Python's round(): halves go to the even neighbour.
long RoundHalfEven(double x) { return static_cast<long>(std::nearbyint(x)); }

}  // namespace

absl::StatusOr<ResizeGeometry> ComputeResize(int h, int w, const mrcnn::Config& c, Rng* rng) {
  if (h <= 0 || w <= 0) return absl::InvalidArgumentError(absl::StrCat("cannot resize a ", w, "x", h, " image"));
  ResizeGeometry g;
  using mrcnn::ResizeMode;
  const ResizeMode mode = c.IMAGE_RESIZE_MODE;
  auto finish_unpadded = [&](double scale) {
    g.scale = scale;
    g.resized_height = scale == 1.0 ? h : static_cast<int>(RoundHalfEven(h * scale));
    g.resized_width = scale == 1.0 ? w : static_cast<int>(RoundHalfEven(w * scale));
    g.out_height = g.resized_height;
    g.out_width = g.resized_width;
    g.window = {0, 0, g.out_height, g.out_width};
  };
  if (mode == ResizeMode::kNone) {
    finish_unpadded(1.0);
    return g;
  }
  if (mode == ResizeMode::kTorchvision) {
    // torchvision: scale = min(min_size / short, max_size / long) on float32 tensors, where Python's
    // number / tensor is tensor.reciprocal() * number; interpolate(scale_factor=scale,
    // recompute_scale_factor=True) then makes floor(size * scale) pixels. Rounding matters: 333 x 500
    // at 800 gives 799 rows, 480 x 640 gives 800.
    const float short_side = static_cast<float>(std::min(h, w)), long_side = static_cast<float>(std::max(h, w));
    const float by_short = (1.0f / short_side) * static_cast<float>(c.IMAGE_MIN_DIM);
    const float by_long = (1.0f / long_side) * static_cast<float>(c.IMAGE_MAX_DIM);
    const float scale_f = std::min(by_short, by_long);
    const double scale = scale_f;
    g.scale = scale;
    g.resized_height = static_cast<int>(std::floor(h * scale));
    g.resized_width = static_cast<int>(std::floor(w * scale));
    g.out_height = g.resized_height;
    g.out_width = g.resized_width;
    g.window = {0, 0, g.out_height, g.out_width};
    g.torch_bilinear = true;
    return g;
  }
  // matterport's resize_image: scale up (never down) to IMAGE_MIN_DIM, at least IMAGE_MIN_SCALE, and in
  // square mode down so the long side fits IMAGE_MAX_DIM.
  double scale = 1.0;
  if (c.IMAGE_MIN_DIM > 0) scale = std::max(1.0, static_cast<double>(c.IMAGE_MIN_DIM) / std::min(h, w));
  if (c.IMAGE_MIN_SCALE > 0 && scale < c.IMAGE_MIN_SCALE) scale = c.IMAGE_MIN_SCALE;
  if (mode == ResizeMode::kSquare && c.IMAGE_MAX_DIM > 0) {
    const int image_max = std::max(h, w);
    if (RoundHalfEven(image_max * scale) > c.IMAGE_MAX_DIM) scale = static_cast<double>(c.IMAGE_MAX_DIM) / image_max;
  }
  finish_unpadded(scale);
  const int rh = g.resized_height, rw = g.resized_width;
  if (mode == ResizeMode::kSquare) {
    const int top = (c.IMAGE_MAX_DIM - rh) / 2, left = (c.IMAGE_MAX_DIM - rw) / 2;
    g.padding = {top, c.IMAGE_MAX_DIM - rh - top, left, c.IMAGE_MAX_DIM - rw - left};
    g.out_height = g.out_width = c.IMAGE_MAX_DIM;
    g.window = {top, left, top + rh, left + rw};
  } else if (mode == ResizeMode::kPad64) {
    auto pad = [](int n, int* a, int* b) {
      const int total = n % 64 ? 64 - n % 64 : 0;
      *a = total / 2;
      *b = total - *a;
    };
    pad(rh, &g.padding[0], &g.padding[1]);
    pad(rw, &g.padding[2], &g.padding[3]);
    g.out_height = rh + g.padding[0] + g.padding[1];
    g.out_width = rw + g.padding[2] + g.padding[3];
    g.window = {g.padding[0], g.padding[2], g.padding[0] + rh, g.padding[2] + rw};
  } else {  // crop: a random IMAGE_MIN_DIM square of the scaled image
    const int side = c.IMAGE_MIN_DIM;
    const int y = static_cast<int>(rng->UniformInt(0, std::max(0, rh - side)));
    const int x = static_cast<int>(rng->UniformInt(0, std::max(0, rw - side)));
    g.crop = {y, x, std::min(side, rh), std::min(side, rw)};
    g.out_height = g.crop[2];
    g.out_width = g.crop[3];
    g.window = {0, 0, g.out_height, g.out_width};
  }
  return g;
}

namespace {

cv::Mat Place(const cv::Mat& resized, const ResizeGeometry& g) {
  if (g.crop[2] > 0) return resized(cv::Rect(g.crop[1], g.crop[0], g.crop[3], g.crop[2])).clone();
  if (g.padding == std::array<int, 4>{0, 0, 0, 0}) return resized;
  cv::Mat out;
  cv::copyMakeBorder(resized, out, g.padding[0], g.padding[1], g.padding[2], g.padding[3], cv::BORDER_CONSTANT,
                     cv::Scalar::all(0));
  return out;
}

// torch's upsample_bilinear2d (align_corners = false, the size given: what torchvision's transform
// calls) on a CV_32FC(n) image, through ATen itself: torchvision's pixels bit for bit.
cv::Mat TorchBilinear(const cv::Mat& f, int out_h, int out_w) {
  const cv::Mat c = f.isContinuous() ? f : f.clone();
  const int ch = c.channels();
  const at::Tensor in = at::from_blob(c.data, {1, c.rows, c.cols, ch}, at::kFloat).permute({0, 3, 1, 2}).contiguous();
  const at::Tensor out =
      at::upsample_bilinear2d(in, {out_h, out_w}, /*align_corners=*/false).permute({0, 2, 3, 1}).contiguous();
  cv::Mat m(out_h, out_w, CV_32FC(ch));
  std::memcpy(m.data, out.data_ptr<float>(), sizeof(float) * static_cast<size_t>(out_h) * out_w * ch);
  return m;
}

}  // namespace

cv::Mat ApplyResizeToImage(const cv::Mat& image, const ResizeGeometry& g) {
  cv::Mat f;
  image.convertTo(f, CV_32F);
  cv::Mat resized = f;
  if (g.resized_height != image.rows || g.resized_width != image.cols) {
    if (g.torch_bilinear) {
      resized = TorchBilinear(f, g.resized_height, g.resized_width);
    } else {
      cv::resize(f, resized, cv::Size(g.resized_width, g.resized_height), 0, 0, cv::INTER_LINEAR);
    }
  }
  return Place(resized, g);
}

cv::Mat ApplyResizeToMask(const cv::Mat& mask, const ResizeGeometry& g) {
  cv::Mat resized = mask;
  if (g.resized_height != mask.rows || g.resized_width != mask.cols) {
    cv::resize(mask, resized, cv::Size(g.resized_width, g.resized_height), 0, 0, cv::INTER_NEAREST);
  }
  return Place(resized, g);
}

cv::Mat FlipHorizontal(const cv::Mat& m) {
  cv::Mat out;
  cv::flip(m, out, 1);
  return out;
}

cv::Mat MinimizeMask(const cv::Mat& mask, const std::array<float, 4>& box, const std::vector<int>& mini_shape) {
  const cv::Mat m = mask.isContinuous() ? mask : mask.clone();
  const std::vector<uint8_t> mini = geometry::MinimizeMask(
      m.ptr<uint8_t>(0), m.rows, m.cols, {box[0], box[1], box[2], box[3]}, mini_shape[0], mini_shape[1]);
  return cv::Mat(mini_shape[0], mini_shape[1], CV_8UC1, const_cast<uint8_t*>(mini.data())).clone();
}

cv::Mat ExpandMask(const cv::Mat& mini, const std::array<float, 4>& box, int height, int width) {
  const cv::Mat m = mini.isContinuous() ? mini : mini.clone();
  const std::vector<uint8_t> full =
      geometry::ExpandMask(m.ptr<uint8_t>(0), m.rows, m.cols, {box[0], box[1], box[2], box[3]}, height, width);
  return cv::Mat(height, width, CV_8UC1, const_cast<uint8_t*>(full.data())).clone();
}

absl::StatusOr<std::array<int, 2>> ScaledSize(int height, int width, const mrcnn::Config& config) {
  // The crop origin is the only random choice, and it does not change the size.
  Rng unused(0);
  absl::StatusOr<ResizeGeometry> g = ComputeResize(height, width, config, &unused);
  if (!g.ok()) return g.status();
  return std::array<int, 2>{g->resized_height, g->resized_width};
}

mrcnn::ResizeMode InferenceResizeMode(const mrcnn::Config& config) {
  return config.IMAGE_RESIZE_MODE == mrcnn::ResizeMode::kCrop ? mrcnn::ResizeMode::kPad64 : config.IMAGE_RESIZE_MODE;
}

mrcnn::Config InferenceConfig(const mrcnn::Config& config) {
  mrcnn::Config c = config;
  c.IMAGE_RESIZE_MODE = InferenceResizeMode(config);
  return c;
}

cv::Mat NormaliseImage(const cv::Mat& image, const mrcnn::Config& config) {
  CV_Assert(image.channels() == 3 && config.MEAN_PIXEL.size() == 3 && config.IMAGE_STD.size() == 3);
  cv::Mat f;
  image.convertTo(f, CV_32F);
  // torchvision's arithmetic on ToTensor() images: (x / 255 - mean / 255) / (std / 255), the
  // constants rounded to float32 from double, as its image_mean / image_std tensors.
  float mean[3], std[3];
  for (int c = 0; c < 3; ++c) {
    mean[c] = static_cast<float>(config.MEAN_PIXEL[c] / 255);
    std[c] = static_cast<float>(config.IMAGE_STD[c] / 255);
  }
  for (int y = 0; y < f.rows; ++y) {
    float* row = f.ptr<float>(y);
    for (int x = 0; x < f.cols; ++x) {
      for (int c = 0; c < 3; ++c) row[3 * x + c] = (row[3 * x + c] / 255.0f - mean[c]) / std[c];
    }
  }
  return f;
}

namespace {

// ResizeForModel, also returning the geometry (the masks of training follow it).
absl::StatusOr<cv::Mat> Resize(const cv::Mat& rgb, int full_height, int full_width, const mrcnn::Config& config,
                               Rng* rng, ImageMeta* meta, ResizeGeometry* geometry) {
  if (config.IMAGE_RESIZE_MODE == mrcnn::ResizeMode::kCrop && rng == nullptr) {
    return absl::InvalidArgumentError("IMAGE_RESIZE_MODE: crop needs a random generator (training only)");
  }
  // The geometry of the full size: a reduced image tiles the full one exactly (reduction divides
  // both sides), so resizing it to the same size keeps image and masks aligned.
  absl::StatusOr<ResizeGeometry> g = ComputeResize(full_height, full_width, config, rng);
  if (!g.ok()) return g.status();
  meta->original_height = full_height;
  meta->original_width = full_width;
  meta->scale = g->scale;
  meta->window = g->window;
  meta->crop = g->crop;
  meta->height = g->out_height;
  meta->width = g->out_width;
  *geometry = *g;
  if (config.MEAN_PIXEL.size() != 3 || config.IMAGE_STD.size() != 3 || rgb.channels() != 3) {
    return absl::InvalidArgumentError("the model takes RGB images: 3 channels, 3 MEAN_PIXEL and IMAGE_STD values");
  }
  // torchvision normalises, then interpolates; matterport resizes and pads, then normalises
  // (mold_image), so its padding is -MEAN_PIXEL / IMAGE_STD.
  if (g->torch_bilinear) return ApplyResizeToImage(NormaliseImage(rgb, config), *g);
  return NormaliseImage(ApplyResizeToImage(rgb, *g), config);
}

}  // namespace

absl::StatusOr<cv::Mat> ResizeForModel(const cv::Mat& rgb, int full_height, int full_width,
                                       const mrcnn::Config& config, Rng* rng, ImageMeta* meta) {
  ResizeGeometry unused;
  try {
    return Resize(rgb, full_height, full_width, config, rng, meta, &unused);
  } catch (const std::exception& e) {  // OpenCV's and LibTorch's errors (an allocation, mostly)
    return absl::InternalError(absl::StrCat("cannot resize the image: ", e.what()));
  }
}

namespace {

// OpenCV and LibTorch failures (an allocation, mostly) become errors naming the image instead of
// ending the process.
template <typename F>
absl::StatusOr<PreparedImage> Guarded(const Dataset* ds, int index, F f) {
  std::string name = "image";
  if (ds != nullptr) {
    const ImageInfo& info = ds->image_info(index);
    name = info.path.empty() ? info.id : info.path;
  }
  try {
    return f();
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat(name, ": cannot prepare the image (OpenCV: ", e.err, ")"));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(name, ": cannot prepare the image (", e.what(), ")"));
  }
}

// Decodes image `index` for the size the resize of `config` needs: the header's size gives it before
// any pixel is read.
absl::StatusOr<DecodedImage> DecodeForResize(const Dataset& ds, int index, const mrcnn::Config& config) {
  const ImageInfo& info = ds.image_info(index);
  std::array<int, 2> target = {0, 0};
  if (info.height > 0 && info.width > 0) {
    absl::StatusOr<std::array<int, 2>> size = ScaledSize(info.height, info.width, config);
    if (!size.ok()) return size.status();
    target = *size;
  }
  return ds.LoadImageForSize(index, target[0], target[1]);
}

absl::StatusOr<PreparedImage> Prepare(const Dataset& ds, int index, const mrcnn::Config& config, bool augment,
                                      Rng* rng, int force_flip) {
  absl::StatusOr<DecodedImage> decoded = DecodeForResize(ds, index, config);
  if (!decoded.ok()) return decoded.status();
  absl::StatusOr<InstanceMasks> masks = ds.LoadMask(index);
  if (!masks.ok()) return masks.status();
  PreparedImage out;
  ImageMeta& meta = out.meta;
  meta.image_index = index;
  meta.image_id = ds.image_info(index).id;
  meta.decoded_reduction = decoded->reduction;
  cv::Mat image = decoded->rgb;
  std::vector<cv::Mat> full = masks->masks;
  // The flip is drawn first so that the random stream does not depend on the resize mode.
  meta.flipped = augment && (force_flip >= 0 ? force_flip == 1 : rng->UniformInt(0, 1) == 1);
  if (meta.flipped) {
    image = FlipHorizontal(image);
    for (cv::Mat& m : full) m = FlipHorizontal(m);
  }
  ResizeGeometry geometry;
  absl::StatusOr<cv::Mat> resized_image =
      Resize(image, decoded->height, decoded->width, config, rng, &meta, &geometry);
  if (!resized_image.ok()) return resized_image.status();
  out.image = *std::move(resized_image);

  std::vector<int> keep;
  std::vector<cv::Mat> resized(full.size());
  std::vector<std::array<float, 4>> boxes(full.size());
  for (size_t i = 0; i < full.size(); ++i) {
    resized[i] = ApplyResizeToMask(full[i], geometry);
    const std::array<int, 4> b = MaskBox(resized[i]);
    if (b[2] <= b[0] || b[3] <= b[1]) {
      ++out.dropped_empty;
      continue;
    }
    boxes[i] = {static_cast<float>(b[0]), static_cast<float>(b[1]), static_cast<float>(b[2]), static_cast<float>(b[3])};
    keep.push_back(static_cast<int>(i));
  }
  if (static_cast<int>(keep.size()) > config.MAX_GT_INSTANCES) {
    // matterport keeps a random subset of MAX_GT_INSTANCES.
    rng->Shuffle(&keep);
    out.dropped_over_max = static_cast<int>(keep.size()) - config.MAX_GT_INSTANCES;
    keep.resize(config.MAX_GT_INSTANCES);
    std::sort(keep.begin(), keep.end());
  }
  out.mask_height = config.USE_MINI_MASK ? config.MINI_MASK_SHAPE[0] : out.image.rows;
  out.mask_width = config.USE_MINI_MASK ? config.MINI_MASK_SHAPE[1] : out.image.cols;
  for (int i : keep) {
    out.boxes.push_back(boxes[i]);
    out.class_ids.push_back(masks->class_ids[i]);
    out.crowd.push_back(masks->crowd[i]);
    out.masks.push_back(config.USE_MINI_MASK ? MinimizeMask(resized[i], boxes[i], config.MINI_MASK_SHAPE)
                                             : resized[i]);
  }
  return out;
}

}  // namespace

absl::StatusOr<PreparedImage> PrepareImage(const Dataset& ds, int index, const mrcnn::Config& config, bool augment,
                                           Rng* rng, int force_flip) {
  if (config.MEAN_PIXEL.size() != 3 || config.IMAGE_STD.size() != 3 || config.MINI_MASK_SHAPE.size() != 2 ||
      config.MAX_GT_INSTANCES < 1) {
    return absl::InvalidArgumentError(
        "PrepareImage needs 3 MEAN_PIXEL and IMAGE_STD values (RGB), a 2-value MINI_MASK_SHAPE and "
        "MAX_GT_INSTANCES >= 1; run Config::Validate()");
  }
  if (index < 0 || index >= ds.num_images()) {
    return absl::OutOfRangeError(absl::StrCat("image index ", index, " outside [0, ", ds.num_images(), ")"));
  }
  return Guarded(&ds, index, [&] { return Prepare(ds, index, config, augment, rng, force_flip); });
}

absl::StatusOr<PreparedImage> PrepareInferenceImage(const Dataset& ds, int index, const mrcnn::Config& config) {
  if (index < 0 || index >= ds.num_images()) {
    return absl::OutOfRangeError(absl::StrCat("image index ", index, " outside [0, ", ds.num_images(), ")"));
  }
  return Guarded(&ds, index, [&]() -> absl::StatusOr<PreparedImage> {
    const mrcnn::Config c = InferenceConfig(config);
    absl::StatusOr<DecodedImage> decoded = DecodeForResize(ds, index, c);
    if (!decoded.ok()) return decoded.status();
    PreparedImage out;
    out.meta.image_index = index;
    out.meta.image_id = ds.image_info(index).id;
    out.meta.decoded_reduction = decoded->reduction;
    absl::StatusOr<cv::Mat> image = ResizeForModel(decoded->rgb, decoded->height, decoded->width, c, nullptr, &out.meta);
    if (!image.ok()) return image.status();
    out.image = *std::move(image);
    out.mask_height = out.image.rows;
    out.mask_width = out.image.cols;
    return out;
  });
}

absl::StatusOr<PreparedImage> PrepareInferenceImage(const cv::Mat& rgb, const mrcnn::Config& config) {
  return Guarded(nullptr, 0, [&]() -> absl::StatusOr<PreparedImage> {
    PreparedImage out;
    absl::StatusOr<cv::Mat> image = ResizeForModel(rgb, rgb.rows, rgb.cols, InferenceConfig(config), nullptr, &out.meta);
    if (!image.ok()) return image.status();
    out.image = *std::move(image);
    out.mask_height = out.image.rows;
    out.mask_width = out.image.cols;
    return out;
  });
}

}  // namespace mrcnn::datasets
