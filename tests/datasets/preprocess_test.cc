// Preprocessing: matterport's resize_image geometry (hand-computed), torchvision's resize (sizes,
// pixels and masks from torchvision itself), flips keep masks and boxes consistent, mini masks round
// trip with IoU > 0.9 for convex shapes, MAX_GT_INSTANCES, normalisation, and big JPEGs decoded at
// reduced size: same prepared size, masks on the shapes drawn in the image.
#include "datasets/preprocess.h"

#include <fstream>

#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/datasets/fixtures.h"

namespace mrcnn::datasets {
namespace {

mrcnn::Config Cfg(const std::string& mode, int min_dim, int max_dim, double min_scale = 0) {
  mrcnn::Config c;
  EXPECT_TRUE(mrcnn::ParseEnum(mode, &c.IMAGE_RESIZE_MODE)) << mode;
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

// A big photo: a red rectangle (x 600..1399, y 400..999) and a green triangle drawn on blue, each
// labelled by its polygon, as `ext` ("jpg" or "png"), `width` x 1600.
Dataset BigPhoto(const std::string& dir, const std::string& ext, int width) {
  const int height = 1600;
  cv::Mat bgr(height, width, CV_8UC3, cv::Scalar(200, 60, 30));
  cv::rectangle(bgr, cv::Point(600, 400), cv::Point(1399, 999), cv::Scalar(40, 40, 230), cv::FILLED);
  const std::vector<cv::Point> triangle = {{1700, 1400}, {2300, 1400}, {2000, 900}};
  cv::fillPoly(bgr, std::vector<std::vector<cv::Point>>{triangle}, cv::Scalar(40, 220, 40));
  const std::string path = dir + "/photo." + ext;
  cv::imwrite(path, bgr, {cv::IMWRITE_JPEG_QUALITY, 95});
  Dataset ds;
  EXPECT_TRUE(ds.AddClass("s", 1, "rectangle").ok());
  EXPECT_TRUE(ds.AddClass("s", 2, "triangle").ok());
  ImageInfo info;
  info.source = "s";
  info.id = "photo";
  info.path = path;
  info.width = width;
  info.height = height;
  Annotation rect, tri;
  rect.class_id = 1;
  rect.source_index = 0;
  rect.polygons = {{{600, 400}, {1400, 400}, {1400, 1000}, {600, 1000}}};
  tri.class_id = 2;
  tri.source_index = 1;
  tri.polygons = {{{1700, 1400}, {2300, 1400}, {2000, 900}}};
  info.annotations = {rect, tri};
  ds.AddImage(info);
  EXPECT_TRUE(ds.Prepare().ok());
  return ds;
}

// Centroid (x, y) of the pixels where `which` holds.
template <typename Pred>
std::array<double, 2> Centroid(int rows, int cols, Pred which) {
  double sx = 0, sy = 0, n = 0;
  for (int y = 0; y < rows; ++y) {
    for (int x = 0; x < cols; ++x) {
      if (!which(y, x)) continue;
      sx += x, sy += y, n += 1;
    }
  }
  return {sx / n, sy / n};
}

// Prepared at 256 px (square mode), a 2400 x 1600 JPEG is decoded at 1/8: 300 x 200 still covers the
// 256 x 171 the resize makes (scale 256 / 2400, 1600 * 0.10667 = 170.7 -> 171 rows, 42 rows of padding
// on top); 2404 x 1600 at 1/4 (2404 = 4 * 601; 1600 * 256 / 2404 = 170.4 -> 170 rows, 43 on top). The
// output has the size of a full decode, the masks are the full decode's, and the shapes in the image
// lie where they lie in the full decode (the PNG of the same pixels): the centroid of the red
// (green) pixels within 0.2 output pixels, flipped or not; one reduced pixel of misalignment would
// move it by 8 / 9.4 = 0.85. Against its mask, each shape's centroid is within the half output pixel
// by which nearest-neighbour masks (floor sampling, torchvision's convention) sit right and below
// bilinear images: (9.375 - 1) / 2 source pixels = 0.45 output pixels, plus rounding.
TEST(PrepareImage, BigJpegDecodedReducedKeepsImageAndMasksAligned) {
  mrcnn::Config c = Cfg("square", 256, 256);
  c.MEAN_PIXEL = {0, 0, 0};
  c.IMAGE_STD = {1, 1, 1};
  c.USE_MINI_MASK = false;
  struct Case {
    int width;
    int flip;
    int reduction;  // by hand: the largest of 8, 4, 2 dividing both sides
    int rows;       // resized rows, by hand
    int top;        // padding rows above them: (256 - rows) / 2
  };
  for (const Case& k : std::vector<Case>{{2400, 0, 8, 171, 42}, {2400, 1, 8, 171, 42}, {2404, 0, 4, 170, 43}}) {
    const std::string what = std::to_string(k.width) + (k.flip ? " flipped" : "");
    std::vector<PreparedImage> both;  // JPEG, PNG
    for (const char* ext : {"jpg", "png"}) {
      const Dataset ds = BigPhoto(testing::MakeTempDir("prep_big"), ext, k.width);
      Rng rng(0);
      absl::StatusOr<PreparedImage> p = PrepareImage(ds, 0, c, /*augment=*/true, &rng, k.flip);
      ASSERT_TRUE(p.ok()) << p.status();
      EXPECT_EQ(p->meta.decoded_reduction, ext == std::string("jpg") ? k.reduction : 1) << what << " " << ext;
      EXPECT_EQ(p->meta.original_height, 1600);
      EXPECT_EQ(p->meta.original_width, k.width);
      ASSERT_EQ(p->image.size(), cv::Size(256, 256)) << what;
      EXPECT_EQ(p->meta.window, (std::array<int, 4>{k.top, 0, k.top + k.rows, 256})) << what;
      ASSERT_EQ(p->masks.size(), 2u) << what;
      both.push_back(*std::move(p));
    }
    const PreparedImage& jpg = both[0];
    const PreparedImage& png = both[1];
    if (k.width == 2400 && !k.flip) {
      // The rectangle's box by hand: x 600 * s = 64 .. 1400 * s = 149.3, y 42 + 400 * s = 84.7 ..
      // 42 + 1000 * s = 148.7, with s = 256 / 2400; nearest-neighbour masks are within a pixel.
      const std::array<float, 4> expected = {64.0f, 84.67f, 149.33f, 148.67f};
      for (int i = 0; i < 4; ++i) EXPECT_NEAR(jpg.boxes[0][i], expected[i], 1.0) << what << " " << i;
    }
    for (int shape = 0; shape < 2; ++shape) {
      EXPECT_EQ(cv::norm(jpg.masks[shape], png.masks[shape], cv::NORM_L1), 0) << what;
      EXPECT_EQ(jpg.boxes[shape], png.boxes[shape]) << what;
      const auto colour = [&](const cv::Mat& img) {
        return [&img, shape](int y, int x) {
          const cv::Vec3f v = img.at<cv::Vec3f>(y, x);  // RGB values (mean 0, std 1)
          return shape == 0 ? v[0] > 135 && v[1] < 130 && v[2] < 135 : v[1] > 130 && v[0] < 135 && v[2] < 120;
        };
      };
      const std::array<double, 2> in_jpg = Centroid(256, 256, colour(jpg.image));
      const std::array<double, 2> in_png = Centroid(256, 256, colour(png.image));
      const cv::Mat& m = jpg.masks[shape];
      const std::array<double, 2> in_mask = Centroid(256, 256, [&](int y, int x) { return m.at<uint8_t>(y, x) != 0; });
      for (int axis = 0; axis < 2; ++axis) {
        EXPECT_NEAR(in_jpg[axis], in_png[axis], 0.2) << what << " shape " << shape << " axis " << axis;
        EXPECT_NEAR(in_jpg[axis], in_mask[axis], 0.75) << what << " shape " << shape << " axis " << axis;
      }
    }
    // The pixels differ only by the decoders' filtering.
    EXPECT_LT(cv::norm(jpg.image, png.image, cv::NORM_L1) / (256.0 * 256 * 3), 3.0) << what;
  }
}

TEST(PrepareImage, NoReductionWhenTheResizeDoesNotShrink) {
  // none and pad64 never scale down: the JPEG is decoded whole.
  const Dataset ds = BigPhoto(testing::MakeTempDir("prep_big_none"), "jpg", 2400);
  for (const char* mode : {"none", "pad64"}) {
    Rng rng(0);
    absl::StatusOr<PreparedImage> p = PrepareImage(ds, 0, Cfg(mode, 64, 128), false, &rng);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->meta.decoded_reduction, 1) << mode;
    EXPECT_EQ(p->image.cols, mode == std::string("none") ? 2400 : 2432) << mode;  // pad64: 2400 -> 38 * 64
  }
}

TEST(PrepareImage, ImagesOverThePixelLimitAreErrorsNamingTheFile) {
  const std::string dir = testing::MakeTempDir("prep_huge");
  Dataset ds = BigPhoto(dir, "jpg", 2400);
  ds.set_image_max_pixels(2400 * 1600 - 1);
  Rng rng(0);
  absl::StatusOr<PreparedImage> p = PrepareImage(ds, 0, Cfg("square", 256, 256), false, &rng);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), ::testing::HasSubstr(dir + "/photo.jpg: image of 2400x1600"));
  EXPECT_FALSE(PrepareImage(ds, 5, Cfg("square", 256, 256), false, &rng).ok());  // no such image
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
