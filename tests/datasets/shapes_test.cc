// Synthetic shapes: same seed same images and masks, image k independent of the dataset size, a fixed
// validation set per seed, 1 to 4 shapes, masks consistent with the painted pixels and occlusion.
#include "datasets/shapes.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mrcnn::datasets {
namespace {

bool SameImage(const cv::Mat& a, const cv::Mat& b) { return a.size() == b.size() && cv::norm(a, b, cv::NORM_INF) == 0; }

TEST(Shapes, SameSeedSameImagesAndMasks) {
  const Dataset a = MakeShapesDataset({20, 96, 128, 5, "train"});
  const Dataset b = MakeShapesDataset({20, 96, 128, 5, "train"});
  const Dataset c = MakeShapesDataset({20, 96, 128, 6, "train"});
  EXPECT_EQ(a.class_names(), (std::vector<std::string>{"BG", "square", "circle", "triangle"}));
  int differ = 0;
  for (int i = 0; i < 20; ++i) {
    const cv::Mat ia = a.LoadImage(i).value(), ib = b.LoadImage(i).value(), ic = c.LoadImage(i).value();
    EXPECT_EQ(ia.rows, 96);
    EXPECT_EQ(ia.cols, 128);
    EXPECT_TRUE(SameImage(ia, ib));
    differ += !SameImage(ia, ic);
    const InstanceMasks ma = a.LoadMask(i).value(), mb = b.LoadMask(i).value();
    EXPECT_EQ(ma.class_ids, mb.class_ids);
    for (int k = 0; k < ma.size(); ++k) EXPECT_TRUE(SameImage(ma.masks[k], mb.masks[k]));
  }
  EXPECT_GT(differ, 15);
}

TEST(Shapes, ValidationSetIsFixedPerSeedAndIndependentOfSize) {
  const Dataset small = MakeShapesDataset({5, 64, 64, 9, "val"});
  const Dataset large = MakeShapesDataset({50, 64, 64, 9, "val"});
  const Dataset train = MakeShapesDataset({5, 64, 64, 9, "train"});
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(SameImage(small.LoadImage(i).value(), large.LoadImage(i).value()));
    EXPECT_FALSE(SameImage(small.LoadImage(i).value(), train.LoadImage(i).value()));
  }
}

TEST(Shapes, CountsClassesAndOcclusion) {
  const Dataset ds = MakeShapesDataset({200, 128, 128, 1, "train"});
  std::vector<int> per_count(5), per_class(4);
  int occluded = 0;
  for (int i = 0; i < ds.num_images(); ++i) {
    const ImageInfo& info = ds.image_info(i);
    const int n = static_cast<int>(info.annotations.size());
    ASSERT_GE(n, 1);
    ASSERT_LE(n, 4);
    ++per_count[n];
    const InstanceMasks m = ds.LoadMask(i).value();
    ASSERT_EQ(m.size(), n);  // no shape is hidden entirely
    const cv::Mat rgb = ds.LoadImage(i).value();
    cv::Mat any = cv::Mat::zeros(128, 128, CV_8UC1);
    for (int k = 0; k < n; ++k) {
      ++per_class[m.class_ids[k]];
      // Visible masks do not overlap, and each one's pixels carry its colour.
      EXPECT_EQ(cv::countNonZero(any & m.masks[k]), 0);
      any |= m.masks[k];
      const auto& c = info.scene.colours[k];
      cv::Mat wrong;
      cv::inRange(rgb, cv::Scalar(c[0], c[1], c[2]), cv::Scalar(c[0], c[1], c[2]), wrong);
      EXPECT_EQ(cv::countNonZero(m.masks[k] & ~wrong), 0);
      const cv::Mat full = RasteriseAnnotation(info.annotations[k], 128, 128).value();
      const double visible = static_cast<double>(cv::countNonZero(m.masks[k])) / cv::countNonZero(full);
      EXPECT_GE(visible, 0.25);
      occluded += visible < 1.0;
    }
  }
  for (int n = 1; n <= 4; ++n) EXPECT_GT(per_count[n], 20) << n;
  for (int c = 1; c <= 3; ++c) EXPECT_GT(per_class[c], 50) << c;
  EXPECT_GT(occluded, 10);  // later shapes do cover earlier ones
}

TEST(Shapes, AnySize) {
  const Dataset ds = MakeShapesDataset({3, 40, 300, 2, "train"});
  for (int i = 0; i < 3; ++i) {
    const cv::Mat rgb = ds.LoadImage(i).value();
    EXPECT_EQ(rgb.rows, 40);
    EXPECT_EQ(rgb.cols, 300);
    EXPECT_GE(ds.LoadMask(i).value().size(), 1);
  }
}

}  // namespace
}  // namespace mrcnn::datasets
