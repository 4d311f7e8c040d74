// Image batching of the model: pad into one tensor, and map results back.
//
// The model neither resizes nor normalises: the data side (datasets/preprocess: PrepareImage in
// training, PrepareInferenceImage in evaluation and detect) owns resizing, flips, crops and
// normalisation, as Detectron2's DatasetMapper owns resizing, so the same image reaches the network as
// the same tensor in training and in inference. Here, as Detectron2's ImageList.from_tensors: zero
// padding at the bottom and right to a multiple of 32 (IMAGE_RESIZE_MODE "torchvision", its
// size_divisible) or 64 (matterport's modes). Images are prepared RGB [3, H, W] float.
//
//   TransformOptions t = TransformOptionsFromConfig(config).value();
//   ImageBatch batch = BatchImages(images, t);  // batch.images [N, 3, Hp, Wp]
#ifndef MRCNN_MODEL_TRANSFORM_H_
#define MRCNN_MODEL_TRANSFORM_H_

#include <array>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "mrcnn/config/config.h"

namespace mrcnn {

using ImageSize = std::pair<int64_t, int64_t>;  // (height, width)

struct TransformOptions {
  int64_t size_divisible = 32;
};

absl::StatusOr<TransformOptions> TransformOptionsFromConfig(const Config& config);

struct ImageBatch {
  torch::Tensor images;                // [N, 3, Hp, Wp] float32, zero padded
  std::vector<ImageSize> image_sizes;  // the input images' sizes, before padding
  ImageSize padded_size() const { return {images.size(2), images.size(3)}; }
};

// images: prepared RGB [3, H_i, W_i] (any dtype; converted to float32). Throws c10::Error naming the image on a bad shape or dtype.
ImageBatch BatchImages(const std::vector<torch::Tensor>& images, const TransformOptions& options);

// Where a network input came from, to map its detections back (matterport's unmold_detections,
// torchvision's postprocess): the image content's window (y1, x1, y2, x2) in the input and the size
// of the image the window shows. The default (window empty) is the whole input at its own size.
struct InputGeometry {
  std::array<int64_t, 4> window = {0, 0, 0, 0};
  ImageSize original_size = {0, 0};
};

// Scales boxes [K, 4] from an image of size `from` to one of size `to` (per-axis ratios in float32,
// as torchvision's resize_boxes).
torch::Tensor ResizeBoxes(const torch::Tensor& boxes, ImageSize from, ImageSize to);

}  // namespace mrcnn

#endif  // MRCNN_MODEL_TRANSFORM_H_
