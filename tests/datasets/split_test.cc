// Train/val split: reproducible per seed, the ratio, groups kept on one side (folders, near-duplicate
// frames), list files written and read back, and list errors naming the file and line.
#include "datasets/split.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "opencv2/imgcodecs.hpp"
#include "tests/datasets/fixtures.h"

namespace mrcnn::datasets {
namespace {

using ::testing::HasSubstr;

// 20 images in 4 folders of 5; no files needed for ratio and folder grouping.
Dataset FolderDataset() {
  Dataset ds;
  EXPECT_TRUE(ds.AddClass("t", 1, "thing").ok());
  for (int i = 0; i < 20; ++i) {
    ImageInfo info;
    info.source = "t";
    info.group = absl::StrCat("day", i / 5);
    info.id = absl::StrCat(info.group, "/img", i);
    info.width = info.height = 8;
    ds.AddImage(info);
  }
  EXPECT_TRUE(ds.Prepare().ok());
  return ds;
}

TEST(Split, SameSeedSameSplitAndRatio) {
  const Dataset ds = FolderDataset();
  SplitOptions opt;
  opt.val_fraction = 0.25;
  opt.seed = 11;
  const Split a = MakeSplit(ds, opt).value(), b = MakeSplit(ds, opt).value();
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.val, b.val);
  EXPECT_EQ(a.val.size(), 5u);
  EXPECT_EQ(a.train.size(), 15u);
  std::set<int> all(a.train.begin(), a.train.end());
  all.insert(a.val.begin(), a.val.end());
  EXPECT_EQ(all.size(), 20u);
  // Other seeds choose other images (at least one of five other seeds differs).
  int differing = 0;
  for (uint64_t s = 12; s < 17; ++s) {
    opt.seed = s;
    differing += MakeSplit(ds, opt).value().val != a.val;
  }
  EXPECT_GT(differing, 0);
  opt.val_fraction = 1.5;
  EXPECT_FALSE(MakeSplit(ds, opt).ok());
}

TEST(Split, FolderGroupsStayOnOneSide) {
  const Dataset ds = FolderDataset();
  for (uint64_t seed = 0; seed < 10; ++seed) {
    SplitOptions opt;
    opt.val_fraction = 0.3;
    opt.seed = seed;
    opt.group_by = SplitGroupBy::kFolder;
    const Split s = MakeSplit(ds, opt).value();
    std::set<std::string> train_groups, val_groups;
    for (int i : s.train) train_groups.insert(ds.image_info(i).group);
    for (int i : s.val) val_groups.insert(ds.image_info(i).group);
    for (const std::string& g : val_groups) EXPECT_EQ(train_groups.count(g), 0u) << g;
    EXPECT_EQ(s.val.size(), 10u);  // two whole folders reach round(0.3 * 20) = 6
  }
}

TEST(Split, OneFolderSplitsImagesAndTrainingIsNeverEmpty) {
  Dataset flat;
  ASSERT_TRUE(flat.AddClass("t", 1, "thing").ok());
  for (int i = 0; i < 20; ++i) {
    ImageInfo info;
    info.source = "t";
    info.id = absl::StrCat("img", i);  // a flat JPEGImages/: every image in group ""
    info.width = info.height = 8;
    flat.AddImage(info);
  }
  ASSERT_TRUE(flat.Prepare().ok());
  SplitOptions opt;
  opt.val_fraction = 0.2;
  opt.group_by = SplitGroupBy::kFolder;
  Split s = MakeSplit(flat, opt).value();
  EXPECT_EQ(s.val.size(), 4u);
  EXPECT_EQ(s.train.size(), 16u);
  // Two folders of 5 and 15 with val_fraction 0.9: whichever comes first goes to val, and the other
  // still trains rather than being swallowed by val.
  Dataset two;
  ASSERT_TRUE(two.AddClass("t", 1, "thing").ok());
  for (int i = 0; i < 20; ++i) {
    ImageInfo info;
    info.source = "t";
    info.group = i < 5 ? "a" : "b";
    info.id = absl::StrCat(info.group, "/img", i);
    info.width = info.height = 8;
    two.AddImage(info);
  }
  ASSERT_TRUE(two.Prepare().ok());
  opt.val_fraction = 0.9;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    opt.seed = seed;
    s = MakeSplit(two, opt).value();
    EXPECT_FALSE(s.train.empty()) << "seed " << seed;
    EXPECT_FALSE(s.val.empty()) << "seed " << seed;
  }
}

