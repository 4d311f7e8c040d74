// Image batching of the model: normalise, resize, pad into one tensor, and map results back.
//
// torchvision's GeneralizedRCNNTransform for IMAGE_RESIZE_MODE "torchvision" (scale so the short side
// is IMAGE_MIN_DIM unless the long side would pass IMAGE_MAX_DIM, bilinear, batch padded at the bottom
// and right to a multiple of 32), and matterport's modes on the same path:
//   "square": scale up so the short side is IMAGE_MIN_DIM (at least IMAGE_MIN_SCALE), never let the
//             long side pass IMAGE_MAX_DIM, pad to IMAGE_MAX_DIM x IMAGE_MAX_DIM. (matterport centres
//             the image in the square; here it sits at the top left, as torchvision pads, which only
//             translates what the network sees);
//   "pad64":  the same up-scaling without the cap, padded to a multiple of 64;
//   "none":   no resizing, padded to a multiple of 32.
// "crop" is a training-time augmentation of the data pipeline and is rejected here.
// Images are RGB [3, H, W], uint8 or float in 0-255 units; normalisation is
// (x / 255 - MEAN_PIXEL / 255) / (IMAGE_STD / 255) in float32, exactly torchvision's arithmetic on
// ToTensor() images.
//
//   TransformOptions t = TransformOptionsFromConfig(config).value();
//   ImageBatch batch = BatchImages(images, t);  // batch.images [N, 3, Hp, Wp]
#ifndef MRCNN_MODEL_TRANSFORM_H_
#define MRCNN_MODEL_TRANSFORM_H_

#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "mrcnn/config/config.h"

namespace mrcnn {

using ImageSize = std::pair<int64_t, int64_t>;  // (height, width)

struct TransformOptions {
  ResizeMode resize_mode = ResizeMode::kTorchvision;  // torchvision | square | pad64 | none
  int64_t min_dim = 800, max_dim = 1333;
  double min_scale = 0.0;
  std::vector<double> mean = {123.675, 116.28, 103.53};  // RGB, 0-255 units
  std::vector<double> std = {58.395, 57.12, 57.375};
};

absl::StatusOr<TransformOptions> TransformOptionsFromConfig(const Config& config);

// The size an image of `size` is resized to.
ImageSize ResizedSize(ImageSize size, const TransformOptions& options);

struct ImageBatch {
  torch::Tensor images;                  // [N, 3, Hp, Wp] float32, normalised, zero padded
  std::vector<ImageSize> image_sizes;    // resized sizes, before padding
  std::vector<ImageSize> original_sizes;
  ImageSize padded_size() const { return {images.size(2), images.size(3)}; }
};

// images: RGB [3, H_i, W_i]. Throws c10::Error naming the image on a bad shape or dtype.
ImageBatch BatchImages(const std::vector<torch::Tensor>& images, const TransformOptions& options);

// Scales boxes [K, 4] from an image of size `from` to one of size `to` (per-axis ratios in float32,
// as torchvision's resize_boxes).
torch::Tensor ResizeBoxes(const torch::Tensor& boxes, ImageSize from, ImageSize to);

// Resizes masks [G, H, W] (any dtype) to `to` with nearest neighbour, as torchvision resizes target
// masks; returns uint8.
torch::Tensor ResizeMasks(const torch::Tensor& masks, ImageSize to);

}  // namespace mrcnn

#endif  // MRCNN_MODEL_TRANSFORM_H_
