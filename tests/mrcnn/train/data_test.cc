// The trainer's data: the --val_fraction split is by image unless a grouping is asked for, and a
// grouped split far from the asked fraction is reported. Counts are worked out by hand.
#include "mrcnn/train/data.h"

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/datasets/fixtures.h"

namespace mrcnn {
namespace {

// Tutorial layout: `first` images in JPEGImages/a/ and `second` in JPEGImages/b/, one square each.
std::string WriteFolders(int first, int second) {
  const std::string root = datasets::testing::MakeTempDir("split");
  int k = 0;
  for (const auto& [sub, count] : {std::pair<std::string, int>{"a", first}, {"b", second}}) {
    for (int i = 0; i < count; ++i, ++k) {
      const std::string name = "img" + std::to_string(k);
      datasets::testing::WriteImage(root + "/JPEGImages/" + sub + "/" + name + ".png", 32, 32);
      datasets::testing::WriteText(root + "/Segmentations/" + sub + "/" + name + ".txt",
                                   R"([{"category": "1", "type": "polygon", "points": [[4,4],[20,4],[20,20],[4,20]]}])");
    }
  }
  return root;
}

DataOptions Options(const std::string& dir, double fraction, const std::string& group_by) {
  DataOptions o;
  o.format = "tutorial";
  o.dir = dir;
  o.class_map = "1=square";
  o.val_fraction = fraction;
  o.split_group_by = group_by;
  o.split_seed = 3;
  return o;
}

TEST(DataTest, SplitFollowsValFractionWhenImagesSitInSubFolders) {
  const std::string dir = WriteFolders(6, 4);
  for (double fraction : {0.2, 0.5}) {
    absl::StatusOr<TrainValData> d = LoadTrainVal(Options(dir, fraction, "none"));
    ASSERT_TRUE(d.ok()) << d.status();
    // 10 images: 2 (0.2) or 5 (0.5) held out, whatever the folders.
    EXPECT_EQ(d->val.num_images(), fraction == 0.2 ? 2 : 5);
    EXPECT_EQ(d->train.num_images() + d->val.num_images(), 10);
    EXPECT_EQ(d->split_note, "");
  }
}

TEST(DataTest, GroupedSplitFarFromTheFractionIsReported) {
  // 6 images in a/ and 4 in b/: grouping by folder can only hold out a whole folder, 4 or 6 of 10.
  const std::string dir = WriteFolders(6, 4);
  absl::StatusOr<TrainValData> d = LoadTrainVal(Options(dir, 0.2, "folder"));
  ASSERT_TRUE(d.ok()) << d.status();
  const int val = d->val.num_images();
  EXPECT_TRUE(val == 4 || val == 6) << val;  // one whole folder
  EXPECT_NE(d->split_note.find("--val_fraction=0.2 asked for about 2 of 10 images"), std::string::npos)
      << d->split_note;
  EXPECT_NE(d->split_note.find("--split_group_by=folder keeps each group on one side"), std::string::npos);
  EXPECT_FALSE(LoadTrainVal(Options(dir, 0.2, "by_color")).ok());
}

TEST(DataTest, SplitNoteAllowsOneImageOfRounding) {
  DataOptions o;
  o.val_fraction = 0.2;
  o.split_group_by = "folder";
  EXPECT_EQ(SplitNote(o, 2, 10), "");
  EXPECT_EQ(SplitNote(o, 3, 10), "");   // 0.3: within 0.1
  EXPECT_NE(SplitNote(o, 4, 10), "");   // 0.4
  EXPECT_EQ(SplitNote(o, 1, 3), "");    // one of three: a third is the step
}

}  // namespace
}  // namespace mrcnn
