#include "datasets/render.h"

#include <algorithm>

#include "opencv2/imgproc.hpp"

namespace mrcnn::datasets {

cv::Mat RenderInstances(const cv::Mat& rgb, const InstanceMasks& masks, const std::vector<std::string>& class_names) {
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  const double font_scale = std::max(0.4, std::min(bgr.rows, bgr.cols) / 800.0);
  const int thickness = std::max(1, std::min(bgr.rows, bgr.cols) / 400);
  for (int i = 0; i < masks.size(); ++i) {
    // Hue walks the golden angle so neighbouring instances differ.
    cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar((i * 137 / 2) % 180, 220, 255)), colour_mat;
    cv::cvtColor(hsv, colour_mat, cv::COLOR_HSV2BGR);
    const cv::Vec3b c = colour_mat.at<cv::Vec3b>(0, 0);
    const cv::Scalar colour(c[0], c[1], c[2]);
    cv::Mat tinted;
    cv::addWeighted(bgr, 0.5, cv::Mat(bgr.size(), bgr.type(), colour), 0.5, 0, tinted);
    tinted.copyTo(bgr, masks.masks[i]);
    const std::array<int, 4> b = MaskBox(masks.masks[i]);
    cv::rectangle(bgr, cv::Point(b[0], b[1]), cv::Point(b[2] - 1, b[3] - 1), colour, thickness);
    const int id = masks.class_ids[i];
    std::string label = id >= 0 && id < static_cast<int>(class_names.size()) ? class_names[id] : std::to_string(id);
    if (masks.crowd[i]) label += " (crowd)";
    int baseline = 0;
    const cv::Size ts = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, font_scale, thickness, &baseline);
    const int ty = std::max(ts.height + 2, b[1] - 3);
    cv::rectangle(bgr, cv::Point(b[0], ty - ts.height - 2), cv::Point(b[0] + ts.width + 2, ty + baseline), colour,
                  cv::FILLED);
    cv::putText(bgr, label, cv::Point(b[0] + 1, ty), cv::FONT_HERSHEY_SIMPLEX, font_scale, cv::Scalar(0, 0, 0),
                thickness);
  }
  return bgr;
}

}  // namespace mrcnn::datasets
