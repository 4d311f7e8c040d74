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

// Standard base64 with padding, written here so the labelme case does not rely on the decoder under
// test to make its input.
std::string Base64(const std::string& bytes) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

// What a problem over the pixel limit says: the file, the declared size, the default limit (100
// megapixels) and the key that raises it.
void ExpectOverTheLimit(const ProblemLog& log, const std::string& file, const std::string& size) {
  for (const std::string& part : {std::string("image of ") + size, std::string("over the limit of 100000000 pixels"),
                                  std::string("IMAGE_MAX_PIXELS")}) {
    EXPECT_TRUE(log.Has(file, part)) << file << " / " << part << "\n" << log.Report();
  }
}

// The issue's files: 1 KB images whose headers declare 60000 x 60000 (PNG) and 20000 x 20000 (JPEG).
// Each loader reports them as problems and skips them without decoding anything or rasterising a
// label at that size (which alone took 3.5 GB).
TEST(BadInput, HugeDeclaredSizesAreReportedAndSkipped) {
  const std::string root = testing::MakeTempDir("huge_tutorial");
  const std::string img = root + "/JPEGImages/", seg = root + "/Segmentations/";
  testing::WriteImage(img + "good.png", 40, 30);
  testing::WriteText(img + "huge.png", testing::ImageDeclaringSize("png", 60000, 60000));
  testing::WriteText(img + "huge_jpeg.jpg", testing::ImageDeclaringSize("jpg", 20000, 20000));
  testing::WriteText(img + "huge_bmp.bmp", testing::ImageDeclaringSize("bmp", 60000, 60000));
  for (const char* name : {"good", "huge", "huge_jpeg", "huge_bmp"}) testing::WriteText(seg + name + ".txt", kTriangle);
  ProblemLog log;
  TutorialOptions topt;
  topt.root = root;
  topt.class_map = TutorialClassMap();
  absl::StatusOr<Dataset> ds = LoadTutorial(topt, &log);
  ASSERT_TRUE(ds.ok()) << ds.status();
  ExpectOverTheLimit(log, img + "huge.png", "60000x60000");
  ExpectOverTheLimit(log, img + "huge_jpeg.jpg", "20000x20000");
  ExpectOverTheLimit(log, img + "huge_bmp.bmp", "60000x60000");
  EXPECT_EQ(log.num_errors(), 3) << log.Report();
  ASSERT_EQ(ds->num_images(), 1);
  EXPECT_EQ(ds->image_info(0).id, "good");

  // labelme: the image beside its JSON, and the same bytes embedded as imageData.
  const std::string dir = testing::MakeTempDir("huge_labelme");
  const std::string shape = R"("shapes": [{"label": "x", "points": [[1, 1], [15, 1], [15, 15]], "shape_type": "polygon"}])";
  testing::WriteText(dir + "/file.png", testing::ImageDeclaringSize("png", 60000, 60000));
  testing::WriteText(dir + "/file.json", R"({"imagePath": "file.png", )" + shape + "}");
  testing::WriteText(dir + "/embedded.json", R"({"imagePath": "gone.jpg", "imageData": ")" +
                                                 Base64(testing::ImageDeclaringSize("jpg", 20000, 20000)) + R"(", )" +
                                                 shape + "}");
  ProblemLog llog;
  LabelmeOptions lopt;
  lopt.dir = dir;
  absl::StatusOr<Dataset> lds = LoadLabelme(lopt, &llog);
  ASSERT_TRUE(lds.ok()) << lds.status();
  ExpectOverTheLimit(llog, dir + "/file.png", "60000x60000");
  ExpectOverTheLimit(llog, dir + "/embedded.json (imageData)", "20000x20000");
  EXPECT_EQ(lds->num_images(), 0);

  // COCO, with the sizes the annotation file agrees on.
  const std::string coco = testing::MakeTempDir("huge_coco");
  testing::WriteImage(coco + "/images/a.png", 10, 8);
  testing::WriteText(coco + "/images/huge.jpg", testing::ImageDeclaringSize("jpg", 20000, 20000));
  testing::WriteText(coco + "/annotations.json", R"({
    "images": [{"id": 1, "file_name": "a.png", "width": 10, "height": 8},
               {"id": 2, "file_name": "huge.jpg", "width": 20000, "height": 20000}],
    "categories": [{"id": 1, "name": "thing"}],
    "annotations": [{"id": 1, "image_id": 2, "category_id": 1, "segmentation": [[1, 1, 5000, 1, 5000, 5000]]}]})");
  ProblemLog clog;
  absl::StatusOr<Dataset> cds = LoadCoco(FindCocoFiles(coco).value(), &clog);
  ASSERT_TRUE(cds.ok()) << cds.status();
  ExpectOverTheLimit(clog, coco + "/images/huge.jpg", "20000x20000");
  ASSERT_EQ(cds->num_images(), 1);
  EXPECT_EQ(cds->image_info(0).id, "a");

  // Strict mode fails with the same text instead of skipping.
  ProblemLog strict(/*strict=*/true);
  absl::StatusOr<Dataset> failed = LoadTutorial(topt, &strict);
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("over the limit of 100000000 pixels"));
}

