// Synthetic shapes: the tutorial's toy dataset and the sweep's embedded default. Each image has a
// random background colour and 1 to 4 squares, circles and triangles of random colour, size and
// position; later shapes lie on top of earlier ones and the earlier masks lose what is covered (a shape
// that would keep less than a quarter of itself is redrawn elsewhere). Every image is drawn from its
// own seed, so image k of a split is the same whatever the dataset size, and the validation set of a
// seed is fixed.
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
