// Every bad-input case of the issue, each checked for the file (and instance) and the reason; strict
// mode stops at the first problem; the default skips, counts and reports them all; garbage never
// crashes a loader.
#include "datasets/coco.h"
#include "datasets/labelme.h"
#include "datasets/random.h"
#include "datasets/tutorial.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/datasets/fixtures.h"

namespace mrcnn::datasets {
namespace {

using ::testing::HasSubstr;

constexpr char kTriangle[] = R"([{"category":"40","type":"polygon","points":[[2,2],[30,3],[15,25]]}])";

struct TutorialCase {
  std::string image;  // under JPEGImages/ ("" for none)
  std::string label;  // under Segmentations/ ("" for none)
  std::string label_text;
};

std::string BadTutorialDataset() {
  const std::string root = testing::MakeTempDir("bad_tutorial");
  const std::string img = root + "/JPEGImages/", seg = root + "/Segmentations/";
  testing::WriteImage(img + "good.png", 40, 30);
  testing::WriteText(seg + "good.txt", kTriangle);
  testing::WriteImage(img + "nolabel.png", 40, 30);
  testing::WriteText(seg + "orphan.txt", kTriangle);
  testing::WriteImage(img + "badjson.png", 40, 30);
  testing::WriteText(seg + "badjson.txt", R"([{"category":"40","points":[[1,2],)");
  testing::WriteImage(img + "unknown.png", 40, 30);
  testing::WriteText(seg + "unknown.txt", R"([{"category":"99","type":"polygon","points":[[2,2],[30,3],[15,25]]}])");
  testing::WriteImage(img + "few.png", 40, 30);
  testing::WriteText(seg + "few.txt", std::string(kTriangle).substr(0, std::string(kTriangle).size() - 1) +
                                          R"(,{"category":"40","points":[[1,1],[9,9]]}])");
  testing::WriteImage(img + "nan.png", 40, 30);
  testing::WriteText(seg + "nan.txt", R"([{"category":"40","points":[[NaN,2],[30,3],[15,25]]}])");
  testing::WriteImage(img + "inf.png", 40, 30);
  testing::WriteText(seg + "inf.txt", R"([{"category":"40","points":[[2,2],[Infinity,3],[15,25]]}])");
  testing::WriteImage(img + "outside.png", 40, 30);
  testing::WriteText(seg + "outside.txt", R"([{"category":"40","points":[[-10,-10],[30,5],[20,50]]}])");
  testing::WriteImage(img + "bowtie.png", 40, 30);
  testing::WriteText(seg + "bowtie.txt", R"([{"category":"40","points":[[0,0],[20,20],[20,0],[0,20]]}])");
  testing::WriteText(img + "text.jpg", "not an image at all");
  testing::WriteText(seg + "text.txt", kTriangle);
  testing::WriteImage(img + "whole.jpg", 64, 64);
  const std::string jpg = testing::ReadText(img + "whole.jpg");
  testing::WriteText(seg + "whole.txt", kTriangle);
  testing::WriteText(img + "cut.jpg", jpg.substr(0, jpg.size() / 2));
  testing::WriteText(seg + "cut.txt", kTriangle);
  testing::WriteText(img + "empty.png", "");
  testing::WriteText(seg + "empty.txt", kTriangle);
  testing::WriteImage(img + "zero.png", 8, 8);
  std::string png = testing::ReadText(img + "zero.png");
  for (int i = 20; i < 24; ++i) png[i] = 0;  // IHDR height = 0
  testing::WriteText(img + "zero.png", png);
  testing::WriteText(seg + "zero.txt", kTriangle);
  testing::WriteImage(img + "dup.png", 40, 30);
  testing::WriteImage(img + "dup.jpg", 40, 30);
  testing::WriteText(seg + "dup.txt", kTriangle);
  testing::WriteImage(img + "twin.png", 40, 30);
  testing::WriteText(seg + "twin.txt", kTriangle);
  testing::WriteText(seg + "twin.json", kTriangle);
  return root;
}

TEST(BadInput, TutorialReportsEveryCaseWithFileAndReason) {
  const std::string root = BadTutorialDataset();
  const std::string img = root + "/JPEGImages/", seg = root + "/Segmentations/";
  ProblemLog log;
  TutorialOptions opt;
  opt.root = root;
  opt.class_map = TutorialClassMap();
  absl::StatusOr<Dataset> ds = LoadTutorial(opt, &log);
  ASSERT_TRUE(ds.ok()) << ds.status();
  const std::string report = log.Report();
  const std::vector<std::pair<std::string, std::string>> expected = {
      {img + "nolabel.png", "image has no label file"},
      {seg + "orphan.txt", "label file has no image"},
      {seg + "badjson.txt", "malformed JSON"},
      {seg + "unknown.txt: instance 0", "category \"99\" is not in the class map"},
      {seg + "few.txt: instance 1", "polygon with fewer than 3 points (2)"},
      {seg + "nan.txt: instance 0", "NaN coordinate"},
      {seg + "inf.txt: instance 0", "infinite coordinate"},
      {seg + "outside.txt: instance 0", "2 of 3 points outside the 40x30 image (clipped)"},
      {seg + "bowtie.txt: instance 0", "self-intersecting polygon"},
      {img + "text.jpg", "not a readable image"},
      {img + "cut.jpg", "truncated JPEG"},
      {img + "empty.png", "empty file (0 bytes)"},
      {img + "zero.png", "zero-size image"},
      {img + "dup.jpg", "duplicate stem"},
      {img + "dup.png", "duplicate stem"},
      {seg + "twin.txt", "duplicate stem: label files"},
  };
  for (const auto& [file, reason] : expected) {
    EXPECT_TRUE(log.Has(file, reason)) << file << " / " << reason << "\n" << report;
  }
  // Clipped and self-intersecting instances are kept; the rest are skipped and counted.
  EXPECT_EQ(log.num_warnings(), 2) << report;
  EXPECT_EQ(log.num_errors(), static_cast<int>(expected.size()) - 2) << report;
  EXPECT_EQ(log.counters().at("points outside the image (clipped)"), 2);
  std::vector<std::string> ids;
  for (const ImageInfo& info : ds->images()) ids.push_back(info.id);
  // few.txt keeps its good instance; unknown/nan/inf keep their image with no instances.
  EXPECT_THAT(ids, ::testing::ElementsAre("bowtie", "few", "good", "inf", "nan", "outside", "unknown", "whole"));
  EXPECT_EQ(ds->image_info(ds->FindImage("outside")).annotations.size(), 1u);
  EXPECT_EQ(ds->image_info(ds->FindImage("bowtie")).annotations.size(), 1u);
  EXPECT_EQ(ds->image_info(ds->FindImage("few")).annotations.size(), 1u);
  EXPECT_THAT(report, HasSubstr("14 error(s)"));
}

TEST(BadInput, StrictModeFailsOnTheFirstProblem) {
  const std::string root = BadTutorialDataset();
  ProblemLog log(/*strict=*/true);
  TutorialOptions opt;
  opt.root = root;
  opt.class_map = TutorialClassMap();
  absl::StatusOr<Dataset> ds = LoadTutorial(opt, &log);
  ASSERT_FALSE(ds.ok());
  // Images are visited in name order: badjson/bowtie/cut pair up, then dup.* is ambiguous.
  EXPECT_THAT(std::string(ds.status().message()), HasSubstr(root + "/JPEGImages/dup.jpg: duplicate stem"));
  EXPECT_EQ(log.num_errors(), 1);
}

TEST(BadInput, StrictModeStopsOnAnInstanceProblem) {
  const std::string root = testing::MakeTempDir("strict_instance");
  testing::WriteImage(root + "/JPEGImages/a.png", 40, 30);
  testing::WriteText(root + "/Segmentations/a.txt", R"([{"category":"40","points":[[1,1],[2,2]]}])");
  ProblemLog log(/*strict=*/true);
  TutorialOptions opt;
  opt.root = root;
  opt.class_map = TutorialClassMap();
  absl::StatusOr<Dataset> ds = LoadTutorial(opt, &log);
  ASSERT_FALSE(ds.ok());
  EXPECT_THAT(std::string(ds.status().message()),
              HasSubstr(root + "/Segmentations/a.txt: instance 0: polygon with fewer than 3 points"));
}

TEST(BadInput, MissingFoldersNameThePath) {
  ProblemLog log;
  TutorialOptions opt;
  opt.root = testing::MakeTempDir("nofolders");
  absl::StatusOr<Dataset> ds = LoadTutorial(opt, &log);
  ASSERT_FALSE(ds.ok());
  EXPECT_THAT(std::string(ds.status().message()), HasSubstr(opt.root + "/JPEGImages: folder not found"));
}

TEST(BadInput, LabelmeCases) {
  const std::string dir = testing::MakeTempDir("bad_labelme");
  testing::WriteImage(dir + "/a.png", 20, 20);
  testing::WriteText(dir + "/a.json", R"({"shapes": [{"label": "x", "points": [[1, 1], [NaN, 5], [5, 5)");
  testing::WriteImage(dir + "/b.png", 20, 20);
  testing::WriteText(dir + "/b.json",
                     R"({"imagePath": "b.png", "imageHeight": 20, "imageWidth": 20, "shapes": [
                        {"label": "x", "points": [[1, 1], [Infinity, 5], [5, 5]], "shape_type": "polygon"},
                        {"label": "x", "points": [[1, 1], [5, 5]], "shape_type": "polygon"},
                        {"label": "x", "points": [[1, 1]], "shape_type": "circle"},
                        {"label": "x", "points": [[3, 3]], "shape_type": "point"},
                        {"label": "z", "points": [[1, 1], [15, 1], [15, 15]], "shape_type": "polygon"}]})");
  testing::WriteText(dir + "/c.json", R"({"imagePath": "c.png", "imageData": "not*base64", "shapes": []})");
  testing::WriteText(dir + "/d.json", R"({"version": "5"})");
  ProblemLog log;
  LabelmeOptions opt;
  opt.dir = dir;
  opt.class_map = ParseClassMapFlag("x").value();
  absl::StatusOr<Dataset> ds = LoadLabelme(opt, &log);
  ASSERT_TRUE(ds.ok()) << ds.status();
  const std::vector<std::pair<std::string, std::string>> expected = {
      {dir + "/a.json", "malformed JSON"},
      {dir + "/b.json: instance 0", "infinite coordinate"},
      {dir + "/b.json: instance 2", "circle needs 2 points, got 1"},
      {dir + "/b.json: instance 3", "unsupported shape_type \"point\""},
      {dir + "/b.json: instance 4", "label \"z\" is not in the class map"},
      {dir + "/b.json: instance 1", "polygon with fewer than 3 points (2)"},
      {dir + "/c.json", "imageData: invalid base64 character"},
      {dir + "/d.json", "not a labelme file"},
  };
  for (const auto& [file, reason] : expected) {
    EXPECT_TRUE(log.Has(file, reason)) << file << " / " << reason << "\n" << log.Report();
  }
  EXPECT_EQ(ds->num_images(), 1);  // b.png, with no usable instance
}

