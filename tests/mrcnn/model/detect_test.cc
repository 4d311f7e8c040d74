// The detect binary: draws on a copy of the image, prints the library's detections as JSON, and
// fails with a message naming the file on bad input.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <torch/types.h>

#include "datasets/loader.h"
#include "datasets/preprocess.h"
#include "mrcnn/model/mask_rcnn.h"
#include "mrcnn/weights/weights.h"
#include "nlohmann/json.hpp"
#include "tests/mrcnn/reference.h"

namespace mrcnn {
namespace {

using ::mrcnn::testing::RunCommand;
using ::mrcnn::testing::TempDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(DetectTest, DrawsAndPrintsTheModelsDetections) {
  const std::string dir = TempDir("detect");
  Config c = Config::Preset("shapes").value();
  c.DETECTION_MIN_CONFIDENCE = 0.0;  // random weights: keep whatever comes out
  absl::StatusOr<MaskRCNN> model = CreateMaskRCNN(c);
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_TRUE(SaveWeights(**model, dir + "/w.pt").ok());
  torch::manual_seed(3);
  const torch::Tensor image = torch::randint(0, 256, {3, 100, 140}, torch::kByte);
  const torch::Tensor hwc = image.permute({1, 2, 0}).flip({2}).contiguous();  // RGB -> BGR
  const cv::Mat bgr(100, 140, CV_8UC3, hwc.data_ptr());
  ASSERT_TRUE(cv::imwrite(dir + "/in.png", bgr));

  const std::string cmd = "mrcnn/model/detect --preset=shapes --set DETECTION_MIN_CONFIDENCE=0 "
                          "--weights=" + dir + "/w.pt --image=" + dir + "/in.png --out=" + dir +
                          "/out.png --json --score_threshold=0 > " + dir + "/dets.json";
  absl::Status s = RunCommand(cmd);
  ASSERT_TRUE(s.ok()) << s;
  const nlohmann::json dets = nlohmann::json::parse(ReadFile(dir + "/dets.json"));
  // The binary resizes with the data side's inference resize, as evaluation does.
  const torch::Tensor hwc_rgb = image.permute({1, 2, 0}).contiguous();
  const cv::Mat rgb(100, 140, CV_8UC3, hwc_rgb.data_ptr());
  const datasets::PreparedImage p = datasets::PrepareInferenceImage(rgb, c).value();
  const auto& w = p.meta.window;
  (*model)->eval();
  const ImageDetections expected =
      (*model)->Detect({datasets::ImageTensor(p.image)}, {InputGeometry{{w[0], w[1], w[2], w[3]}, {100, 140}}})[0];
  ASSERT_EQ(static_cast<int64_t>(dets.size()), expected.boxes.size(0));
  ASSERT_GT(dets.size(), 0u);
  for (size_t k = 0; k < dets.size(); ++k) {
    EXPECT_EQ(dets[k]["label"].get<int64_t>(), expected.labels[k].item<int64_t>());
    EXPECT_NEAR(dets[k]["score"].get<double>(), expected.scores[k].item<double>(), 1e-6);
    EXPECT_NEAR(dets[k]["box"][2].get<double>(), expected.boxes[k][2].item<double>(), 1e-4);
    EXPECT_EQ(dets[k]["mask_area"].get<int64_t>(), expected.masks[k].sum().item<int64_t>());
  }
  const cv::Mat out = cv::imread(dir + "/out.png");
  EXPECT_EQ(out.rows, 100);
  EXPECT_EQ(out.cols, 140);
  EXPECT_GT(cv::norm(out, bgr, cv::NORM_L1), 0.0) << "nothing drawn";
}

TEST(DetectTest, BadInputFailsWithAMessage) {
  const std::string dir = TempDir("detect_bad");
  absl::StatusOr<MaskRCNN> shapes = CreateMaskRCNN(Config::Preset("shapes").value());
  ASSERT_TRUE(shapes.ok());
  ASSERT_TRUE(SaveWeights(**shapes, dir + "/w.pt").ok());
  absl::Status s = RunCommand("mrcnn/model/detect --preset=shapes --weights=" + dir +
                              "/w.pt --image=" + dir + "/absent.png");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find("absent.png: cannot open file"), std::string::npos) << s;
  // A small JPEG whose frame header declares 20000 x 20000: refused by IMAGE_MAX_PIXELS from the
  // header, before decoding.
  std::vector<uchar> jpg;
  cv::imencode(".jpg", cv::Mat(8, 8, CV_8UC3, cv::Scalar::all(90)), jpg);
  std::string bytes(jpg.begin(), jpg.end());
  const size_t sof = bytes.find(std::string("\xFF\xC0", 2));  // FF C0, length, precision, height, width
  ASSERT_NE(sof, std::string::npos);
  for (size_t at : {sof + 5, sof + 7}) bytes[at] = static_cast<char>(20000 >> 8), bytes[at + 1] = static_cast<char>(20000 & 0xFF);
  std::ofstream(dir + "/huge.jpg", std::ios::binary) << bytes;
  s = RunCommand("mrcnn/model/detect --preset=shapes --weights=" + dir + "/w.pt --image=" + dir + "/huge.jpg");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find("huge.jpg: image of 20000x20000 (400000000 pixels"), std::string::npos) << s;
  EXPECT_NE(std::string(s.message()).find("over the limit of 100000000 pixels"), std::string::npos) << s;
  // Weights of another architecture are reported, not silently half-loaded.
  s = RunCommand("mrcnn/model/detect --preset=shapes --set BACKBONE=resnet34 --weights=" + dir +
                 "/w.pt --image=" + dir + "/absent.png");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find("missing: backbone.body.layer"), std::string::npos) << s;
  s = RunCommand("mrcnn/model/detect --preset=shapes --weights=" + dir + "/none.pt --image=x.png");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find("none.pt"), std::string::npos) << s;
}

}  // namespace
}  // namespace mrcnn
