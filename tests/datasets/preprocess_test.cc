// Preprocessing: matterport's resize_image geometry (hand-computed), torchvision's resize (sizes,
// pixels and masks from torchvision itself), flips keep masks and boxes consistent, mini masks round
// trip with IoU > 0.9 for convex shapes, MAX_GT_INSTANCES, normalisation.
#include "datasets/preprocess.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/datasets/fixtures.h"

namespace mrcnn::datasets {
namespace {

mrcnn::Config Cfg(const std::string& mode, int min_dim, int max_dim, double min_scale = 0) {
  mrcnn::Config c;
  c.IMAGE_RESIZE_MODE = mode;
  c.IMAGE_MIN_DIM = min_dim;
  c.IMAGE_MAX_DIM = max_dim;
  c.IMAGE_MIN_SCALE = min_scale;
  return c;
}

ResizeGeometry Geometry(int h, int w, const mrcnn::Config& c, uint64_t seed = 0) {
  Rng rng(seed);
  return ComputeResize(h, w, c, &rng).value();
}

TEST(ComputeResize, SquareScalesTheLongSideToMaxAndPadsEvenly) {
  // 480 x 640: up to 800 would make 1067 > 1024, so scale = 1024 / 640 = 1.6 -> 768 x 1024.
  const ResizeGeometry g = Geometry(480, 640, Cfg("square", 800, 1024));
  EXPECT_DOUBLE_EQ(g.scale, 1.6);
  EXPECT_EQ(g.resized_height, 768);
  EXPECT_EQ(g.resized_width, 1024);
  EXPECT_EQ(g.padding, (std::array<int, 4>{128, 128, 0, 0}));
  EXPECT_EQ(g.window, (std::array<int, 4>{128, 0, 896, 1024}));
  EXPECT_EQ(g.out_height, 1024);
  EXPECT_EQ(g.out_width, 1024);
  // Never scaled down to reach IMAGE_MIN_DIM; IMAGE_MIN_SCALE forces 2x: 200 x 300 -> 400 x 600.
  const ResizeGeometry m = Geometry(200, 300, Cfg("square", 100, 1024, 2.0));
  EXPECT_DOUBLE_EQ(m.scale, 2.0);
  EXPECT_EQ(m.resized_height, 400);
  EXPECT_EQ(m.window, (std::array<int, 4>{312, 212, 712, 812}));
}

TEST(ComputeResize, Pad64PadsEachSideToAMultipleOf64) {
  // 90 x 200 at min 128: scale 128 / 90 -> 128 x round(284.4) = 284; width pads 36 = 18 + 18.
  const ResizeGeometry g = Geometry(90, 200, Cfg("pad64", 128, 1024));
  EXPECT_EQ(g.resized_height, 128);
  EXPECT_EQ(g.resized_width, 284);
  EXPECT_EQ(g.padding, (std::array<int, 4>{0, 0, 18, 18}));
  EXPECT_EQ(g.out_width, 320);
  EXPECT_EQ(g.window, (std::array<int, 4>{0, 18, 128, 302}));
}

TEST(ComputeResize, CropTakesAMinDimSquareAtASeededPlace) {
  const ResizeGeometry a = Geometry(100, 80, Cfg("crop", 64, 1024), 1);
  const ResizeGeometry b = Geometry(100, 80, Cfg("crop", 64, 1024), 1);
  EXPECT_DOUBLE_EQ(a.scale, 1.0);
  EXPECT_EQ(a.crop, b.crop);
  EXPECT_GE(a.crop[0], 0);
  EXPECT_LE(a.crop[0], 36);
  EXPECT_LE(a.crop[1], 16);
  EXPECT_EQ(a.crop[2], 64);
  EXPECT_EQ(a.crop[3], 64);
  EXPECT_EQ(a.window, (std::array<int, 4>{0, 0, 64, 64}));
  std::set<int> origins;
  for (uint64_t s = 0; s < 20; ++s) origins.insert(Geometry(100, 80, Cfg("crop", 64, 1024), s).crop[0]);
  EXPECT_GT(origins.size(), 5u);
}

TEST(ComputeResize, NoneKeepsTheImage) {
  const ResizeGeometry g = Geometry(37, 51, Cfg("none", 800, 1024));
  EXPECT_EQ(g.out_height, 37);
  EXPECT_EQ(g.out_width, 51);
  EXPECT_EQ(g.window, (std::array<int, 4>{0, 0, 37, 51}));
}

nlohmann::json TorchvisionReference() {
  std::ifstream in("tests/testdata/datasets/torchvision_resize.json");
  EXPECT_TRUE(in) << "missing tests/testdata/datasets/torchvision_resize.json";
  return nlohmann::json::parse(in);
}

TEST(TorchvisionResize, SizesMatchTorchvision) {
  const nlohmann::json ref = TorchvisionReference();
  ASSERT_EQ(ref["sizes"].size(), 6u);
  for (const auto& s : ref["sizes"]) {
    const ResizeGeometry g = Geometry(s["in"][0], s["in"][1], Cfg("torchvision", 800, 1333));
    EXPECT_EQ(g.out_height, s["out"][0].get<int>()) << s.dump();
    EXPECT_EQ(g.out_width, s["out"][1].get<int>()) << s.dump();
  }
}

TEST(TorchvisionResize, PixelsAndMasksMatchTorchvision) {
  const nlohmann::json ref = TorchvisionReference();
  ASSERT_EQ(ref["images"].size(), 3u);
  for (const auto& r : ref["images"]) {
    const int h = r["in"][0], w = r["in"][1];
    cv::Mat img(h, w, CV_32FC3), mask(h, w, CV_8UC1);
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        for (int c = 0; c < 3; ++c) img.at<cv::Vec3f>(y, x)[c] = static_cast<float>((3 * x + 5 * y + 7 * c) % 256);
        mask.at<uint8_t>(y, x) = (y * 2 + x) % 5 < 2;
      }
    }
    const ResizeGeometry g = Geometry(h, w, Cfg("torchvision", 8, 20));
    ASSERT_EQ(g.out_height, r["out"][0].get<int>());
    ASSERT_EQ(g.out_width, r["out"][1].get<int>());
    const cv::Mat out = ApplyResizeToImage(img, g);
    const cv::Mat m = ApplyResizeToMask(mask, g);
    const auto& pixels = r["pixels"];
    const auto& ref_mask = r["mask"];
    double worst = 0;
    int mask_diff = 0;
    for (int y = 0; y < g.out_height; ++y) {
      for (int x = 0; x < g.out_width; ++x) {
        for (int c = 0; c < 3; ++c) {
          const double want = pixels[(y * g.out_width + x) * 3 + c].get<double>();
          worst = std::max(worst, std::abs(out.at<cv::Vec3f>(y, x)[c] - want));
        }
        mask_diff += m.at<uint8_t>(y, x) != ref_mask[y * g.out_width + x].get<int>();
      }
    }
    EXPECT_LT(worst, 1e-3) << r["in"].dump();
    EXPECT_EQ(mask_diff, 0) << r["in"].dump();
  }
}

