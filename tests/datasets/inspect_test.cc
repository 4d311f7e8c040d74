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
