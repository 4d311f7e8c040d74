// Synthetic shapes: the tutorial's toy dataset and the sweep's embedded default. Each image has a
// random background colour and 1 to 4 squares, circles and triangles of random colour, size and
// position, drawn as matterport's shapes tutorial draws them (at 128 px: centres 20 px or more inside
// the border, half-size 20 to 32 px, a shape whose box overlaps an earlier one's by IoU > 0.3 is
// redrawn elsewhere; other sizes scale these by the short side / 128). Later shapes lie on top of
// earlier ones and the earlier masks lose what is covered (a shape that would keep less than a quarter
// of itself is also redrawn). Every image is drawn from its own seed, so image k of a split is the same
// whatever the dataset size, and the validation set of a seed is fixed.
//
//   Dataset train = MakeShapesDataset({.count = 500, .height = 128, .width = 128, .seed = 1});
//   Dataset val = MakeShapesDataset({.count = 50, .height = 128, .width = 128, .seed = 1,
//                                    .split = "val"});
//
// Classes (source "shapes"): 1 square, 2 circle, 3 triangle.
#ifndef DATASETS_SHAPES_H_
#define DATASETS_SHAPES_H_

#include <cstdint>
#include <string>

#include "datasets/dataset.h"

namespace mrcnn::datasets {

struct ShapesOptions {
  int count = 100;
  int height = 128;
  int width = 128;
  uint64_t seed = 0;
  std::string split = "train";  // "train" or "val": independent streams of images
};

Dataset MakeShapesDataset(const ShapesOptions& options);

}  // namespace mrcnn::datasets

#endif  // DATASETS_SHAPES_H_