TEST(Flip, FlippedMasksBoxIsTheFlippedBox) {
  for (const Polygon& p : std::vector<Polygon>{{{3, 4}, {20, 6}, {11, 25}}, {{0, 0}, {7, 0}, {7, 3}, {0, 3}},
                                               {{30, 10}, {39, 12}, {35, 29}}}) {
    cv::Mat m = cv::Mat::zeros(30, 40, CV_8UC1);
    FillPolygon(p, &m);
    const std::array<int, 4> b = MaskBox(m);
    const std::array<int, 4> f = MaskBox(FlipHorizontal(m));
    EXPECT_EQ(f, (std::array<int, 4>{40 - b[2], b[1], 40 - b[0], b[3]}));
  }
}

Dataset TwoShapeDataset(const std::string& dir, int instances = 2) {
  Dataset ds;
  EXPECT_TRUE(ds.AddClass("t", 1, "a").ok());
  EXPECT_TRUE(ds.AddClass("t", 2, "b").ok());
  testing::WriteImage(dir + "/img.png", 90, 60);
  ImageInfo info;
  info.source = "t";
  info.id = "img";
  info.path = dir + "/img.png";
  info.width = 90;
  info.height = 60;
  for (int k = 0; k < instances; ++k) {
    Annotation a;
    a.class_id = 1 + k % 2;
    a.source_index = k;
    const double x = 3 + 11 * (k % 7), y = 4 + 7 * (k / 7);
    a.polygons.push_back({{x, y}, {x + 9.5, y + 1}, {x + 4, y + 6.5}});
    info.annotations.push_back(a);
  }
  ds.AddImage(info);
  EXPECT_TRUE(ds.Prepare().ok());
  return ds;
}

