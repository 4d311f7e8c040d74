// Runs the model on one image and draws masks, boxes, class names and scores on it.
//
//   bazel run //mrcnn:detect -- --preset=torchvision --weights=maskrcnn_resnet50_fpn_coco.pt
//       --image=photo.jpg --out=photo_detections.png [--json] [--score_threshold=0.5]
//
// --weights is a file written by mrcnn/weights/convert_torchvision.py or by SaveWeights. Class names
// come from --class_names (comma list, background first), else COCO's for NUM_CLASSES = 91, else
// "class <id>". With --json the detections are printed to stdout as JSON (boxes in image pixels).
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/types.h>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "datasets/image_io.h"
#include "datasets/loader.h"
#include "datasets/preprocess.h"
#include "gflags/gflags.h"
#include "mrcnn/config/flags.h"
#include "mrcnn/config/help.h"
#include "mrcnn/model/mask_rcnn.h"
#include "mrcnn/weights/weights.h"
#include "nlohmann/json.hpp"
#include "mrcnn/config/untrusted.h"

DEFINE_string(weights, "", "Weight file (convert torchvision .pth files with "
                           "mrcnn/weights/convert_torchvision.py).");
DEFINE_string(image, "", "Input image (JPEG, PNG, BMP or TIFF; at most IMAGE_MAX_PIXELS pixels).");
DEFINE_string(out, "", "Output image with the detections drawn (e.g. out.png); empty: do not draw.");
DEFINE_bool(json, false, "Print the detections as JSON to stdout.");
DEFINE_string(device, "cpu", "cpu | cuda | cuda:N: where the model runs (CUDA: a --config=cuda build).");
DEFINE_double(score_threshold, 0.5, "Draw and print only detections with at least this score.");
DEFINE_string(class_names, "", "Comma-separated class names, background first.");

namespace {

const char* const kCocoNames[] = {
    "__background__", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck",
    "boat", "traffic light", "fire hydrant", "N/A", "stop sign", "parking meter", "bench", "bird",
    "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "N/A", "backpack",
    "umbrella", "N/A", "N/A", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard",
    "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "N/A", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana",
    "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "N/A", "dining table", "N/A", "N/A", "toilet", "N/A", "tv",
    "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "N/A", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush"};

std::vector<std::string> ClassNames(int num_classes) {
  std::vector<std::string> names;
  if (!FLAGS_class_names.empty()) {
    names = absl::StrSplit(FLAGS_class_names, ',');
  } else if (num_classes == 91) {
    names.assign(std::begin(kCocoNames), std::end(kCocoNames));
  }
  while (static_cast<int>(names.size()) < num_classes) {
    names.push_back(absl::StrFormat("class %d", names.size()));
  }
  return names;
}

// A distinct colour per detection (golden-ratio hue steps), BGR.
cv::Scalar Colour(int i) {
  const double h = std::fmod(i * 0.618033988749895, 1.0) * 6.0;
  const double x = 1.0 - std::abs(std::fmod(h, 2.0) - 1.0);
  double r = 0, g = 0, b = 0;
  switch (static_cast<int>(h)) {
    case 0: r = 1; g = x; break;
    case 1: r = x; g = 1; break;
    case 2: g = 1; b = x; break;
    case 3: g = x; b = 1; break;
    case 4: r = x; b = 1; break;
    default: r = 1; b = x; break;
  }
  return cv::Scalar(55 + 200 * b, 55 + 200 * g, 55 + 200 * r);
}

}  // namespace

