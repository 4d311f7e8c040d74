// The one owner of the image and target transform (Detectron2's DatasetMapper): everything that
// decides which pixels the model sees happens here, once, for training, evaluation and detect alike.
//
// Training (PrepareImage), as matterport's load_image_gt: resize (IMAGE_RESIZE_MODE none | square |
// pad64 | crop with IMAGE_MIN_DIM, IMAGE_MAX_DIM, IMAGE_MIN_SCALE, utils.resize_image's semantics; or
// "torchvision": GeneralizedRCNNTransform's scale = min(MIN / short side, MAX / long side), bilinear,
// no padding), optional horizontal flip, a random IMAGE_MIN_DIM square crop in crop mode, boxes from
// masks, MAX_GT_INSTANCES, mini masks (USE_MINI_MASK, MINI_MASK_SHAPE; minimize_mask and expand_mask's
// semantics).
// Both end with normalisation (NormaliseImage), as matterport's mold_image; the model only pads a
// batch (mrcnn/model/transform).
// Evaluation and detect (PrepareInferenceImage): the same resize with no flip and no randomness;
// crop mode becomes pad64 (InferenceResizeMode), so the same image with flips off reaches the model as
// the same pixels in training and in evaluation for every other mode.
//
//   Rng rng(DeriveSeed(seed, "augment", k));
//   absl::StatusOr<PreparedImage> p = PrepareImage(ds, index, config, /*augment=*/true, &rng);
//   p->image   H x W CV_32FC3 normalised RGB;  p->boxes[i] = {x1, y1, x2, y2} (x2, y2 exclusive)
//   absl::StatusOr<PreparedImage> q = PrepareInferenceImage(ds, index, config);  // no instances
#ifndef DATASETS_PREPROCESS_H_
#define DATASETS_PREPROCESS_H_

#include <array>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "datasets/dataset.h"
#include "datasets/random.h"
#include "mrcnn/config/config.h"
#include "opencv2/core.hpp"

