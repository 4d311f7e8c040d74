// The tutorial's layout: the user's own label example parsed exactly, class maps (the tutorial's, a
// flag, files, discovery), nested sub-folders, and masks at the image's real size.
#include "datasets/tutorial.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/datasets/fixtures.h"

namespace mrcnn::datasets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The user's example, exactly as they wrote it.
constexpr char kUserExample[] =
    R"([{"category":"59","type":"polygon","points":[[891,693],[946,690],[944,623],[888,624]]},{"category":"40","type":"polygon","points":[[1044,612],[1045,613],[1046,615],[1048,616]]}])";

TEST(ParseTutorialLabel, UsersExampleExactly) {
  ProblemLog log;
  absl::StatusOr<std::vector<TutorialInstance>> got = ParseTutorialLabel(kUserExample, "x.txt", &log);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].category, "59");
  EXPECT_EQ((*got)[0].type, "polygon");
  EXPECT_EQ((*got)[0].index, 0);
  EXPECT_EQ((*got)[0].points, (Polygon{{891, 693}, {946, 690}, {944, 623}, {888, 624}}));
  EXPECT_EQ((*got)[1].category, "40");
  EXPECT_EQ((*got)[1].index, 1);
  EXPECT_EQ((*got)[1].points, (Polygon{{1044, 612}, {1045, 613}, {1046, 615}, {1048, 616}}));
  EXPECT_TRUE(log.problems().empty());
}

TEST(ParseTutorialLabel, NumericCategoriesAndMissingTypeAreAccepted) {
  ProblemLog log;
  absl::StatusOr<std::vector<TutorialInstance>> got =
      ParseTutorialLabel(R"([{"category":61,"points":[[1,1],[5,1],[5,5]]}])", "y.txt", &log);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].category, "61");
  EXPECT_EQ((*got)[0].type, "polygon");
}

TEST(ClassMap, TutorialMapAndFlagAndFiles) {
  const ClassMap t = TutorialClassMap();
  EXPECT_THAT(t.codes, ElementsAre("40", "51", "59", "60", "61"));
  EXPECT_THAT(t.names, ElementsAre("sign", "sign_back", "side_sign", "side_sign_back", "led"));
  EXPECT_EQ(t.IdOf("59"), 3);
  EXPECT_EQ(t.IdOf("41"), -1);
  const std::string dir = testing::MakeTempDir("classmap");
  testing::WriteText(dir + "/m.json", R"({"61": "led", "40": "sign"})");
  testing::WriteText(dir + "/m.txt", "# code name\n61 led\n40=sign\n");
  testing::WriteText(dir + "/pairs.json", R"([["61", "led"], ["40", "sign"]])");
  for (const char* f : {"/m.json", "/m.txt", "/pairs.json"}) {
    absl::StatusOr<ClassMap> m = LoadClassMapFile(dir + f);
    ASSERT_TRUE(m.ok()) << f << " " << m.status();
    EXPECT_THAT(m->codes, ElementsAre("61", "40")) << f;  // file order gives the ids
    EXPECT_THAT(m->names, ElementsAre("led", "sign")) << f;
  }
  testing::WriteText(dir + "/dup.txt", "40 a\n40 b\n");
  absl::StatusOr<ClassMap> dup = LoadClassMapFile(dir + "/dup.txt");
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(std::string(dup.status().message()), HasSubstr("dup.txt:2"));
  EXPECT_THAT(std::string(dup.status().message()), HasSubstr("given twice"));
}

TEST(ClassMap, DiscoveryIsSortedNumericallyWhenCodesAreNumbers) {
  EXPECT_THAT(DiscoverClassMap({"9", "40", "100"}).codes, ElementsAre("9", "40", "100"));
  EXPECT_THAT(DiscoverClassMap({"dog", "cat"}).codes, ElementsAre("cat", "dog"));
}

TEST(LoadTutorial, UsersExampleWithTheTutorialMap) {
  const std::string root = testing::MakeTempDir("tutorial_user");
  testing::WriteImage(root + "/JPEGImages/0927/0927_1/frame_0001.png", 1280, 720);
  testing::WriteText(root + "/Segmentations/0927/0927_1/frame_0001.txt", kUserExample);
  ProblemLog log;
  TutorialOptions opt;
  opt.root = root;
  opt.class_map = TutorialClassMap();
  absl::StatusOr<Dataset> ds = LoadTutorial(opt, &log);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(ds->class_names(), ElementsAre("BG", "sign", "sign_back", "side_sign", "side_sign_back", "led"));
  ASSERT_EQ(ds->num_images(), 1);
  const ImageInfo& info = ds->image_info(0);
  EXPECT_EQ(info.id, "0927/0927_1/frame_0001");
  EXPECT_EQ(info.group, "0927/0927_1");
  EXPECT_EQ(info.width, 1280);  // read from the file, never assumed
  EXPECT_EQ(info.height, 720);
  // The "40" polygon has an area of 1.5 px^2 and covers no pixel centre: reported and left out.
  EXPECT_TRUE(log.Has("frame_0001.txt: instance 1", "empty mask")) << log.Report();
  absl::StatusOr<InstanceMasks> m = ds->LoadMask(0);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 1);
  EXPECT_EQ(m->class_ids[0], 3);  // "59" -> side_sign
  EXPECT_EQ(m->height, 720);
  EXPECT_EQ(m->width, 1280);
  // 3780 pixel centres are inside (counted by an independent point-in-polygon loop in Python).
  EXPECT_EQ(cv::countNonZero(m->masks[0]), 3780);
  EXPECT_EQ(MaskBox(m->masks[0]), (std::array<int, 4>{888, 623, 946, 693}));
  EXPECT_EQ(m->ToHWN().size(), 720u * 1280u);
}

