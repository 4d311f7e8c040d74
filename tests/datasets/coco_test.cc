// COCO instances JSON: polygons (several parts), uncompressed and compressed RLE (strings made by
// pycocotools.mask.encode for masks defined here), iscrowd, and FindCocoFiles.
#include "datasets/coco.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/datasets/fixtures.h"

namespace mrcnn::datasets {
namespace {

using ::testing::ElementsAre;
using nlohmann::json;

TEST(LoadCoco, PolygonsRleAndCrowd) {
  const std::string dir = testing::MakeTempDir("coco");
  testing::WriteImage(dir + "/images/small.png", 4, 5);
  testing::WriteImage(dir + "/images/big.png", 30, 40);
  const json j = {
      {"images", {{{"id", 7}, {"file_name", "small.png"}, {"width", 4}, {"height", 5}},
                  {{"id", 9}, {"file_name", "big.png"}, {"width", 30}, {"height", 40}}}},
      {"categories", {{{"id", 3}, {"name", "person"}}, {{"id", 1}, {"name", "bike"}}}},
      {"annotations",
       {
           // 0: compressed RLE of m[1:4, 1:3] = 1; m[0, 3] = 1 (pycocotools: "6320ON3")
           {{"id", 1}, {"image_id", 7}, {"category_id", 3}, {"iscrowd", 0},
            {"segmentation", {{"size", {5, 4}}, {"counts", "6320ON3"}}}},
           // 1: the same mask uncompressed, as a crowd region
           {{"id", 2}, {"image_id", 7}, {"category_id", 1}, {"iscrowd", 1},
            {"segmentation", {{"size", {5, 4}}, {"counts", {6, 3, 2, 3, 1, 1, 4}}}}},
           // 2: two polygon parts of one object
           {{"id", 3}, {"image_id", 9}, {"category_id", 1}, {"iscrowd", 0},
            {"segmentation", {{1, 1, 5, 1, 5, 5, 1, 5}, {10, 10, 14, 10, 14, 14, 10, 14}}}},
           // 3: b[3:30, 5:25] = 1; b[10:12, 0:30] = 1 compressed by pycocotools
           {{"id", 4}, {"image_id", 9}, {"category_id", 3}, {"iscrowd", 0},
            {"segmentation",
             {{"size", {40, 30}},
              {"counts", ":2V10000000Ii0^O00000000000000000000000000000000000007WOb00000000F"}}}},
       }},
  };
  testing::WriteText(dir + "/annotations.json", j.dump());
  absl::StatusOr<CocoOptions> files = FindCocoFiles(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->annotation_file, dir + "/annotations.json");
  EXPECT_EQ(files->image_dir, dir + "/images");
  ProblemLog log;
  absl::StatusOr<Dataset> ds = LoadCoco(*files, &log);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_TRUE(log.problems().empty()) << log.Report();
  EXPECT_THAT(ds->class_names(), ElementsAre("BG", "bike", "person"));  // by category id
  ASSERT_EQ(ds->num_images(), 2);
  absl::StatusOr<InstanceMasks> small = ds->LoadMask(0);
  ASSERT_TRUE(small.ok()) << small.status();
  ASSERT_EQ(small->size(), 2);
  EXPECT_THAT(small->class_ids, ElementsAre(2, 1));
  EXPECT_THAT(small->crowd, ElementsAre(false, true));
  cv::Mat expected = cv::Mat::zeros(5, 4, CV_8UC1);
  expected(cv::Rect(1, 1, 2, 3)).setTo(1);
  expected.at<uint8_t>(0, 3) = 1;
  for (int i = 0; i < 2; ++i) EXPECT_EQ(cv::countNonZero(small->masks[i] != expected), 0) << i;
  absl::StatusOr<InstanceMasks> big = ds->LoadMask(1);
  ASSERT_TRUE(big.ok()) << big.status();
  ASSERT_EQ(big->size(), 2);
  EXPECT_EQ(cv::countNonZero(big->masks[0]), 32);
  EXPECT_EQ(cv::countNonZero(big->masks[1]), 560);
  EXPECT_EQ(MaskBox(big->masks[1]), (std::array<int, 4>{0, 3, 30, 30}));
}

TEST(FindCocoFiles, InstancesFileUnderAnnotations) {
  const std::string dir = testing::MakeTempDir("coco_find");
  testing::WriteText(dir + "/annotations/instances_val2017.json", "{}");
  absl::StatusOr<CocoOptions> files = FindCocoFiles(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->annotation_file, dir + "/annotations/instances_val2017.json");
  EXPECT_EQ(files->image_dir, dir);
  EXPECT_FALSE(FindCocoFiles(dir + "/nope").ok());
}

}  // namespace
}  // namespace mrcnn::datasets
