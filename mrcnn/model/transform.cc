#include "mrcnn/model/transform.h"

#include <algorithm>

namespace mrcnn {
namespace {

int64_t RoundUp(int64_t x, int64_t multiple) { return (x + multiple - 1) / multiple * multiple; }

}  // namespace

absl::StatusOr<TransformOptions> TransformOptionsFromConfig(const Config& c) {
  if (c.IMAGE_CHANNEL_COUNT != 3 || c.MEAN_PIXEL.size() != 3 || c.IMAGE_STD.size() != 3) {
    return absl::InvalidArgumentError(
        "IMAGE_CHANNEL_COUNT: the model takes RGB images (3 channels, 3 MEAN_PIXEL and IMAGE_STD values)");
  }
  TransformOptions o;
  o.size_divisible = c.IMAGE_RESIZE_MODE == ResizeMode::kTorchvision ? 32 : 64;
  return o;
}

ImageBatch BatchImages(const std::vector<torch::Tensor>& images, const TransformOptions& o) {
  TORCH_CHECK(!images.empty(), "BatchImages: no images");
  ImageBatch batch;
  std::vector<torch::Tensor> floats;
  int64_t max_h = 0, max_w = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    const torch::Tensor& img = images[i];
    TORCH_CHECK(img.defined() && img.dim() == 3 && img.size(0) == 3 && img.size(1) > 0 &&
                    img.size(2) > 0,
                "BatchImages: image ", i, " must be RGB [3, H, W], got ",
                img.defined() ? img.sizes() : torch::IntArrayRef{});
    TORCH_CHECK(img.scalar_type() == torch::kByte || img.is_floating_point(), "BatchImages: image ",
                i, " must be uint8 or floating point, got ", img.scalar_type());
    floats.push_back(img.to(torch::kFloat));
    batch.image_sizes.push_back({img.size(1), img.size(2)});
    max_h = std::max(max_h, img.size(1));
    max_w = std::max(max_w, img.size(2));
  }
  const int64_t divisor = std::max<int64_t>(1, o.size_divisible);
  max_h = RoundUp(max_h, divisor);
  max_w = RoundUp(max_w, divisor);
  batch.images = torch::zeros({static_cast<int64_t>(images.size()), 3, max_h, max_w}, torch::kFloat);
  for (size_t i = 0; i < floats.size(); ++i) {
    batch.images[i].narrow(1, 0, floats[i].size(1)).narrow(2, 0, floats[i].size(2)).copy_(floats[i]);
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

}  // namespace mrcnn
