#include "mrcnn/ops/roi_align.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/mrcnn/ops/reference.h"

namespace mrcnn {
namespace ops {
namespace {

using testing::LoadReference;
using testing::MaxAbsDiff;
using testing::Reference;

TEST(RoiAlignTest, ForwardAndBackwardMatchTorchvision) {
  const Reference ref = LoadReference("roi_align");
  const int64_t n = ref.Int("single/count");
  ASSERT_GT(n, 0);
  for (int64_t i = 0; i < n; ++i) {
    const std::string p = "single/" + std::to_string(i) + "/";
    const at::Tensor input = ref.at(p + "input").clone().requires_grad_(true);
    const at::Tensor out =
        RoiAlign(input, ref.at(p + "rois"), ref.Double(p + "scale"), ref.Int(p + "pooled_h"),
                 ref.Int(p + "pooled_w"), ref.Int(p + "sampling_ratio"), ref.Bool(p + "aligned"));
    EXPECT_LT(MaxAbsDiff(out.detach(), ref.at(p + "output")), 1e-5) << "forward, case " << i;
    out.backward(ref.at(p + "grad_output"));
    ASSERT_TRUE(input.grad().defined());
    EXPECT_LT(MaxAbsDiff(input.grad(), ref.at(p + "grad_input")), 1e-4) << "backward, case " << i;
  }
}

TEST(RoiAlignTest, MultiScaleMatchesTorchvision) {
  const Reference ref = LoadReference("roi_align");
  const std::vector<at::Tensor> boxes = {ref.at("multi/boxes/0"), ref.at("multi/boxes/1")};
  const at::Tensor sizes = ref.at("multi/image_sizes");
  const std::vector<std::pair<int64_t, int64_t>> image_sizes = {
      {sizes[0][0].item<int64_t>(), sizes[0][1].item<int64_t>()},
      {sizes[1][0].item<int64_t>(), sizes[1][1].item<int64_t>()}};
  for (int64_t i = 0; i < ref.Int("multi/count"); ++i) {
    const std::string p = "multi/" + std::to_string(i) + "/";
    std::vector<at::Tensor> features;
    for (int l = 2; l <= 5; ++l) {
      features.push_back(ref.at("multi/feature/" + std::to_string(l)).clone().requires_grad_(true));
    }
    const LevelScales scales = InferLevelScales(features, image_sizes);
    EXPECT_EQ(scales.k_min, 2);
    EXPECT_EQ(scales.k_max, 5);
    const LevelMapper mapper(scales.k_min, scales.k_max);
    EXPECT_TRUE(at::equal(mapper(at::cat(boxes)), ref.at(p + "levels")));
    const int64_t size = ref.Int(p + "out_size");
    const at::Tensor out =
        MultiScaleRoiAlign(features, boxes, image_sizes, size, size, ref.Int(p + "sampling_ratio"));
    EXPECT_LT(MaxAbsDiff(out.detach(), ref.at(p + "output")), 1e-5) << "case " << i;
    out.backward(ref.at(p + "grad_output"));
    for (int l = 2; l <= 5; ++l) {
      ASSERT_TRUE(features[l - 2].grad().defined());
      EXPECT_LT(MaxAbsDiff(features[l - 2].grad(), ref.at(p + "grad/" + std::to_string(l))), 1e-4)
          << "case " << i << " level " << l;
    }
  }
}

// Central finite differences of sum(output * weights) in double precision against the analytic
// gradient. ROIAlign is linear in the features, so the differences are exact up to rounding: this
// checks that the backward scatters exactly the weights the forward gathers with.
TEST(RoiAlignTest, BackwardMatchesFiniteDifferences) {
  const at::Tensor input = at::randn({2, 2, 6, 7}, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor rois = at::tensor({0.0, 1.3,  0.7,  9.1,  8.2,  1.0, -2.1, 3.3, 5.9, 14.7,
                                      0.0, 10.2, 10.9, 10.6, 11.4, 1.0, 4.4,  2.1, 9.9, 16.3},
                                     at::kDouble)
                              .view({4, 5});
  for (bool aligned : {false, true}) {
    for (int64_t sr : {2, -1}) {
      const at::Tensor weights = at::randn({4, 2, 3, 2}, at::kDouble);
      const at::Tensor x = input.clone().requires_grad_(true);
      (RoiAlign(x, rois, 0.5, 3, 2, sr, aligned) * weights).sum().backward();
      const at::Tensor analytic = x.grad();
      at::Tensor numeric = at::zeros_like(input);
      const double eps = 1e-6;
      for (int64_t k = 0; k < input.numel(); ++k) {
        at::Tensor plus = input.clone();
        at::Tensor minus = input.clone();
        plus.view({-1})[k] += eps;
        minus.view({-1})[k] -= eps;
        const double fp =
            (RoiAlignForward(plus, rois, 0.5, 3, 2, sr, aligned) * weights).sum().item<double>();
        const double fm =
            (RoiAlignForward(minus, rois, 0.5, 3, 2, sr, aligned) * weights).sum().item<double>();
        numeric.view({-1})[k] = (fp - fm) / (2 * eps);
      }
      EXPECT_LT(MaxAbsDiff(analytic, numeric), 1e-7) << "aligned " << aligned << " sr " << sr;
      EXPECT_GT(analytic.abs().sum().item<double>(), 0.0);
    }
  }
}

TEST(RoiAlignTest, ThreadCountDoesNotChangeResults) {
  const at::Tensor input = at::randn({2, 16, 20, 24});
  const at::Tensor boxes = at::rand({50, 4}) * 60;
  const at::Tensor rois = at::cat({at::randint(0, 2, {50, 1}).to(at::kFloat),
                                   at::min(boxes.slice(1, 0, 2), boxes.slice(1, 2, 4)),
                                   at::max(boxes.slice(1, 0, 2), boxes.slice(1, 2, 4))},
                                  1);
  const at::Tensor grad = at::randn({50, 16, 7, 7});
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const at::Tensor f1 = RoiAlignForward(input, rois, 0.25, 7, 7, 2, false);
  const at::Tensor b1 = RoiAlignBackward(grad, rois, 0.25, 2, 16, 20, 24, 2, false);
  at::set_num_threads(2);
  const at::Tensor f2 = RoiAlignForward(input, rois, 0.25, 7, 7, 2, false);
  const at::Tensor b2 = RoiAlignBackward(grad, rois, 0.25, 2, 16, 20, 24, 2, false);
  at::set_num_threads(threads);
  // Each output and each gradient plane is written by one thread in a fixed order: bit-identical.
  EXPECT_TRUE(at::equal(f1, f2));
  EXPECT_TRUE(at::equal(b1, b2));
}

TEST(RoiAlignTest, EmptyInputs) {
  const at::Tensor input = at::randn({1, 3, 5, 5}).requires_grad_(true);
  const at::Tensor out = RoiAlign(input, at::zeros({0, 5}), 1.0, 2, 2, 2, false);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{0, 3, 2, 2}));
  out.sum().backward();
  EXPECT_EQ(input.grad().abs().sum().item<float>(), 0.f);
}

TEST(RoiAlignTest, BadArgumentsRaise) {
  const at::Tensor input = at::zeros({2, 3, 5, 5});
  const at::Tensor rois = at::tensor({0.f, 0.f, 0.f, 2.f, 2.f}).view({1, 5});
  EXPECT_THROW(RoiAlign(at::zeros({3, 5, 5}), rois, 1.0, 2, 2, 2, false), c10::Error);
  EXPECT_THROW(RoiAlign(input, at::zeros({1, 4}), 1.0, 2, 2, 2, false), c10::Error);
  EXPECT_THROW(RoiAlign(input.to(at::kInt), rois, 1.0, 2, 2, 2, false), c10::Error);
  EXPECT_THROW(RoiAlign(input, rois.to(at::kDouble), 1.0, 2, 2, 2, false), c10::Error);
  EXPECT_THROW(RoiAlign(input, rois, 1.0, -2, 2, 2, false), c10::Error);
  EXPECT_THROW(RoiAlign(input, rois, 1.0, 2, 0, 2, false), c10::Error);
  EXPECT_THROW(RoiAlign(input, rois, -1.0, 2, 2, 2, false), c10::Error);
  const at::Tensor bad_batch = at::tensor({2.f, 0.f, 0.f, 2.f, 2.f}).view({1, 5});
  EXPECT_THROW(RoiAlign(input, bad_batch, 1.0, 2, 2, 2, false), c10::Error);
  const at::Tensor negative_batch = at::tensor({-1.f, 0.f, 0.f, 2.f, 2.f}).view({1, 5});
  EXPECT_THROW(RoiAlign(input, negative_batch, 1.0, 2, 2, 2, false), c10::Error);
  const at::Tensor nan_roi = at::tensor({0.f, std::nanf(""), 0.f, 2.f, 2.f}).view({1, 5});
  EXPECT_THROW(RoiAlign(input, nan_roi, 1.0, 2, 2, 2, false), c10::Error);
  const at::Tensor huge = at::tensor({0.f, -1e9f, -1e9f, 1e9f, 1e9f}).view({1, 5});
  EXPECT_THROW(RoiAlign(input, huge, 1.0, 7, 7, -1, false),
               c10::Error);  // adaptive: too many samples
  try {
    RoiAlign(input, bad_batch, 1.0, 2, 2, 2, false);
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("batch index"), std::string::npos) << e.what();
  }
  EXPECT_THROW(MultiScaleRoiAlign({input}, {at::zeros({1, 4})}, {{5, 5}}, 2, 2, 2), c10::Error);
  EXPECT_THROW(MultiScaleRoiAlign({}, {}, {}, 2, 2, 2), c10::Error);
  EXPECT_THROW(
      MultiScaleRoiAlign({input, at::zeros({2, 4, 3, 3})}, {at::zeros({1, 4}), at::zeros({1, 4})},
                         {{5, 5}, {5, 5}}, 2, 2, 2),
      c10::Error);
}

}  // namespace
}  // namespace ops
}  // namespace mrcnn
