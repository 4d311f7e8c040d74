// Acceptance: one small dataset written as the tutorial's layout, labelme JSON and COCO JSON loads to
// the same images, classes and masks through the three loaders.
#include "datasets/coco.h"
#include "datasets/labelme.h"
#include "datasets/tutorial.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/datasets/fixtures.h"

namespace mrcnn::datasets {
namespace {

TEST(CrossFormat, ThreeLoadersGiveTheSameInstances) {
  const std::string base = testing::MakeTempDir("cross");
  ProblemLog tlog, llog, clog;
  TutorialOptions topt;
  topt.root = testing::WriteTutorial(base + "/tutorial");
  topt.class_map = ParseClassMapFlag("1=cat,2=dog").value();
  LabelmeOptions lopt;
  lopt.dir = testing::WriteLabelme(base + "/labelme");
  lopt.class_map = ParseClassMapFlag("cat,dog").value();
  absl::StatusOr<Dataset> t = LoadTutorial(topt, &tlog);
  absl::StatusOr<Dataset> l = LoadLabelme(lopt, &llog);
  absl::StatusOr<Dataset> c = LoadCoco(FindCocoFiles(testing::WriteCoco(base + "/coco")).value(), &clog);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_TRUE(c.ok()) << c.status();
  for (const ProblemLog* log : {&tlog, &llog, &clog}) EXPECT_TRUE(log->problems().empty()) << log->Report();
  const std::vector<std::string> names = {"BG", "cat", "dog"};
  const auto fixture = testing::SmallDataset();
  for (const Dataset* ds : {&*t, &*l, &*c}) {
    EXPECT_EQ(ds->class_names(), names);
    ASSERT_EQ(ds->num_images(), static_cast<int>(fixture.size()));
  }
  int compared = 0;
  for (int i = 0; i < t->num_images(); ++i) {
    absl::StatusOr<InstanceMasks> mt = t->LoadMask(i), ml = l->LoadMask(i), mc = c->LoadMask(i);
    ASSERT_TRUE(mt.ok() && ml.ok() && mc.ok());
    EXPECT_EQ(mt->width, fixture[i].width);
    EXPECT_EQ(mt->height, fixture[i].height);
    ASSERT_EQ(mt->size(), static_cast<int>(fixture[i].instances.size()));
    for (const InstanceMasks* other : {&*ml, &*mc}) {
      EXPECT_EQ(other->width, mt->width);
      EXPECT_EQ(other->height, mt->height);
      EXPECT_EQ(other->class_ids, mt->class_ids);
      ASSERT_EQ(other->size(), mt->size());
      for (int k = 0; k < mt->size(); ++k) {
        EXPECT_GT(cv::countNonZero(mt->masks[k]), 20);
        EXPECT_EQ(cv::countNonZero(other->masks[k] != mt->masks[k]), 0) << "image " << i << " instance " << k;
        ++compared;
      }
    }
    for (int k = 0; k < mt->size(); ++k) {
      EXPECT_EQ(names[mt->class_ids[k]], fixture[i].instances[k].label);
    }
    // The same pixels too.
    absl::StatusOr<cv::Mat> it = t->LoadImage(i), il = l->LoadImage(i), ic = c->LoadImage(i);
    ASSERT_TRUE(it.ok() && il.ok() && ic.ok());
    EXPECT_EQ(cv::norm(*it, *il, cv::NORM_INF), 0);
    EXPECT_EQ(cv::norm(*it, *ic, cv::NORM_INF), 0);
  }
  EXPECT_EQ(compared, 2 * 5);
}

}  // namespace
}  // namespace mrcnn::datasets
