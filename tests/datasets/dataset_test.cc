// The dataset model: class numbering (0 is BG, source ids mapped in order added), Prepare's checks,
// masks in matterport's H x W x N layout, occlusion order, Subset, and errors for bad indices.
#include "datasets/dataset.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/datasets/fixtures.h"

namespace mrcnn::datasets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ImageInfo Synthetic(const std::string& id, std::vector<Polygon> polys, std::vector<int> classes) {
  ImageInfo info;
  info.source = "s";
  info.id = id;
  info.width = 10;
  info.height = 8;
  info.synthetic = true;
  info.occlusion_ordered = true;
  for (size_t k = 0; k < polys.size(); ++k) {
    Annotation a;
    a.class_id = classes[k];
    a.source_index = static_cast<int>(k);
    a.polygons.push_back(polys[k]);
    info.annotations.push_back(a);
    info.scene.colours.push_back({static_cast<uint8_t>(50 * (k + 1)), 0, 0});
  }
  return info;
}

TEST(Dataset, ClassesAreNumberedInTheOrderAdded) {
  Dataset ds;
  ASSERT_TRUE(ds.AddClass("coco", 90, "toothbrush").ok());
  ASSERT_TRUE(ds.AddClass("coco", 1, "person").ok());
  ASSERT_TRUE(ds.AddClass("coco", 1, "person again").ok());  // known (source, id): ignored
  ASSERT_TRUE(ds.AddClass("mine", 1, "sign").ok());
  EXPECT_FALSE(ds.AddClass("mine", 0, "bg").ok());
  EXPECT_FALSE(ds.AddClass("", 3, "x").ok());
  ASSERT_TRUE(ds.Prepare().ok());
  EXPECT_THAT(ds.class_names(), ElementsAre("BG", "toothbrush", "person", "sign"));
  EXPECT_EQ(ds.MapSourceClassId("coco", 90), 1);
  EXPECT_EQ(ds.MapSourceClassId("mine", 1), 3);
  EXPECT_EQ(ds.MapSourceClassId("mine", 2), -1);
}

TEST(Dataset, PrepareRejectsAnnotationsOfUnknownClasses) {
  Dataset ds;
  ASSERT_TRUE(ds.AddClass("s", 1, "a").ok());
  ImageInfo info = Synthetic("x", {{{1, 1}, {5, 1}, {5, 5}}}, {2});
  info.label_path = "x.json";
  ds.AddImage(info);
  const absl::Status s = ds.Prepare();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("x.json: instance 0: class 2 of source 's' was never added"));
}

TEST(Dataset, MasksOcclusionAndLayout) {
  Dataset ds;
  ASSERT_TRUE(ds.AddClass("s", 1, "a").ok());
  ASSERT_TRUE(ds.AddClass("s", 2, "b").ok());
  // The second square covers the right half of the first; a third is hidden under the second.
  ds.AddImage(Synthetic("x", {{{0, 0}, {6, 0}, {6, 4}, {0, 4}}, {{4, 1}, {6, 1}, {6, 3}, {4, 3}},
                              {{3, 0}, {9, 0}, {9, 6}, {3, 6}}},
                        {1, 2, 2}));
  EXPECT_FALSE(ds.LoadMask(0).ok());  // not prepared
  ASSERT_TRUE(ds.Prepare().ok());
  absl::StatusOr<InstanceMasks> m = ds.LoadMask(0);
  ASSERT_TRUE(m.ok()) << m.status();
  // The middle square has 4 pixels of its own, all under the third: it is left out.
  EXPECT_EQ(cv::countNonZero(RasteriseAnnotation(ds.image_info(0).annotations[1], 8, 10).value()), 4);
  ASSERT_EQ(m->size(), 2);
  EXPECT_THAT(m->class_ids, ElementsAre(1, 2));
  EXPECT_THAT(m->source_index, ElementsAre(0, 2));
  EXPECT_EQ(cv::countNonZero(m->masks[0]), 12);  // columns 0..2 of rows 0..3
  EXPECT_EQ(cv::countNonZero(m->masks[1]), 36);
  const std::vector<uint8_t> hwn = m->ToHWN();
  ASSERT_EQ(hwn.size(), 8u * 10u * 2u);
  EXPECT_EQ(hwn[(1 * 10 + 2) * 2 + 0], 1);  // (y=1, x=2) in instance 0
  EXPECT_EQ(hwn[(1 * 10 + 4) * 2 + 0], 0);  // covered
  EXPECT_EQ(hwn[(1 * 10 + 4) * 2 + 1], 1);
  // The painted image agrees: the top shape's colour wins.
  const cv::Mat rgb = ds.LoadImage(0).value();
  EXPECT_EQ(rgb.at<cv::Vec3b>(1, 4)[0], 150);
  EXPECT_EQ(rgb.at<cv::Vec3b>(1, 2)[0], 50);
  EXPECT_FALSE(ds.LoadImage(5).ok());
  EXPECT_FALSE(ds.LoadMask(-1).ok());
}

