// Acceptance: `inspect` on a labelme folder with a few images prints the right counts per class, the
// image sizes and the problems, and --render writes one PNG per image with the labels drawn.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "opencv2/imgcodecs.hpp"
#include "tests/datasets/fixtures.h"

namespace mrcnn::datasets {
namespace {

using ::testing::HasSubstr;

std::string RunCommand(const std::string& command, int* status) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  *status = pclose(pipe);
  return out;
}

TEST(Inspect, LabelmeFolderCountsAndRenders) {
  const std::string dir = testing::WriteLabelme(testing::MakeTempDir("inspect_labelme"));
  // One extra image with a shape type that makes no mask, to see it reported.
  testing::WriteImage(dir + "/d.png", 30, 20);
  testing::WriteText(dir + "/d.json", R"({"imagePath": "d.png", "shapes": [
      {"label": "dog", "points": [[2, 2], [20, 2], [20, 15]], "shape_type": "polygon"},
      {"label": "dog", "points": [[1, 1], [9, 9]], "shape_type": "linestrip"}]})");
  const std::string out_dir = testing::MakeTempDir("inspect_render");
  int status = 0;
  const std::string split_dir = testing::MakeTempDir("inspect_split");
  const std::string out = RunCommand("datasets/inspect --format=labelme --dataset_dir=" + dir + " --render=" + out_dir +
                                         " --write_split=" + split_dir + " --val_fraction=0.25 --split_seed=4",
                                     &status);
  ASSERT_EQ(status, 0) << out;
  // SmallDataset: a (cat, dog), b (dog), c (cat, cat); plus d (dog).
  EXPECT_THAT(out, HasSubstr("images: 4\n"));
  EXPECT_THAT(out, HasSubstr("instances: 6 (crowd: 0)"));
  EXPECT_THAT(out, HasSubstr("1 cat: 2 images, 3 instances"));
  EXPECT_THAT(out, HasSubstr("2 dog: 3 images, 3 instances"));
  EXPECT_THAT(out, HasSubstr("64x48: 1"));
  EXPECT_THAT(out, HasSubstr("80x60: 1"));
  EXPECT_THAT(out, HasSubstr("30x20: 1"));
  EXPECT_THAT(out, HasSubstr(dir + "/d.json: instance 1: unsupported shape_type \"linestrip\""));
  EXPECT_THAT(out, HasSubstr("rendered 4 images"));
  EXPECT_THAT(out, HasSubstr("split: 3 images in " + split_dir + "/train.txt, 1 in " + split_dir + "/val.txt"));
  const std::string train = testing::ReadText(split_dir + "/train.txt"), val = testing::ReadText(split_dir + "/val.txt");
  EXPECT_EQ(std::count(train.begin(), train.end(), '\n'), 3);
  EXPECT_EQ(std::count(val.begin(), val.end(), '\n'), 1);
  for (const char* name : {"a", "b", "c", "d"}) {
    const cv::Mat original = cv::imread(dir + "/" + name + ".png");
    const cv::Mat render = cv::imread(out_dir + "/" + name + ".png");
    ASSERT_FALSE(render.empty()) << name;
    EXPECT_EQ(render.size(), original.size());
    EXPECT_GT(cv::norm(render, original, cv::NORM_L1), 0) << name;
  }
  // Pixels far from every shape are left as they were: a's bottom-left corner.
  const cv::Mat a = cv::imread(dir + "/a.png"), ra = cv::imread(out_dir + "/a.png");
  EXPECT_EQ(a.at<cv::Vec3b>(46, 1), ra.at<cv::Vec3b>(46, 1));
}

// The issue's files: a 1 KB PNG declaring 60000 x 60000 and a JPEG declaring 20000 x 20000 were listed
// as normal images (3.5 GB resident) and --render died on an OpenCV exception. Now both are problems
// naming the file, the size and the limit, and the run renders the good image.
TEST(Inspect, HugeDeclaredSizesAreProblemsNotCrashes) {
  const std::string root = testing::MakeTempDir("inspect_huge");
  const std::string img = root + "/JPEGImages/";
  const std::string label = R"([{"category":"1","type":"polygon","points":[[2,2],[30,3],[15,25]]}])";
  testing::WriteImage(img + "good.png", 40, 30);
  testing::WriteText(img + "huge.png", testing::ImageDeclaringSize("png", 60000, 60000));
  testing::WriteText(img + "huge_jpeg.jpg", testing::ImageDeclaringSize("jpg", 20000, 20000));
  for (const char* name : {"good", "huge", "huge_jpeg"}) testing::WriteText(root + "/Segmentations/" + name + ".txt", label);
  const std::string out_dir = testing::MakeTempDir("inspect_huge_render");
  int status = 0;
  const std::string out =
      RunCommand("datasets/inspect --format=tutorial --dataset_dir=" + root + " --render=" + out_dir, &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_THAT(out, HasSubstr("images: 1\n"));
  EXPECT_THAT(out, HasSubstr("40x30: 1"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("60000x60000: 1")));
  EXPECT_THAT(out, HasSubstr(img + "huge.png: image of 60000x60000 (3600000000 pixels, 10.8 GB decoded)"));
  EXPECT_THAT(out, HasSubstr(img + "huge_jpeg.jpg: image of 20000x20000 (400000000 pixels"));
  EXPECT_THAT(out, HasSubstr("over the limit of 100000000 pixels; to read it, raise IMAGE_MAX_PIXELS"));
  EXPECT_THAT(out, HasSubstr("--image_max_pixels=N"));
  EXPECT_THAT(out, HasSubstr("rendered 1 images"));
}

TEST(Inspect, ImageMaxPixelsFlagRaisesTheLimit) {
  const std::string root = testing::MakeTempDir("inspect_big");
  testing::WriteImage(root + "/JPEGImages/big.jpg", 3000, 2000);  // 6000000 pixels
  testing::WriteText(root + "/Segmentations/big.txt",
                     R"([{"category":"1","type":"polygon","points":[[2,2],[300,3],[150,250]]}])");
  int status = 0;
  std::string out = RunCommand("datasets/inspect --format=tutorial --dataset_dir=" + root + " --image_max_pixels=5999999", &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_THAT(out, HasSubstr("images: 0\n"));
  EXPECT_THAT(out, HasSubstr("big.jpg: image of 3000x2000 (6000000 pixels, 18 MB decoded) is over the limit of 5999999"));
  out = RunCommand("datasets/inspect --format=tutorial --dataset_dir=" + root + " --image_max_pixels=6000000", &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_THAT(out, HasSubstr("images: 1\n"));
  EXPECT_THAT(out, HasSubstr("3000x2000: 1"));
  out = RunCommand("datasets/inspect --format=tutorial --dataset_dir=" + root + " --image_max_pixels=0", &status);
  EXPECT_NE(status, 0);
  EXPECT_THAT(out, HasSubstr("--image_max_pixels must be >= 1"));
}

TEST(Inspect, BadArgumentsAreReported) {
  int status = 0;
  std::string out = RunCommand("datasets/inspect --format=voc --dataset_dir=/tmp", &status);
  EXPECT_NE(status, 0);
  EXPECT_THAT(out, HasSubstr("--format must be tutorial, labelme, coco or shapes"));
  out = RunCommand("datasets/inspect --format=tutorial --dataset_dir=/nonexistent/x", &status);
  EXPECT_NE(status, 0);
  EXPECT_THAT(out, HasSubstr("/nonexistent/x/JPEGImages: folder not found"));
}

}  // namespace
}  // namespace mrcnn::datasets
