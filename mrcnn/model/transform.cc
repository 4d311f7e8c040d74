#include "mrcnn/model/transform.h"

#include <algorithm>
#include <cmath>

#include <torch/nn/functional/upsampling.h>

#include "absl/strings/str_cat.h"

namespace mrcnn {
namespace {

namespace F = torch::nn::functional;

int64_t RoundUp(int64_t x, int64_t multiple) { return (x + multiple - 1) / multiple * multiple; }

}  // namespace

absl::StatusOr<TransformOptions> TransformOptionsFromConfig(const Config& c) {
  TransformOptions o;
  if (c.IMAGE_RESIZE_MODE == ResizeMode::kCrop) {
    return absl::InvalidArgumentError(
        "IMAGE_RESIZE_MODE: 'crop' is a training augmentation of the data pipeline; the model batches "
        "images with torchvision, square, pad64 or none");
  }
  if (c.IMAGE_CHANNEL_COUNT != 3 || c.MEAN_PIXEL.size() != 3 || c.IMAGE_STD.size() != 3) {
    return absl::InvalidArgumentError(
        "IMAGE_CHANNEL_COUNT: the model takes RGB images (3 channels, 3 MEAN_PIXEL and IMAGE_STD values)");
  }
  o.resize_mode = c.IMAGE_RESIZE_MODE;
  o.min_dim = c.IMAGE_MIN_DIM;
  o.max_dim = c.IMAGE_MAX_DIM;
  o.min_scale = c.IMAGE_MIN_SCALE;
  o.mean = c.MEAN_PIXEL;
  o.std = c.IMAGE_STD;
  return o;
}

ImageSize ResizedSize(ImageSize size, const TransformOptions& o) {
  const auto [h, w] = size;
  if (o.resize_mode == ResizeMode::kNone) return size;
  if (o.resize_mode == ResizeMode::kTorchvision) {
    // torchvision computes the scale in float32 and the size as floor(size * scale) in double.
    const float min_side = static_cast<float>(std::min(h, w));
    const float max_side = static_cast<float>(std::max(h, w));
    const float scale = std::min(static_cast<float>(o.min_dim) / min_side,
                                 static_cast<float>(o.max_dim) / max_side);
    const double s = static_cast<double>(scale);
    return {static_cast<int64_t>(std::floor(h * s)), static_cast<int64_t>(std::floor(w * s))};
  }
  // matterport's resize_image scale rule (square and pad64).
  double scale = std::max(1.0, static_cast<double>(o.min_dim) / std::min(h, w));
  if (scale < o.min_scale) scale = o.min_scale;
  if (o.resize_mode == ResizeMode::kSquare && std::round(std::max(h, w) * scale) > o.max_dim) {
    scale = static_cast<double>(o.max_dim) / std::max(h, w);
  }
  return {static_cast<int64_t>(std::round(h * scale)), static_cast<int64_t>(std::round(w * scale))};
}

ImageBatch BatchImages(const std::vector<torch::Tensor>& images, const TransformOptions& o) {
  TORCH_CHECK(!images.empty(), "BatchImages: no images");
  ImageBatch batch;
  std::vector<torch::Tensor> resized;
  // The constants in float32, as torchvision's image_mean / image_std tensors.
  const torch::Tensor mean = torch::tensor({o.mean[0] / 255, o.mean[1] / 255, o.mean[2] / 255},
                                           torch::kDouble).to(torch::kFloat).view({3, 1, 1});
  const torch::Tensor std = torch::tensor({o.std[0] / 255, o.std[1] / 255, o.std[2] / 255},
                                          torch::kDouble).to(torch::kFloat).view({3, 1, 1});
  for (size_t i = 0; i < images.size(); ++i) {
    const torch::Tensor& img = images[i];
    TORCH_CHECK(img.defined() && img.dim() == 3 && img.size(0) == 3 && img.size(1) > 0 &&
                    img.size(2) > 0,
                "BatchImages: image ", i, " must be RGB [3, H, W], got ",
                img.defined() ? img.sizes() : torch::IntArrayRef{});
    TORCH_CHECK(img.scalar_type() == torch::kByte || img.is_floating_point(), "BatchImages: image ",
                i, " must be uint8 or floating point, got ", img.scalar_type());
    const ImageSize original = {img.size(1), img.size(2)};
    torch::Tensor x = (img.to(torch::kFloat) / 255.0f - mean) / std;
    const ImageSize size = ResizedSize(original, o);
    if (size != original) {
      x = F::interpolate(x.unsqueeze(0), F::InterpolateFuncOptions()
                                             .size(std::vector<int64_t>{size.first, size.second})
                                             .mode(torch::kBilinear)
                                             .align_corners(false))
              .squeeze(0);
    }
    resized.push_back(x);
    batch.image_sizes.push_back(size);
    batch.original_sizes.push_back(original);
  }
  int64_t max_h = 0, max_w = 0;
  for (const auto& s : batch.image_sizes) {
    max_h = std::max(max_h, s.first);
    max_w = std::max(max_w, s.second);
  }
  if (o.resize_mode == ResizeMode::kSquare) {
    max_h = std::max(max_h, o.max_dim);
    max_w = std::max(max_w, o.max_dim);
  }
  const int64_t divisor = o.resize_mode == ResizeMode::kPad64 ? 64 : 32;
  max_h = RoundUp(max_h, divisor);
  max_w = RoundUp(max_w, divisor);
  batch.images = torch::zeros({static_cast<int64_t>(images.size()), 3, max_h, max_w}, torch::kFloat);
  for (size_t i = 0; i < resized.size(); ++i) {
    batch.images[i].narrow(1, 0, resized[i].size(1)).narrow(2, 0, resized[i].size(2)).copy_(resized[i]);
  }
  return batch;
}

torch::Tensor ResizeBoxes(const torch::Tensor& boxes, ImageSize from, ImageSize to) {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, "ResizeBoxes: boxes must be [K, 4], got ",
              boxes.sizes());
  const float rh = static_cast<float>(to.first) / static_cast<float>(from.first);
  const float rw = static_cast<float>(to.second) / static_cast<float>(from.second);
  const torch::Tensor ratios = torch::tensor({rw, rh, rw, rh}, boxes.options());
  return boxes * ratios;
}

torch::Tensor ResizeMasks(const torch::Tensor& masks, ImageSize to) {
  TORCH_CHECK(masks.dim() == 3, "ResizeMasks: masks must be [G, H, W], got ", masks.sizes());
  if (masks.size(1) == to.first && masks.size(2) == to.second) return masks.to(torch::kByte);
  if (masks.size(0) == 0) return torch::zeros({0, to.first, to.second}, torch::kByte);
  return F::interpolate(masks.unsqueeze(1).to(torch::kFloat),
                        F::InterpolateFuncOptions()
                            .size(std::vector<int64_t>{to.first, to.second})
                            .mode(torch::kNearest))
      .squeeze(1)
      .to(torch::kByte);
}

}  // namespace mrcnn