TEST(PrepareImage, FlipKeepsBoxesOnTheFlippedMasks) {
  const Dataset ds = TwoShapeDataset(testing::MakeTempDir("prep_flip"));
  for (const char* mode : {"none", "square", "torchvision"}) {
    mrcnn::Config c = Cfg(mode, 64, 128);
    c.USE_MINI_MASK = false;
    Rng r0(1), r1(1);
    const PreparedImage a = PrepareImage(ds, 0, c, true, &r0, 0).value();
    const PreparedImage b = PrepareImage(ds, 0, c, true, &r1, 1).value();
    EXPECT_FALSE(a.meta.flipped);
    EXPECT_TRUE(b.meta.flipped);
    ASSERT_EQ(a.boxes.size(), 2u);
    ASSERT_EQ(b.boxes.size(), 2u);
    const int wx1 = a.meta.window[1], wx2 = a.meta.window[3];
    for (int k = 0; k < 2; ++k) {
      // Boxes are read off the masks...
      const std::array<int, 4> mb = MaskBox(b.masks[k]);
      EXPECT_EQ(b.boxes[k], (std::array<float, 4>{float(mb[0]), float(mb[1]), float(mb[2]), float(mb[3])}));
      // ...and the flipped box mirrors the unflipped one inside the window (exact without resizing).
      if (std::string(mode) == "none") {
        EXPECT_EQ(b.boxes[k][0], wx1 + wx2 - a.boxes[k][2]) << mode;
        EXPECT_EQ(b.boxes[k][2], wx1 + wx2 - a.boxes[k][0]) << mode;
        EXPECT_EQ(b.boxes[k][1], a.boxes[k][1]);
        EXPECT_EQ(cv::norm(FlipHorizontal(a.image), b.image, cv::NORM_INF), 0);
      } else {
        EXPECT_NEAR(b.boxes[k][0], wx1 + wx2 - a.boxes[k][2], 2.0) << mode;
        EXPECT_NEAR(b.boxes[k][2], wx1 + wx2 - a.boxes[k][0], 2.0) << mode;
      }
    }
  }
}

TEST(PrepareImage, NormalisesAndCapsInstances) {
  const Dataset ds = TwoShapeDataset(testing::MakeTempDir("prep_norm"), 12);
  mrcnn::Config c = Cfg("none", 64, 128);
  c.MEAN_PIXEL = {10, 20, 30};
  c.IMAGE_STD = {2, 4, 5};
  c.MAX_GT_INSTANCES = 5;
  c.USE_MINI_MASK = true;
  c.MINI_MASK_SHAPE = {28, 28};
  Rng r0(3), r1(3);
  const PreparedImage a = PrepareImage(ds, 0, c, false, &r0).value();
  const PreparedImage b = PrepareImage(ds, 0, c, false, &r1).value();
  // WriteImage's pixel at (x=4, y=2) is BGR (12, 10, 6), so RGB (6, 10, 12).
  const cv::Vec3f p = a.image.at<cv::Vec3f>(2, 4);
  EXPECT_FLOAT_EQ(p[0], (6 - 10) / 2.0f);
  EXPECT_FLOAT_EQ(p[1], (10 - 20) / 4.0f);
  EXPECT_FLOAT_EQ(p[2], (12 - 30) / 5.0f);
  EXPECT_EQ(a.boxes.size(), 5u);
  EXPECT_EQ(a.dropped_over_max, 7);
  EXPECT_EQ(a.boxes, b.boxes);  // the subset follows the seed
  for (const cv::Mat& m : a.masks) EXPECT_EQ(m.size(), cv::Size(28, 28));
}

TEST(PrepareImage, ConfigItCannotUseIsAnError) {
  const Dataset ds = TwoShapeDataset(testing::MakeTempDir("prep_cfg"));
  mrcnn::Config c = Cfg("none", 64, 128);
  c.MEAN_PIXEL = {1, 2};
  Rng rng(0);
  const absl::StatusOr<PreparedImage> p = PrepareImage(ds, 0, c, false, &rng);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), ::testing::HasSubstr("MEAN_PIXEL"));
}

TEST(MiniMask, RoundTripKeepsConvexShapes) {
  Rng rng(5);
  for (int trial = 0; trial < 60; ++trial) {
    cv::Mat m = cv::Mat::zeros(200, 240, CV_8UC1);
    const double x = rng.UniformInt(40, 200), y = rng.UniformInt(40, 160), s = rng.UniformInt(8, 38);
    switch (trial % 3) {
      case 0: FillCircle({{x, y}, s}, &m); break;
      case 1: FillPolygon({{x - s, y + s}, {x + s, y + s * 0.7}, {x, y - s}}, &m); break;
      default: FillPolygon({{x - s, y - s / 2}, {x + s, y - s / 2}, {x + s, y + s / 2}, {x - s, y + s / 2}}, &m);
    }
    const std::array<int, 4> b = MaskBox(m);
    const std::array<float, 4> box = {float(b[0]), float(b[1]), float(b[2]), float(b[3])};
    const cv::Mat mini = MinimizeMask(m, box, {56, 56});
    ASSERT_EQ(mini.size(), cv::Size(56, 56));
    const cv::Mat back = ExpandMask(mini, box, 200, 240);
    const double inter = cv::countNonZero(m & back), uni = cv::countNonZero(m | back);
    EXPECT_GT(inter / uni, 0.9) << "trial " << trial;
  }
}

}  // namespace
}  // namespace mrcnn::datasets