TEST(LoadTutorial, DiscoversCategoriesAndMatchesNestedFolders) {
  const std::string root = testing::WriteTutorial(testing::MakeTempDir("tutorial_small"));
  ProblemLog log;
  TutorialOptions opt;
  opt.root = root;
  absl::StatusOr<Dataset> ds = LoadTutorial(opt, &log);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(log.num_errors(), 0) << log.Report();
  EXPECT_THAT(ds->class_names(), ElementsAre("BG", "1", "2"));
  ASSERT_EQ(ds->num_images(), 3);
  EXPECT_EQ(ds->image_info(1).id, "0927/0927_1/b");
  EXPECT_EQ(ds->image_info(1).width, 80);
  EXPECT_EQ(ds->image_info(1).height, 60);
  absl::StatusOr<cv::Mat> rgb = ds->LoadImage(1);
  ASSERT_TRUE(rgb.ok());
  EXPECT_EQ(rgb->type(), CV_8UC3);
  EXPECT_EQ(rgb->cols, 80);
}

TEST(LoadTutorial, FlatLabelFolderMatchesByName) {
  const std::string root = testing::MakeTempDir("tutorial_flat");
  testing::WriteImage(root + "/JPEGImages/0927/x.jpg", 40, 30);
  testing::WriteText(root + "/Segmentations/x.json", R"([{"category":"40","points":[[1,1],[20,1],[20,20]]}])");
  ProblemLog log;
  TutorialOptions opt;
  opt.root = root;
  opt.class_map = TutorialClassMap();
  absl::StatusOr<Dataset> ds = LoadTutorial(opt, &log);
  ASSERT_TRUE(ds.ok()) << ds.status();
  ASSERT_EQ(ds->num_images(), 1) << log.Report();
  EXPECT_EQ(ds->image_info(0).annotations.size(), 1u);
  EXPECT_EQ(log.num_errors(), 0) << log.Report();
}

TEST(LoadTutorial, OneFlatLabelForTwoImagesOfTheSameNameIsAnError) {
  // JPEGImages/a/x.png and JPEGImages/b/x.png with one Segmentations/x.txt: which image is it for?
  const std::string root = testing::MakeTempDir("tutorial_ambiguous");
  testing::WriteImage(root + "/JPEGImages/a/x.png", 40, 30);
  testing::WriteImage(root + "/JPEGImages/b/x.png", 40, 30);
  testing::WriteImage(root + "/JPEGImages/b/y.png", 40, 30);
  testing::WriteText(root + "/Segmentations/x.txt", R"([{"category":"40","points":[[1,1],[20,1],[20,20]]}])");
  testing::WriteText(root + "/Segmentations/y.txt", R"([{"category":"40","points":[[1,1],[20,1],[20,20]]}])");
  ProblemLog log;
  TutorialOptions opt;
  opt.root = root;
  opt.class_map = TutorialClassMap();
  absl::StatusOr<Dataset> ds = LoadTutorial(opt, &log);
  ASSERT_TRUE(ds.ok()) << ds.status();
  ASSERT_EQ(ds->num_images(), 1) << log.Report();  // only b/y, whose name is unique
  EXPECT_EQ(ds->image_info(0).id, "b/y");
  EXPECT_EQ(log.num_errors(), 2) << log.Report();
  EXPECT_NE(log.Report().find("ambiguous label: " + root + "/Segmentations/x.txt matches 2 images by name"),
            std::string::npos)
      << log.Report();
  ProblemLog strict(/*strict=*/true);
  EXPECT_FALSE(LoadTutorial(opt, &strict).ok());
}

TEST(LoadTutorial, SquareFarBeyondTheImageCoversIt) {
  // Coordinates of 1e12 and 1e300 were dropped as "empty mask" (1e9 worked).
  const std::string root = testing::MakeTempDir("tutorial_far");
  testing::WriteImage(root + "/JPEGImages/x.png", 40, 30);
  testing::WriteText(root + "/Segmentations/x.json",
                     R"([{"category":"40","points":[[-1e12,-1e12],[1e12,-1e12],[1e12,1e12],[-1e12,1e12]]},
                         {"category":"40","points":[[-1e300,5],[1e300,5],[1e300,10],[-1e300,10]]}])");
  ProblemLog log;
  TutorialOptions opt;
  opt.root = root;
  opt.class_map = TutorialClassMap();
  absl::StatusOr<Dataset> ds = LoadTutorial(opt, &log);
  ASSERT_TRUE(ds.ok()) << ds.status();
  ASSERT_EQ(ds->num_images(), 1) << log.Report();
  absl::StatusOr<InstanceMasks> masks = ds->LoadMask(0);
  ASSERT_TRUE(masks.ok()) << masks.status() << log.Report();
  ASSERT_EQ(masks->class_ids.size(), 2u) << log.Report();
  EXPECT_EQ(cv::countNonZero(masks->masks[0]), 40 * 30);
  EXPECT_EQ(cv::countNonZero(masks->masks[1]), 40 * 5);  // rows 5..9 whole
}

}  // namespace
}  // namespace mrcnn::datasets