TEST(Split, NearDuplicateFramesStayTogether) {
  const std::string dir = testing::MakeTempDir("neardup");
  Dataset ds;
  ASSERT_TRUE(ds.AddClass("t", 1, "thing").ok());
  // Scenes differ in pattern; each scene has 3 frames differing by a few grey levels.
  for (int scene = 0; scene < 6; ++scene) {
    for (int frame = 0; frame < 3; ++frame) {
      cv::Mat bgr(48, 64, CV_8UC3);
      for (int y = 0; y < 48; ++y) {
        for (int x = 0; x < 64; ++x) {
          const int v = static_cast<int>(127 + 120 * std::sin((x * (scene + 1) + y * (5 - scene)) * 0.11)) + frame * 2;
          bgr.at<cv::Vec3b>(y, x) = cv::Vec3b::all(static_cast<uint8_t>(std::clamp(v, 0, 255)));
        }
      }
      ImageInfo info;
      info.source = "t";
      info.id = absl::StrCat("s", scene, "_f", frame);
      info.path = absl::StrCat(dir, "/", info.id, ".png");
      cv::imwrite(info.path, bgr);
      info.width = 64;
      info.height = 48;
      ds.AddImage(info);
    }
  }
  ASSERT_TRUE(ds.Prepare().ok());
  for (uint64_t seed = 0; seed < 5; ++seed) {
    SplitOptions opt;
    opt.val_fraction = 0.3;
    opt.seed = seed;
    opt.group_by = SplitGroupBy::kNearDuplicate;
    const Split s = MakeSplit(ds, opt).value();
    std::set<int> val_scenes, train_scenes;
    for (int i : s.val) val_scenes.insert(i / 3);
    for (int i : s.train) train_scenes.insert(i / 3);
    for (int scene : val_scenes) EXPECT_EQ(train_scenes.count(scene), 0u) << "scene " << scene << " seed " << seed;
    EXPECT_EQ(s.val.size() % 3, 0u);
    EXPECT_FALSE(s.val.empty());
  }
}

TEST(Split, ListsRoundTrip) {
  const Dataset ds = FolderDataset();
  SplitOptions opt;
  opt.seed = 3;
  const Split s = MakeSplit(ds, opt).value();
  const std::string dir = testing::MakeTempDir("lists");
  ASSERT_TRUE(WriteSplit(s, ds, dir + "/train.txt", dir + "/val.txt").ok());
  const Dataset train = ReadSplitList(ds, dir + "/train.txt").value();
  const Dataset val = ReadSplitList(ds, dir + "/val.txt").value();
  ASSERT_EQ(train.num_images(), static_cast<int>(s.train.size()));
  ASSERT_EQ(val.num_images(), static_cast<int>(s.val.size()));
  for (size_t k = 0; k < s.val.size(); ++k) EXPECT_EQ(val.image_info(k).id, ds.image_info(s.val[k]).id);
  EXPECT_EQ(train.class_names(), ds.class_names());
  // The list holds one id a line.
  EXPECT_THAT(testing::ReadText(dir + "/val.txt"), HasSubstr(ds.image_info(s.val[0]).id + "\n"));
  testing::WriteText(dir + "/bad.txt", absl::StrCat(ds.image_info(0).id, "\n# comment\nday9/img99\n"));
  absl::StatusOr<Dataset> bad = ReadSplitList(ds, dir + "/bad.txt");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr(dir + "/bad.txt:3: image 'day9/img99' is not in the dataset"));
}

TEST(Split, ParseGroupBy) {
  EXPECT_EQ(ParseSplitGroupBy("folder").value(), SplitGroupBy::kFolder);
  EXPECT_EQ(ParseSplitGroupBy("near_duplicate").value(), SplitGroupBy::kNearDuplicate);
  EXPECT_FALSE(ParseSplitGroupBy("date").ok());
}

}  // namespace
}  // namespace mrcnn::datasets