namespace {
int Main(int argc, char** argv) {
  std::vector<std::string> sets = mrcnn::ExtractRepeatedFlag("set", &argc, &argv);
  gflags::SetUsageMessage(
      "Detects objects in one image.\nUsage: detect --weights=W.pt --image=IMG [--out=OUT.png] "
      "[--json] [--preset=NAME] [--config=FILE] [--set KEY=VALUE ...]\n"
      "The config is the run folder's config.json beside the weights (a //mrcnn:train checkpoint) unless "
      "--preset or --config is given.\n" + mrcnn::SetFlagHelp());
  mrcnn::ParseFlags(&argc, &argv);
  mrcnn::ResolvePathFlags({"weights", "image", "out"});
  if (FLAGS_weights.empty() || FLAGS_image.empty()) {
    std::cerr << "detect: --weights and --image are required\n";
    return 2;
  }
  absl::StatusOr<mrcnn::Config> config = mrcnn::ConfigForWeights(FLAGS_weights, sets);
  if (!config.ok()) {
    std::cerr << "detect: " << config.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<mrcnn::MaskRCNN> model = mrcnn::CreateMaskRCNN(*config);
  if (!model.ok()) {
    std::cerr << "detect: " << model.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<mrcnn::LoadReport> report = mrcnn::LoadWeights(**model, FLAGS_weights, {});
  if (!report.ok()) {
    std::cerr << "detect: " << report.status().message() << "\n";
    return 1;
  }
  if (!report->complete()) {
    std::cerr << "detect: " << FLAGS_weights << " does not fit the model of this config:\n"
              << report->Summary();
    return 1;
  }
  const absl::StatusOr<torch::Device> device = mrcnn::ParseDevice(FLAGS_device);
  if (!device.ok()) {
    std::cerr << "detect: " << device.status().message() << "\n";
    return 1;
  }
  (*model)->to(*device);
  // The image's size is checked against IMAGE_MAX_PIXELS from its header before it is decoded.
  const absl::StatusOr<cv::Mat> read = mrcnn::datasets::ReadImageRgb(FLAGS_image, config->IMAGE_MAX_PIXELS);
  if (!read.ok()) {
    std::cerr << "detect: " << read.status().message() << "\n";
    return 1;
  }
  const cv::Mat& rgb = *read;
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  // The data side's inference resize, the one evaluation uses (crop-trained configs run on pad64).
  const absl::StatusOr<mrcnn::datasets::PreparedImage> prepared = mrcnn::datasets::PrepareInferenceImage(rgb, *config);
  if (!prepared.ok()) {
    std::cerr << "detect: " << FLAGS_image << ": " << prepared.status().message() << "\n";
    return 1;
  }
  const torch::Tensor image = mrcnn::datasets::ImageTensor(prepared->image);
  const auto& w = prepared->meta.window;
  const mrcnn::InputGeometry geometry{{w[0], w[1], w[2], w[3]}, {rgb.rows, rgb.cols}};

  (*model)->eval();
  mrcnn::ImageDetections d;
  try {
    d = (*model)->Detect({image}, {geometry})[0];
  } catch (const c10::Error& e) {
    std::cerr << "detect: " << e.what_without_backtrace() << "\n";
    return 1;
  }
  const std::vector<std::string> names = ClassNames(config->NUM_CLASSES);
  cv::Mat canvas = bgr.clone();
  nlohmann::json out = nlohmann::json::array();
  int drawn = 0;
  for (int64_t k = 0; k < d.boxes.size(0); ++k) {
    const double score = d.scores[k].item<double>();
    if (score < FLAGS_score_threshold) continue;
    const int64_t label = d.labels[k].item<int64_t>();
    const auto b = d.boxes[k];
    const std::string name = label < static_cast<int64_t>(names.size()) ? names[label] : "?";
    const torch::Tensor mask = d.masks[k].to(torch::kByte).contiguous();
    out.push_back({{"label", label},
                   {"class", name},
                   {"score", score},
                   {"box", {b[0].item<double>(), b[1].item<double>(), b[2].item<double>(), b[3].item<double>()}},
                   {"mask_area", mask.sum().item<int64_t>()}});
    const cv::Scalar colour = Colour(drawn++);
    const cv::Mat m(static_cast<int>(mask.size(0)), static_cast<int>(mask.size(1)), CV_8U, mask.data_ptr());
    cv::Mat tinted = canvas.clone();
    tinted.setTo(colour, m);
    cv::addWeighted(tinted, 0.5, canvas, 0.5, 0, canvas);
    const cv::Point p1(static_cast<int>(b[0].item<float>()), static_cast<int>(b[1].item<float>()));
    const cv::Point p2(static_cast<int>(b[2].item<float>()), static_cast<int>(b[3].item<float>()));
    cv::rectangle(canvas, p1, p2, colour, 2);
    cv::putText(canvas, absl::StrFormat("%s %.2f", name, score), p1 + cv::Point(2, 12),
                cv::FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv::LINE_AA);
  }
  if (!FLAGS_out.empty() && !cv::imwrite(FLAGS_out, canvas)) {
    std::cerr << "detect: " << FLAGS_out << ": cannot write image\n";
    return 1;
  }
  if (FLAGS_json) std::cout << out.dump(2) << "\n";
  std::cerr << "detect: " << out.size() << " detections with score >= " << FLAGS_score_threshold
            << (FLAGS_out.empty() ? "" : ", drawn on " + FLAGS_out) << "\n";
  return 0;
}
}  // namespace

int main(int argc, char** argv) { return mrcnn::GuardedMain("detect", Main, argc, argv); }