TEST(BadInput, CocoCases) {
  const std::string dir = testing::MakeTempDir("bad_coco");
  testing::WriteImage(dir + "/images/a.png", 10, 8);
  testing::WriteImage(dir + "/images/wrong.png", 12, 8);
  testing::WriteText(dir + "/annotations.json", R"({
    "images": [{"id": 1, "file_name": "a.png", "width": 10, "height": 8},
               {"id": 2, "file_name": "gone.png", "width": 10, "height": 8},
               {"id": 3, "file_name": "wrong.png", "width": 10, "height": 8},
               {"id": 4, "file_name": "a.png", "width": 10, "height": 8}],
    "categories": [{"id": 1, "name": "thing"}],
    "annotations": [
      {"id": 1, "image_id": 1, "category_id": 5, "segmentation": [[1, 1, 5, 1, 5, 5]]},
      {"id": 2, "image_id": 9, "category_id": 1, "segmentation": [[1, 1, 5, 1, 5, 5]]},
      {"id": 3, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 5, 1, 5]]},
      {"id": 4, "image_id": 1, "category_id": 1, "segmentation": {"size": [9, 10], "counts": [90]}},
      {"id": 5, "image_id": 1, "category_id": 1, "segmentation": {"size": [8, 10], "counts": [70]}},
      {"id": 6, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, NaN, 1, 5, 5]]},
      {"id": 7, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 5, 1]]},
      {"id": 8, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 8, 1, 8, 7]]}
    ]})");
  ProblemLog log;
  absl::StatusOr<Dataset> ds = LoadCoco(FindCocoFiles(dir).value(), &log);
  ASSERT_TRUE(ds.ok()) << ds.status();
  const std::string f = dir + "/annotations.json";
  const std::vector<std::pair<std::string, std::string>> expected = {
      {f + ": instance 0", "category_id 5 is not in the class map"},
      {f + ": instance 1", "names no image"},
      {f + ": instance 2", "odd number of coordinates"},
      {f + ": instance 3", "RLE size 9x10 (h x w) differs from the image's 8x10"},
      {f + ": instance 4", "RLE runs add up to 70 pixels but size 8x10 has 80"},
      {f + ": instance 5", "NaN coordinate"},
      {f + ": instance 6", "polygon with fewer than 3 points (2)"},
      {f, "duplicate image id 4 or file_name \"a.png\""},
      {dir + "/images/gone.png", "cannot open file"},
      {dir + "/images/wrong.png", "image is 12x8 but"},
  };
  for (const auto& [file, reason] : expected) {
    EXPECT_TRUE(log.Has(file, reason)) << file << " / " << reason << "\n" << log.Report();
  }
  ASSERT_EQ(ds->num_images(), 1);
  EXPECT_EQ(ds->image_info(0).annotations.size(), 1u);
}

