// USE_MINI_MASK must not change what the mask head learns: for the loader's prepared images, the
// targets that MaskTargets cuts from mini masks (with the gt boxes) agree with the ones it cuts from
// the full-size masks, for ROIs on and around each gt box.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "datasets/preprocess.h"
#include "datasets/random.h"
#include "datasets/shapes.h"
#include "mrcnn/config/config.h"
#include "mrcnn/ops/mask_ops.h"

namespace mrcnn {
namespace {

torch::Tensor Stack(const std::vector<cv::Mat>& masks) {
  std::vector<torch::Tensor> t;
  for (const cv::Mat& m : masks) {
    cv::Mat c = m.isContinuous() ? m : m.clone();
    t.push_back(torch::from_blob(c.data, {c.rows, c.cols}, torch::kUInt8).clone());
  }
  return torch::stack(t);
}

TEST(MiniMaskTest, MiniAndFullMaskTargetsAgreeOnPreparedImages) {
  Config mini = *Config::Preset("shapes");
  mini.USE_MINI_MASK = true;
  Config full = mini;
  full.USE_MINI_MASK = false;
  const datasets::Dataset ds = datasets::MakeShapesDataset({.count = 6, .height = 128, .width = 128, .seed = 5});
  for (int i = 0; i < ds.num_images(); ++i) {
    datasets::Rng r1(1), r2(1);
    absl::StatusOr<datasets::PreparedImage> a = datasets::PrepareImage(ds, i, mini, false, &r1, 0);
    absl::StatusOr<datasets::PreparedImage> b = datasets::PrepareImage(ds, i, full, false, &r2, 0);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->boxes.size(), b->boxes.size());
    const int64_t g = static_cast<int64_t>(a->boxes.size());
    torch::Tensor boxes = torch::empty({g, 4});
    for (int64_t k = 0; k < g; ++k) {
      for (int j = 0; j < 4; ++j) boxes[k][j] = a->boxes[k][j];
    }
    // The gt boxes themselves and each shifted by a few pixels.
    const torch::Tensor shift = torch::tensor({-3.f, 2.f, 1.f, -2.f});
    const torch::Tensor rois = torch::cat({boxes, boxes + shift});
    const torch::Tensor matched = torch::cat({torch::arange(g), torch::arange(g)});
    const torch::Tensor rois_before = rois.clone();
    const torch::Tensor from_mini = ops::MaskTargets(Stack(a->masks), boxes, rois, matched, 28, 28, true);
    // The model pools its mask features with the same ROIs after computing the targets.
    ASSERT_TRUE(torch::equal(rois, rois_before)) << "MaskTargets changed its rois argument";
    const torch::Tensor from_full = ops::MaskTargets(Stack(b->masks), at::Tensor(), rois, matched, 28, 28, false);
    const torch::Tensor bm = from_mini > 0.5, bf = from_full > 0.5;
    for (int64_t k = 0; k < rois.size(0); ++k) {
      const double inter = (bm[k] & bf[k]).sum().item<double>();
      const double uni = (bm[k] | bf[k]).sum().item<double>();
      EXPECT_GT(inter / std::max(uni, 1.0), 0.9) << "image " << i << " roi " << k;
    }
  }
}

}  // namespace
}  // namespace mrcnn