TEST(Dataset, SubsetKeepsClassesAndChosenImages) {
  Dataset ds;
  ASSERT_TRUE(ds.AddClass("s", 1, "a").ok());
  for (int i = 0; i < 4; ++i) ds.AddImage(Synthetic("img" + std::to_string(i), {{{1, 1}, {5, 1}, {5, 5}}}, {1}));
  ASSERT_TRUE(ds.Prepare().ok());
  const Dataset sub = ds.Subset({3, 1});
  EXPECT_EQ(sub.num_images(), 2);
  EXPECT_EQ(sub.image_info(0).id, "img3");
  EXPECT_EQ(sub.FindImage("img1"), 1);
  EXPECT_EQ(sub.FindImage("img0"), -1);
  EXPECT_EQ(sub.class_names(), ds.class_names());
  EXPECT_TRUE(sub.LoadMask(1).ok());
}

TEST(Dataset, ImageChangedOnDiskIsReported) {
  const std::string dir = testing::MakeTempDir("changed");
  testing::WriteImage(dir + "/a.png", 20, 10);
  Dataset ds;
  ImageInfo info;
  info.source = "s";
  info.id = "a";
  info.path = dir + "/a.png";
  info.width = 21;
  info.height = 10;
  ds.AddImage(info);
  ASSERT_TRUE(ds.Prepare().ok());
  const absl::StatusOr<cv::Mat> rgb = ds.LoadImage(0);
  ASSERT_FALSE(rgb.ok());
  EXPECT_THAT(std::string(rgb.status().message()), HasSubstr(dir + "/a.png: image is now 20x10 but was 21x10"));
}

TEST(Dataset, LoadImageChecksThePixelLimitBeforeDecoding) {
  const std::string dir = testing::MakeTempDir("limit");
  testing::WriteImage(dir + "/a.png", 20, 10);
  Dataset ds;
  ImageInfo info;
  info.source = "s";
  info.id = "a";
  info.path = dir + "/a.png";
  info.width = 20;
  info.height = 10;
  ds.AddImage(info);
  info.id = "unchecked";  // added by hand, size unknown
  info.path = dir + "/huge.png";
  info.width = info.height = 0;
  ds.AddImage(info);
  ASSERT_TRUE(ds.Prepare().ok());
  testing::WriteText(dir + "/huge.png", testing::ImageDeclaringSize("png", 60000, 60000));
  absl::StatusOr<cv::Mat> rgb = ds.LoadImage(1);
  ASSERT_FALSE(rgb.ok());
  EXPECT_THAT(std::string(rgb.status().message()),
              HasSubstr(dir + "/huge.png: image of 60000x60000 (3600000000 pixels"));
  // 20 x 10 = 200 pixels: a limit of 199 refuses the image, and a Subset keeps the limit.
  ds.set_image_max_pixels(199);
  rgb = ds.Subset({0}).LoadImage(0);
  ASSERT_FALSE(rgb.ok());
  EXPECT_THAT(std::string(rgb.status().message()), HasSubstr("over the limit of 199 pixels"));
  ds.set_image_max_pixels(200);
  EXPECT_TRUE(ds.Subset({0}).LoadImage(0).ok());
  // The file replaced by one declaring 60000 x 60000 after loading: reported, never decoded.
  ds.set_image_max_pixels(kDefaultImageMaxPixels);
  testing::WriteText(dir + "/a.png", testing::ImageDeclaringSize("png", 60000, 60000));
  rgb = ds.LoadImage(0);
  ASSERT_FALSE(rgb.ok());
  EXPECT_THAT(std::string(rgb.status().message()), HasSubstr(dir + "/a.png: image of 60000x60000"));
}

}  // namespace
}  // namespace mrcnn::datasets
