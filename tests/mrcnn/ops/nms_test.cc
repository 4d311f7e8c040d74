#include "mrcnn/ops/nms.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/mrcnn/ops/reference.h"

namespace mrcnn {
namespace ops {
namespace {

using testing::LoadReference;
using testing::Reference;

TEST(NmsTest, KeepsTorchvisionIndices) {
  const Reference ref = LoadReference("nms");
  const int64_t n = ref.Int("nms/count");
  ASSERT_GT(n, 0);
  for (int64_t i = 0; i < n; ++i) {
    const std::string p = "nms/" + std::to_string(i) + "/";
    const at::Tensor keep =
        Nms(ref.at(p + "boxes"), ref.at(p + "scores"), ref.Double(p + "threshold"));
    EXPECT_EQ(keep.scalar_type(), at::kLong);
    EXPECT_TRUE(at::equal(keep, ref.at(p + "keep")))
        << "case " << i << "\nours " << keep << "\ntorchvision " << ref.at(p + "keep");
  }
}

TEST(NmsTest, BatchedKeepsTorchvisionIndices) {
  const Reference ref = LoadReference("nms");
  const int64_t n = ref.Int("batched/count");
  ASSERT_GT(n, 0);
  for (int64_t i = 0; i < n; ++i) {
    const std::string p = "batched/" + std::to_string(i) + "/";
    const at::Tensor keep = BatchedNms(ref.at(p + "boxes"), ref.at(p + "scores"),
                                       ref.at(p + "idxs"), ref.Double(p + "threshold"));
    EXPECT_TRUE(at::equal(keep, ref.at(p + "keep"))) << "case " << i;
  }
}

TEST(NmsTest, HandComputedExample) {
  // Box 1 [1, 1, 10, 10] lies inside box 0 [0, 0, 10, 10]: IoU 81 / 100; box 2 is disjoint.
  const at::Tensor boxes =
      at::tensor({0.f, 0.f, 10.f, 10.f, 1.f, 1.f, 10.f, 10.f, 20.f, 20.f, 30.f, 30.f}).view({3, 4});
  const at::Tensor scores = at::tensor({0.9f, 0.95f, 0.1f});
  // Box 1 (score 0.95) first; box 0 has IoU 81/100 with it.
  EXPECT_TRUE(at::equal(Nms(boxes, scores, 0.8), at::tensor({1, 2}, at::kLong)));
  EXPECT_TRUE(at::equal(Nms(boxes, scores, 0.82), at::tensor({1, 0, 2}, at::kLong)));
  // The float IoU 0.81f is 0.8100000024 and torchvision compares it with the double threshold.
  EXPECT_TRUE(at::equal(Nms(boxes, scores, 0.81), at::tensor({1, 2}, at::kLong)));
  // Strictly greater: IoU exactly at the threshold keeps the box (0.5 is exact in float).
  const at::Tensor half = at::tensor({0.f, 0.f, 2.f, 1.f, 0.f, 0.f, 1.f, 1.f}).view({2, 4});
  EXPECT_TRUE(at::equal(Nms(half, at::tensor({1.f, 0.5f}), 0.5), at::tensor({0, 1}, at::kLong)));
}

TEST(NmsTest, BadArgumentsRaise) {
  const at::Tensor boxes = at::zeros({3, 4});
  const at::Tensor scores = at::zeros({3});
  EXPECT_THROW(Nms(at::zeros({3, 5}), scores, 0.5), c10::Error);
  EXPECT_THROW(Nms(at::zeros({4}), scores, 0.5), c10::Error);
  EXPECT_THROW(Nms(boxes, at::zeros({2}), 0.5), c10::Error);
  EXPECT_THROW(Nms(boxes, at::zeros({3, 1}), 0.5), c10::Error);
  EXPECT_THROW(Nms(boxes.to(at::kInt), scores, 0.5), c10::Error);
  EXPECT_THROW(Nms(boxes, scores.to(at::kDouble), 0.5), c10::Error);
  EXPECT_THROW(BatchedNms(boxes, scores, at::zeros({2}, at::kLong), 0.5), c10::Error);
  EXPECT_THROW(BatchedNms(boxes, scores, at::zeros({3}), 0.5), c10::Error);
  try {
    Nms(at::zeros({3, 5}), scores, 0.5);
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("boxes must be [N, 4]"), std::string::npos) << e.what();
  }
}

TEST(NmsTest, NanScoresDoNotCrash) {
  const at::Tensor boxes = at::tensor({0.f, 0.f, 1.f, 1.f, 5.f, 5.f, 6.f, 6.f}).view({2, 4});
  const at::Tensor scores = at::tensor({0.5f, std::nanf("")});
  // torch.sort(descending=True) puts NaN first.
  EXPECT_TRUE(at::equal(Nms(boxes, scores, 0.5), at::tensor({1, 0}, at::kLong)));
}

}  // namespace
}  // namespace ops
}  // namespace mrcnn
