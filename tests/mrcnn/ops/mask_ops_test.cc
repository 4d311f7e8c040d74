#include "mrcnn/ops/mask_ops.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "tests/mrcnn/ops/reference.h"

namespace mrcnn {
namespace ops {
namespace {

using testing::LoadReference;
using testing::MaxAbsDiff;
using testing::Reference;

// Independent point-in-polygon (crossing number, W. R. Franklin's PNPOLY) for pixel centres.
bool Inside(const std::vector<double>& poly, double x, double y) {
  bool in = false;
  const size_t n = poly.size() / 2;
  for (size_t i = 0, j = n - 1; i < n; j = i++) {
    const double xi = poly[2 * i], yi = poly[2 * i + 1], xj = poly[2 * j], yj = poly[2 * j + 1];
    if (((yi > y) != (yj > y)) && (x < (xj - xi) * (y - yi) / (yj - yi) + xi)) in = !in;
  }
  return in;
}

TEST(MaskOpsTest, PolygonSquareByHand) {
  // Square from (1, 1) to (4, 3): pixel centres x in {1.5, 2.5, 3.5}, y in {1.5, 2.5}.
  const at::Tensor m = PolygonsToMask({{1, 1, 4, 1, 4, 3, 1, 3}}, 5, 6);
  EXPECT_EQ(m.sum().item<int64_t>(), 6);
  EXPECT_TRUE(m.slice(0, 1, 3).slice(1, 1, 4).all().item<bool>());
  // Centres on the left/top edge are in, on the right/bottom edge out: x from 0.5 to 2.5 -> 2
  // columns.
  EXPECT_EQ(PolygonsToMask({{0.5, 0.5, 2.5, 0.5, 2.5, 1.5, 0.5, 1.5}}, 4, 4).sum().item<int64_t>(),
            2);
  // Clipped to the image: a square covering everything.
  EXPECT_EQ(PolygonsToMask({{-10, -10, 100, -10, 100, 100, -10, 100}}, 7, 9).sum().item<int64_t>(),
            63);
  // Empty image, no polygons.
  EXPECT_EQ(PolygonsToMask({{0, 0, 1, 0, 1, 1}}, 0, 0).numel(), 0);
  EXPECT_EQ(PolygonsToMask({}, 3, 3).sum().item<int64_t>(), 0);
}

TEST(MaskOpsTest, PolygonsMatchPointInPolygon) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> coord(-8.0, 40.0);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<std::vector<double>> polys(1 + trial % 3);
    for (auto& p : polys) {
      const int points = 3 + static_cast<int>(rng() % 6);  // possibly self-intersecting
      for (int k = 0; k < 2 * points; ++k) p.push_back(coord(rng));
    }
    const int64_t h = 25, w = 31;
    const at::Tensor m = PolygonsToMask(polys, h, w);
    for (int64_t i = 0; i < h; ++i) {
      for (int64_t j = 0; j < w; ++j) {
        bool expect = false;
        for (const auto& p : polys) expect = expect || Inside(p, j + 0.5, i + 0.5);
        ASSERT_EQ(m[i][j].item<bool>(), expect) << "trial " << trial << " pixel " << i << "," << j;
      }
    }
  }
}

TEST(MaskOpsTest, MiniMaskRoundTrip) {
  at::Tensor masks = at::zeros({2, 40, 50}, at::kBool);
  masks[0].slice(0, 5, 25).slice(1, 10, 30).fill_(true);   // a rectangle filling its box
  masks[1].slice(0, 30, 40).slice(1, 44, 50).fill_(true);  // at the image corner
  const at::Tensor boxes = at::tensor({10.f, 5.f, 30.f, 25.f, 44.f, 30.f, 50.f, 40.f}).view({2, 4});
  const at::Tensor mini = MinimizeMasks(masks, boxes, 16, 16);
  EXPECT_TRUE(mini.all().item<bool>());
  EXPECT_TRUE(at::equal(ExpandMasks(mini, boxes, 40, 50), masks));
  // A mini mask of the box's own size is the crop.
  at::Tensor blob = at::zeros({1, 12, 12}, at::kBool);
  blob[0].slice(0, 3, 7).slice(1, 2, 9).fill_(true);
  const at::Tensor same =
      MinimizeMasks(blob, at::tensor({1.f, 2.f, 11.f, 10.f}).view({1, 4}), 8, 10);
  EXPECT_TRUE(at::equal(same[0], blob[0].slice(0, 2, 10).slice(1, 1, 11)));
  // Degenerate and outside boxes give empty masks, never an error.
  const at::Tensor empty = MinimizeMasks(
      masks, at::tensor({5.f, 5.f, 5.f, 9.f, 60.f, 60.f, 70.f, 70.f}).view({2, 4}), 4, 4);
  EXPECT_FALSE(empty.any().item<bool>());
}

TEST(MaskOpsTest, MaskTargetsMatchTorchvision) {
  const Reference ref = LoadReference("mask_ops");
  const at::Tensor t = MaskTargets(ref.at("targets/gt_masks"), at::Tensor(), ref.at("targets/rois"),
                                   ref.at("targets/matched"), 28, 28, false);
  EXPECT_LT(MaxAbsDiff(t, ref.at("targets/out")), 1e-5);
}

TEST(MaskOpsTest, MiniMaskTargetsEqualFullWhenMiniIsTheCrop) {
  // gt box (4, 6)-(20, 18): 16 wide, 12 high; a 12x16 mini mask is the exact crop.
  at::Tensor full = (at::rand({1, 30, 30}) > 0.5).to(at::kFloat);
  full[0].slice(0, 0, 6).zero_();
  full[0].slice(0, 18, 30).zero_();
  full[0].slice(1, 0, 4).zero_();
  full[0].slice(1, 20, 30).zero_();
  const at::Tensor gt_box = at::tensor({4.f, 6.f, 20.f, 18.f}).view({1, 4});
  const at::Tensor mini = full[0].slice(0, 6, 18).slice(1, 4, 20).unsqueeze(0);
  // ROIs inside the gt box, so no sample reaches beyond the crop.
  const at::Tensor rois = at::tensor({5.f, 7.f, 15.f, 16.f, 8.f, 8.f, 18.f, 12.f}).view({2, 4});
  const at::Tensor matched = at::zeros({2}, at::kLong);
  const at::Tensor a = MaskTargets(full, at::Tensor(), rois, matched, 14, 14, false);
  const at::Tensor b = MaskTargets(mini, gt_box, rois, matched, 14, 14, true);
  EXPECT_LT(MaxAbsDiff(a, b), 1e-5);
}

TEST(MaskOpsTest, PasteMatchesTorchvision) {
  const Reference ref = LoadReference("mask_ops");
  const at::Tensor out = PasteMasksInImage(ref.at("paste/masks"), ref.at("paste/boxes"),
                                           ref.Int("paste/height"), ref.Int("paste/width"));
  EXPECT_LT(MaxAbsDiff(out, ref.at("paste/out")), 1e-6);
  EXPECT_TRUE(at::equal(BinarizeMasks(out), ref.at("paste/out") > 0.5));
  EXPECT_EQ(PasteMasksInImage(at::zeros({0, 1, 28, 28}), at::zeros({0, 4}), 5, 6).sizes(),
            (std::vector<int64_t>{0, 1, 5, 6}));
  // A box entirely outside the image pastes nothing.
  EXPECT_EQ(PasteMasksInImage(at::ones({1, 1, 28, 28}),
                              at::tensor({100.f, 100.f, 120.f, 130.f}).view({1, 4}), 20, 20)
                .sum()
                .item<float>(),
            0.f);
}

TEST(MaskOpsTest, BadArgumentsRaise) {
  EXPECT_THROW(PolygonsToMask({{0, 0, 1, 1}}, 5, 5), c10::Error);         // 2 points
  EXPECT_THROW(PolygonsToMask({{0, 0, 1, 1, 2}}, 5, 5), c10::Error);      // odd count
  EXPECT_THROW(PolygonsToMask({{0, 0, 1, 0, 1, 1}}, -1, 5), c10::Error);  // negative size
  EXPECT_THROW(MinimizeMasks(at::zeros({2, 5, 5}), at::zeros({3, 4}), 4, 4), c10::Error);
  EXPECT_THROW(MinimizeMasks(at::zeros({5, 5}), at::zeros({1, 4}), 4, 4), c10::Error);
  EXPECT_THROW(MinimizeMasks(at::zeros({1, 5, 5}), at::zeros({1, 4}), 0, 4), c10::Error);
  EXPECT_THROW(ExpandMasks(at::zeros({1, 4, 4}), at::zeros({1, 4}), -3, 4), c10::Error);
  const at::Tensor gt = at::zeros({2, 10, 10});
  const at::Tensor rois = at::zeros({3, 4});
  EXPECT_THROW(MaskTargets(gt, at::Tensor(), rois, at::tensor({0, 1, 2}, at::kLong), 28, 28, false),
               c10::Error);
  EXPECT_THROW(MaskTargets(gt, at::Tensor(), rois, at::tensor({0, 1}, at::kLong), 28, 28, false),
               c10::Error);
  EXPECT_THROW(MaskTargets(gt, at::Tensor(), rois, at::tensor({0, 1, 1}, at::kLong), 28, -1, false),
               c10::Error);
  EXPECT_THROW(
      MaskTargets(gt, at::zeros({1, 4}), rois, at::tensor({0, 1, 1}, at::kLong), 28, 28, true),
      c10::Error);
  EXPECT_THROW(PasteMasksInImage(at::zeros({2, 28, 28}), at::zeros({2, 4}), 5, 5), c10::Error);
  EXPECT_THROW(PasteMasksInImage(at::zeros({2, 1, 28, 28}), at::zeros({1, 4}), 5, 5), c10::Error);
}

}  // namespace
}  // namespace ops
}  // namespace mrcnn