TEST(BadInput, GarbageNeverCrashes) {
  // Every prefix and random byte flips of a valid label file: each loader returns a status or a log.
  const std::string valid = R"([{"category":"40","type":"polygon","points":[[2,2],[30,3],[15,25]]},)"
                            R"({"category":"51","points":[[1,1],[3,1e308],[-1e308,4]]}])";
  Rng rng(42);
  for (int trial = 0; trial < 400; ++trial) {
    std::string text = valid.substr(0, rng.UniformInt(0, static_cast<int64_t>(valid.size())));
    if (trial % 2) {
      text = valid;
      for (int k = 0; k < 3; ++k) text[rng.UniformInt(0, static_cast<int64_t>(text.size()) - 1)] =
          static_cast<char>(rng.UniformInt(32, 126));
    }
    ProblemLog log;
    (void)ParseTutorialLabel(text, "fuzz.txt", &log);
  }
  const std::string root = testing::MakeTempDir("fuzz");
  testing::WriteImage(root + "/JPEGImages/a.png", 30, 30);
  testing::WriteText(root + "/Segmentations/a.txt", valid);
  testing::WriteText(root + "/labelme/a.json", R"({"shapes": [{"label": 3, "points": "x"}, 7, {"label": "a", "points": [[1e308, 1], [2, 2], [3]]}]})");
  testing::WriteText(root + "/coco.json", R"({"images": [7, {"id": "x"}], "annotations": [null, {"image_id": 7}], "categories": []})");
  ProblemLog log;
  TutorialOptions topt;
  topt.root = root;
  EXPECT_TRUE(LoadTutorial(topt, &log).ok());
  LabelmeOptions lopt;
  lopt.dir = root + "/labelme";
  EXPECT_TRUE(LoadLabelme(lopt, &log).ok());
  EXPECT_TRUE(LoadCoco({root + "/coco.json", root}, &log).ok());
  EXPECT_GT(log.num_errors(), 3) << log.Report();
}

}  // namespace
}  // namespace mrcnn::datasets
