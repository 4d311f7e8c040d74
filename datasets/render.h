// Drawing labels over an image, so people can look at them: each instance's mask tinted in its own
// colour, its box outlined and its class name written above the box.
//
//   cv::Mat bgr = RenderInstances(rgb, masks, ds.class_names());
//   cv::imwrite("out.png", bgr);
#ifndef DATASETS_RENDER_H_
#define DATASETS_RENDER_H_

#include <string>
#include <vector>

#include "datasets/dataset.h"
#include "opencv2/core.hpp"

namespace mrcnn::datasets {

// rgb: H x W CV_8UC3 RGB. Returns a BGR image ready for cv::imwrite.
cv::Mat RenderInstances(const cv::Mat& rgb, const InstanceMasks& masks, const std::vector<std::string>& class_names);

}  // namespace mrcnn::datasets

#endif  // DATASETS_RENDER_H_