// A big but valid photo: 3000 x 2000 = 6000000 pixels. Each loader skips it under a limit of 5999999
// and reads it under 6000000, and the dataset decodes it under the limit it was loaded with.
TEST(BadInput, RaisingThePixelLimitReadsABigImage) {
  const std::string root = testing::MakeTempDir("big_tutorial");
  testing::WriteImage(root + "/JPEGImages/big.jpg", 3000, 2000);
  testing::WriteText(root + "/Segmentations/big.txt", kTriangle);
  const std::string dir = testing::MakeTempDir("big_labelme");
  testing::WriteImage(dir + "/big.jpg", 3000, 2000);
  testing::WriteText(dir + "/big.json", R"({"imagePath": "big.jpg", "shapes": [{"label": "x", "points": [[1, 1], [15, 1], [15, 15]]}]})");
  const std::string coco = testing::MakeTempDir("big_coco");
  testing::WriteImage(coco + "/images/big.jpg", 3000, 2000);
  testing::WriteText(coco + "/annotations.json", R"({
    "images": [{"id": 1, "file_name": "big.jpg", "width": 3000, "height": 2000}],
    "categories": [{"id": 1, "name": "thing"}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 500, 1, 500, 500]]}]})");
  for (const int64_t limit : {int64_t{5'999'999}, int64_t{6'000'000}}) {
    const bool fits = limit == 6'000'000;
    std::vector<std::pair<std::string, absl::StatusOr<Dataset>>> loaded;
    ProblemLog log;
    TutorialOptions topt;
    topt.root = root;
    topt.class_map = TutorialClassMap();
    topt.image_max_pixels = limit;
    loaded.emplace_back(root + "/JPEGImages/big.jpg", LoadTutorial(topt, &log));
    LabelmeOptions lopt;
    lopt.dir = dir;
    lopt.image_max_pixels = limit;
    loaded.emplace_back(dir + "/big.jpg", LoadLabelme(lopt, &log));
    CocoOptions copt = FindCocoFiles(coco).value();
    copt.image_max_pixels = limit;
    loaded.emplace_back(coco + "/images/big.jpg", LoadCoco(copt, &log));
    for (auto& [file, ds] : loaded) {
      ASSERT_TRUE(ds.ok()) << ds.status();
      EXPECT_EQ(ds->image_max_pixels(), limit);
      EXPECT_EQ(log.Has(file, "image of 3000x2000 (6000000 pixels"), !fits) << log.Report();
      ASSERT_EQ(ds->num_images(), fits ? 1 : 0) << file;
      if (!fits) continue;
      absl::StatusOr<cv::Mat> rgb = ds->LoadImage(0);
      ASSERT_TRUE(rgb.ok()) << rgb.status();
      EXPECT_EQ(rgb->size(), cv::Size(3000, 2000));
    }
    EXPECT_EQ(log.num_errors(), fits ? 0 : 3) << log.Report();
  }
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
