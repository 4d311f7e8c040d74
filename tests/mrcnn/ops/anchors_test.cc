#include "mrcnn/ops/anchors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/mrcnn/ops/reference.h"

namespace mrcnn {
namespace ops {
namespace {

using testing::LoadReference;
using testing::Reference;

TEST(AnchorsTest, EqualTorchvisionAtStride1) {
  const Reference ref = LoadReference("anchors");
  for (int64_t c = 0; c < ref.Int("count"); ++c) {
    const std::string p = std::to_string(c) + "/";
    AnchorOptions opt;
    const int64_t levels = ref.Int(p + "num_levels");
    std::vector<std::pair<int64_t, int64_t>> features;
    for (int64_t l = 0; l < levels; ++l) {
      const at::Tensor s = ref.at(p + "sizes/" + std::to_string(l));
      opt.sizes_per_level.emplace_back(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
      const at::Tensor f = ref.at(p + "feature/" + std::to_string(l));
      features.emplace_back(f[0].item<int64_t>(), f[1].item<int64_t>());
    }
    const at::Tensor r = ref.at(p + "ratios");
    opt.ratios.assign(r.data_ptr<double>(), r.data_ptr<double>() + r.numel());
    opt.convention = AnchorConvention::kTorchvision;
    const AnchorGenerator gen = AnchorGenerator::Create(opt).value();
    const at::Tensor image = ref.at(p + "image");
    const auto strides = AnchorGenerator::InferStrides(
        {image[0].item<int64_t>(), image[1].item<int64_t>()}, features);
    const std::vector<at::Tensor> anchors = gen.Anchors(features, strides);
    ASSERT_EQ(static_cast<int64_t>(anchors.size()), levels);
    for (int64_t l = 0; l < levels; ++l) {
      EXPECT_TRUE(at::equal(anchors[l], ref.at(p + "anchors/" + std::to_string(l))))
          << "case " << c << " level " << l;
    }
  }
}

TEST(AnchorsTest, MatterportConventionAndOrder) {
  AnchorOptions opt;
  opt.sizes_per_level = {{32}, {64}};
  opt.ratios = {0.5, 1.0, 2.0};
  opt.convention = AnchorConvention::kMatterport;
  const AnchorGenerator gen = AnchorGenerator::Create(opt).value();
  const std::vector<at::Tensor> a = gen.Anchors({{2, 3}, {1, 2}}, std::vector<int64_t>{4, 8});
  ASSERT_EQ(a[0].sizes(), (std::vector<int64_t>{2 * 3 * 3, 4}));
  ASSERT_EQ(a[1].sizes(), (std::vector<int64_t>{1 * 2 * 3, 4}));
  // matterport: ratio = width / height; height = scale / sqrt(ratio), width = scale * sqrt(ratio).
  const float* p = a[0].data_ptr<float>();
  const double w0 = 32 * std::sqrt(0.5), h0 = 32 / std::sqrt(0.5);
  EXPECT_FLOAT_EQ(p[0], -w0 / 2);
  EXPECT_FLOAT_EQ(p[1], -h0 / 2);
  EXPECT_FLOAT_EQ(p[2], w0 / 2);
  EXPECT_FLOAT_EQ(p[3], h0 / 2);
  // Cell (row 1, col 2) of level 0 is cell 5; its ratio-1 anchor is 5 * 3 + 1, centred at (8, 4).
  const float* q = p + 4 * (5 * 3 + 1);
  EXPECT_FLOAT_EQ(q[0], 8 - 16);
  EXPECT_FLOAT_EQ(q[1], 4 - 16);
  EXPECT_FLOAT_EQ(q[2], 8 + 16);
  EXPECT_FLOAT_EQ(q[3], 4 + 16);
}

TEST(AnchorsTest, Stride2KeepsEveryOtherCellAndMatchesSubsampledHead) {
  AnchorOptions opt;
  opt.sizes_per_level = {{16}};
  opt.ratios = {0.5, 1.0, 2.0};
  opt.convention = AnchorConvention::kTorchvision;
  AnchorOptions opt2 = opt;
  opt2.anchor_stride = 2;
  const AnchorGenerator full = AnchorGenerator::Create(opt).value();
  const AnchorGenerator half = AnchorGenerator::Create(opt2).value();
  const at::Tensor a1 = full.Anchors({{5, 6}}, std::vector<int64_t>{4})[0].view({5, 6, 3, 4});
  const at::Tensor a2 = half.Anchors({{5, 6}}, std::vector<int64_t>{4})[0];
  ASSERT_EQ(a2.size(0), 3 * 3 * 3);
  EXPECT_TRUE(at::equal(a2, a1.slice(0, 0, 5, 2).slice(1, 0, 6, 2).reshape({-1, 4})));
  // A head output laid out [N, A, H, W] subsampled the same way lines up with the anchors.
  const at::Tensor head = at::arange(5 * 6, at::kFloat).view({1, 1, 5, 6});
  const at::Tensor sub = SubsampleToAnchorStride(head, 2);
  EXPECT_TRUE(
      at::equal(sub.flatten(), at::tensor({0.f, 2.f, 4.f, 12.f, 14.f, 16.f, 24.f, 26.f, 28.f})));
}

// RPN_ANCHOR_STRIDE takes any positive integer with matterport's meaning. matterport's
// utils.generate_anchors(scales=32, ratios=[0.5, 1, 2], shape=(7, 5), feature_stride=8,
// anchor_stride=3) centres anchors at shifts_y = arange(0, 7, 3) * 8 = (0, 24, 48) and
// shifts_x = arange(0, 5, 3) * 8 = (0, 24), rows outer, and per centre one box per ratio with
// height = 32 / sqrt(r), width = 32 * sqrt(r).
TEST(AnchorsTest, Stride3FollowsMatterportsGenerateAnchors) {
  AnchorOptions opt;
  opt.sizes_per_level = {{32}};
  opt.ratios = {0.5, 1.0, 2.0};
  opt.convention = AnchorConvention::kMatterport;
  opt.anchor_stride = 3;
  const AnchorGenerator gen = AnchorGenerator::Create(opt).value();
  const at::Tensor a = gen.Anchors({{7, 5}}, std::vector<int64_t>{8})[0];
  ASSERT_EQ(a.size(0), 3 * 2 * 3);
  const float* p = a.data_ptr<float>();
  int k = 0;
  for (double cy : {0.0, 24.0, 48.0}) {
    for (double cx : {0.0, 24.0}) {
      for (double r : {0.5, 1.0, 2.0}) {
        const double h = 32 / std::sqrt(r), w = 32 * std::sqrt(r);
        EXPECT_NEAR(p[4 * k + 0], cx - w / 2, 1e-4) << k;  // (x1, y1, x2, y2)
        EXPECT_NEAR(p[4 * k + 1], cy - h / 2, 1e-4) << k;
        EXPECT_NEAR(p[4 * k + 2], cx + w / 2, 1e-4) << k;
        EXPECT_NEAR(p[4 * k + 3], cy + h / 2, 1e-4) << k;
        ++k;
      }
    }
  }
  // The last one by hand: centre (y 48, x 24), ratio 2: w = 45.2548, h = 22.6274.
  EXPECT_NEAR(p[4 * 17 + 0], 1.3726, 1e-4);
  EXPECT_NEAR(p[4 * 17 + 1], 36.6863, 1e-4);
  EXPECT_NEAR(p[4 * 17 + 2], 46.6274, 1e-4);
  EXPECT_NEAR(p[4 * 17 + 3], 59.3137, 1e-4);
  // The head's outputs keep the same cells: rows 0, 3, 6 and columns 0, 3 of a 7 x 5 map.
  const at::Tensor head = at::arange(7 * 5, at::kFloat).view({1, 1, 7, 5});
  EXPECT_TRUE(at::equal(SubsampleToAnchorStride(head, 3).flatten(),
                        at::tensor({0.f, 3.f, 15.f, 18.f, 30.f, 33.f})));
}

TEST(AnchorsTest, ConfigAndCache) {
  Config config;
  config.RPN_ANCHOR_SCALES = {8, 16};
  config.RPN_ANCHOR_RATIOS = {1.0, 2.0};
  config.RPN_ANCHOR_STRIDE = 2;
  config.RPN_ANCHOR_CONVENTION = AnchorConvention::kMatterport;
  const AnchorOptions opt = AnchorOptionsFromConfig(config);
  ASSERT_EQ(opt.sizes_per_level.size(), 2u);
  EXPECT_EQ(opt.anchor_stride, 2);
  const AnchorGenerator gen = AnchorGenerator::Create(opt).value();
  EXPECT_EQ(gen.NumAnchorsPerCell(1), 2);
  const auto a = gen.Anchors({{4, 4}, {2, 2}}, std::vector<int64_t>{4, 8});
  const auto b = gen.Anchors({{4, 4}, {2, 2}}, std::vector<int64_t>{4, 8});
  EXPECT_EQ(gen.CacheSize(), 1u);
  EXPECT_TRUE(a[0].is_same(b[0]));
  gen.Anchors({{6, 4}, {3, 2}}, std::vector<int64_t>{4, 8});
  EXPECT_EQ(gen.CacheSize(), 2u);
}

TEST(AnchorsTest, BadArguments) {
  AnchorOptions opt;
  opt.sizes_per_level = {{32}};
  opt.ratios = {1.0};
  AnchorOptions bad = opt;
  bad.anchor_stride = 0;
  EXPECT_FALSE(AnchorGenerator::Create(bad).ok());
  bad = opt;
  bad.ratios = {-1.0};
  EXPECT_FALSE(AnchorGenerator::Create(bad).ok());
  bad = opt;
  bad.sizes_per_level = {};
  EXPECT_FALSE(AnchorGenerator::Create(bad).ok());
  const AnchorGenerator gen = AnchorGenerator::Create(opt).value();
  EXPECT_THROW(gen.Anchors({{-1, 4}}, std::vector<int64_t>{4}), c10::Error);
  EXPECT_THROW(gen.Anchors({{4, 4}, {2, 2}}, std::vector<int64_t>{4, 8}), c10::Error);
  EXPECT_THROW(gen.Anchors({{4, 4}}, std::vector<int64_t>{0}), c10::Error);
  EXPECT_THROW(SubsampleToAnchorStride(at::zeros({2, 3}), 2), c10::Error);
  EXPECT_EQ(gen.Anchors({{0, 4}}, std::vector<int64_t>{4})[0].size(0), 0);
}

}  // namespace
}  // namespace ops
}  // namespace mrcnn
