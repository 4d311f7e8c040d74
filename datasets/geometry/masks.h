// Bit masks as row-major bytes (0 or 1, `width` per row): boxes of masks and matterport's mini masks.
// One code path for the data side (datasets/preprocess) and the model's ops (mrcnn/ops, on tensors).
//
//   std::array<int, 4> box = geometry::MaskBox(mask.data(), h, w);          // x1, y1, x2, y2
//   std::vector<uint8_t> mini = geometry::MinimizeMask(mask.data(), h, w, box, 56, 56);
//   std::vector<uint8_t> full = geometry::ExpandMask(mini.data(), 56, 56, box, h, w);
#ifndef DATASETS_GEOMETRY_MASKS_H_
#define DATASETS_GEOMETRY_MASKS_H_

#include <array>
#include <cstdint>
#include <vector>

namespace mrcnn::geometry {

// [x1, y1, x2, y2] of the mask's set pixels with x2, y2 exclusive (one past the last pixel), so a
// single pixel at (3, 4) gives [3, 4, 4, 5]; all zeros for an empty mask.
std::array<int, 4> MaskBox(const uint8_t* mask, int height, int width);

// A box [x1, y1, x2, y2] rounded to whole pixels (half to even, as matterport's integer boxes).
std::array<int64_t, 4> RoundBox(const std::array<double, 4>& box);

// matterport's minimize_mask for one instance: the (rounded) box's crop of `mask` (parts outside the
// image are 0) resized bilinearly to mini_height x mini_width (half-pixel centres, no antialiasing)
// and thresholded as np.around does (above one half is set). An empty box gives an all-zero mask.
std::vector<uint8_t> MinimizeMask(const uint8_t* mask, int height, int width, const std::array<double, 4>& box,
                                  int mini_height, int mini_width);

// matterport's expand_mask: the mini mask resized bilinearly to its (rounded) box, thresholded the
// same way and placed in a height x width mask (clipped to the image).
std::vector<uint8_t> ExpandMask(const uint8_t* mini, int mini_height, int mini_width,
                                const std::array<double, 4>& box, int height, int width);

// Bilinear resize of a single-channel float plane (half-pixel centres, align_corners = false, edge
// clamped; torch's and OpenCV's INTER_LINEAR rule without antialiasing).
std::vector<float> ResizeBilinear(const float* in, int in_height, int in_width, int out_height, int out_width);

}  // namespace mrcnn::geometry

#endif  // DATASETS_GEOMETRY_MASKS_H_