namespace mrcnn::datasets {

// Geometry of a resize, as matterport's resize_image returns it.
struct ResizeGeometry {
  double scale = 1.0;
  int resized_height = 0;                   // size after scaling, before padding or cropping
  int resized_width = 0;
  std::array<int, 4> padding = {0, 0, 0, 0};  // top, bottom, left, right
  std::array<int, 4> crop = {0, 0, 0, 0};     // y, x, h, w; all 0 when not cropping
  std::array<int, 4> window = {0, 0, 0, 0};   // y1, x1, y2, x2 of the image inside the output
  int out_height = 0;
  int out_width = 0;
  // IMAGE_RESIZE_MODE "torchvision": resample with torch's upsample_bilinear2d instead of OpenCV's
  // INTER_LINEAR, after normalising (torchvision's order), so the pixels are torchvision's bit for bit.
  bool torch_bilinear = false;
};

// Decides the geometry for an image of height x width. `rng` picks the crop origin in crop mode.
absl::StatusOr<ResizeGeometry> ComputeResize(int height, int width, const mrcnn::Config& config, Rng* rng);
// Resizes (bilinear), pads with zeros or crops: uint8 or float in, CV_32F with the input's channels out.
cv::Mat ApplyResizeToImage(const cv::Mat& image, const ResizeGeometry& g);
// Same geometry for a 0/1 mask, nearest neighbour (matterport's resize_mask, torchvision's masks).
cv::Mat ApplyResizeToMask(const cv::Mat& mask, const ResizeGeometry& g);

// (x / 255 - MEAN_PIXEL / 255) / (IMAGE_STD / 255) per RGB channel in float32 (torchvision's
// arithmetic on ToTensor() images); any depth in, CV_32FC3 out.
cv::Mat NormaliseImage(const cv::Mat& image, const mrcnn::Config& config);

// Flips an image or mask left-right.
cv::Mat FlipHorizontal(const cv::Mat& m);

// matterport's minimize_mask for one instance (geometry::MinimizeMask, the one mini-mask code path):
// the box's crop of `mask` resized bilinearly to mini_shape (h, w) and thresholded (> 0.5).
// box = {x1, y1, x2, y2}, exclusive ends.
cv::Mat MinimizeMask(const cv::Mat& mask, const std::array<float, 4>& box, const std::vector<int>& mini_shape);
// matterport's expand_mask (geometry::ExpandMask): the mini mask resized back to the box and placed in
// a height x width mask.
cv::Mat ExpandMask(const cv::Mat& mini, const std::array<float, 4>& box, int height, int width);

struct ImageMeta {
  int image_index = -1;
  std::string image_id;
  int original_height = 0;
  int original_width = 0;
  int height = 0;  // after resizing and padding (before padding to the batch)
  int width = 0;
  std::array<int, 4> window = {0, 0, 0, 0};  // y1, x1, y2, x2 of the image content
  double scale = 1.0;
  bool flipped = false;
  std::array<int, 4> crop = {0, 0, 0, 0};
  // The JPEG was decoded at 1/decoded_reduction (2, 4, 8) because the resize makes it far smaller;
  // the masks and original_* stay at the full size.
  int decoded_reduction = 1;
};

struct PreparedImage {
  cv::Mat image;                           // H x W CV_32FC3, (RGB / 255 - MEAN_PIXEL / 255) / (IMAGE_STD / 255)
  std::vector<std::array<float, 4>> boxes;  // x1, y1, x2, y2 in image pixels, exclusive ends
  std::vector<int> class_ids;
  std::vector<bool> crowd;
  std::vector<cv::Mat> masks;  // CV_8UC1 0/1; H x W, or MINI_MASK_SHAPE when USE_MINI_MASK
  int mask_height = 0;         // the masks' size, also when there are none
  int mask_width = 0;
  ImageMeta meta;
  int dropped_empty = 0;      // instances whose mask vanished in the resize or crop
  int dropped_over_max = 0;   // instances beyond MAX_GT_INSTANCES
};

// The size (height, width) the resize of a height x width image makes before padding or cropping:
// what a decoder must at least deliver (Dataset::LoadImageForSize).
absl::StatusOr<std::array<int, 2>> ScaledSize(int height, int width, const mrcnn::Config& config);

// The IMAGE_RESIZE_MODE outside training: "crop" is a training augmentation (matterport's
// resize_image mode "crop": random crops of the scaled image), and a crop-trained model runs on whole
// "pad64" images, as matterport's nucleus sample does (NucleusInferenceConfig): the same scale rule
// (up to IMAGE_MIN_DIM and IMAGE_MIN_SCALE, never down), so objects have the size they had in training.
// Every other mode is its own inference mode.
mrcnn::ResizeMode InferenceResizeMode(const mrcnn::Config& config);
// `config` with IMAGE_RESIZE_MODE = InferenceResizeMode(config).
mrcnn::Config InferenceConfig(const mrcnn::Config& config);

// Resizes, pads or crops `rgb` (uint8 or float, 0-255) and normalises it (NormaliseImage; torchvision
// mode normalises first, as torchvision does) for the model, and fills meta's geometry (scale,
// window, crop, height, width, original size). full_height x full_width is the image's full size: a
// JPEG decoded at 1/2..1/8 is resized with the geometry of its full size. `rng` picks the crop origin
// (crop mode only; may be null otherwise). Training and inference both resize through this function.
absl::StatusOr<cv::Mat> ResizeForModel(const cv::Mat& rgb, int full_height, int full_width,
                                       const mrcnn::Config& config, Rng* rng, ImageMeta* meta);

// The model input of image `index` for evaluation: decoded for InferenceConfig's size (reduced when a
// JPEG is far larger), resized by ResizeForModel under InferenceConfig(config), never flipped. No
// instances are prepared (evaluation scores against the dataset's full-size masks).
absl::StatusOr<PreparedImage> PrepareInferenceImage(const Dataset& ds, int index, const mrcnn::Config& config);
// The same for an image already decoded at its full size (detect).
absl::StatusOr<PreparedImage> PrepareInferenceImage(const cv::Mat& rgb, const mrcnn::Config& config);

// Loads image `index` of `ds` and prepares it. With `augment`, flips left-right with probability 1/2
// drawn from `rng` (`force_flip` 0/1 overrides the draw for tests; -1 draws). A JPEG far larger than
// the resize makes is decoded at 1/2, 1/4 or 1/8 and resized from there, with the geometry of its
// full size, so the output and the masks (rasterised at full size) are those of a full decode.
// OpenCV failures become errors naming the file.
absl::StatusOr<PreparedImage> PrepareImage(const Dataset& ds, int index, const mrcnn::Config& config, bool augment,
                                           Rng* rng, int force_flip = -1);

}  // namespace mrcnn::datasets

#endif  // DATASETS_PREPROCESS_H_
