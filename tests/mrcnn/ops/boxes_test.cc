#include "mrcnn/ops/boxes.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/mrcnn/ops/reference.h"

namespace mrcnn {
namespace ops {
namespace {

using testing::LoadReference;
using testing::MaxAbsDiff;
using testing::Reference;

// Compares allowing NaN where torchvision has NaN (0/0 IoU of zero-area boxes).
void ExpectClose(const at::Tensor& ours, const at::Tensor& ref, double atol, double rtol,
                 const std::string& what) {
  ASSERT_EQ(ours.sizes(), ref.sizes()) << what;
  EXPECT_TRUE(
      at::allclose(ours.to(at::kDouble), ref.to(at::kDouble), rtol, atol, /*equal_nan=*/true))
      << what << ": max diff " << MaxAbsDiff(at::nan_to_num(ours), at::nan_to_num(ref));
}

TEST(BoxesTest, IoUMatchesTorchvision) {
  const Reference ref = LoadReference("boxes");
  ExpectClose(BoxIoU(ref.at("iou/a"), ref.at("iou/b")), ref.at("iou/out"), 1e-6, 1e-6, "iou");
  // The differentiable path gives the same numbers.
  const at::Tensor a = ref.at("iou/a").clone().requires_grad_(true);
  const at::Tensor iou = BoxIoU(a, ref.at("iou/b"));
  ExpectClose(iou.detach(), ref.at("iou/out"), 1e-6, 1e-6, "iou (autograd path)");
  iou.nan_to_num().sum().backward();
  EXPECT_TRUE(a.grad().defined());
}

TEST(BoxesTest, CoderMatchesTorchvision) {
  const Reference ref = LoadReference("boxes");
  for (int i = 0; i < 2; ++i) {
    const std::string p = "coder/" + std::to_string(i) + "/";
    const at::Tensor w = ref.at(p + "weights");
    const BoxCoder coder(
        {w[0].item<double>(), w[1].item<double>(), w[2].item<double>(), w[3].item<double>()});
    ExpectClose(coder.Encode(ref.at(p + "reference"), ref.at(p + "proposals")),
                ref.at(p + "encoded"), 1e-5, 1e-5, p + "encode");
    // Inference path (shared box math) and autograd path.
    ExpectClose(coder.Decode(ref.at(p + "codes"), ref.at(p + "proposals")), ref.at(p + "decoded"),
                1e-4, 1e-5, p + "decode");
    const at::Tensor codes = ref.at(p + "codes").clone().requires_grad_(true);
    const at::Tensor decoded = coder.Decode(codes, ref.at(p + "proposals"));
    ExpectClose(decoded.detach(), ref.at(p + "decoded"), 1e-4, 1e-5, p + "decode (autograd)");
    decoded.sum().backward();
    ASSERT_TRUE(codes.grad().defined());
    // Clamped dw, dh (rows 0..4 have dw = 50) get no gradient.
    EXPECT_EQ(codes.grad().slice(0, 0, 5).slice(1, 2, 12, 4).abs().max().item<float>(), 0.f);
  }
}

TEST(BoxesTest, EncodeDecodeRoundTrip) {
  const BoxCoder coder({10, 10, 5, 5});
  const at::Tensor anchors = at::tensor({0.f, 0.f, 10.f, 20.f, 5.f, 5.f, 50.f, 30.f}).view({2, 4});
  const at::Tensor gt = at::tensor({2.f, 1.f, 12.f, 25.f, 0.f, 10.f, 40.f, 28.f}).view({2, 4});
  const at::Tensor back = coder.Decode(coder.Encode(gt, anchors), anchors).view({2, 4});
  EXPECT_LT(MaxAbsDiff(back, gt), 1e-4);
}

TEST(BoxesTest, ClipAndRemoveSmallMatchTorchvision) {
  const Reference ref = LoadReference("boxes");
  EXPECT_TRUE(at::equal(
      ClipBoxesToImage(ref.at("clip/boxes"), ref.Int("clip/height"), ref.Int("clip/width")),
      ref.at("clip/out")));
  EXPECT_TRUE(at::equal(RemoveSmallBoxes(ref.at("small/boxes"), ref.Double("small/min_size")),
                        ref.at("small/keep")));
  // [B, K, 4] boxes keep their shape.
  const at::Tensor b3 = ref.at("clip/boxes").view({4, 10, 4});
  EXPECT_TRUE(at::equal(ClipBoxesToImage(b3, 70, 90), ref.at("clip/out").view({4, 10, 4})));
}

TEST(BoxesTest, EmptyInputs) {
  EXPECT_EQ(BoxIoU(at::zeros({0, 4}), at::zeros({3, 4})).sizes(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(BoxCoder({1, 1, 1, 1}).Decode(at::zeros({0, 8}), at::zeros({0, 4})).sizes(),
            (std::vector<int64_t>{0, 2, 4}));
  EXPECT_EQ(RemoveSmallBoxes(at::zeros({0, 4}), 1.0).numel(), 0);
}

TEST(BoxesTest, BadArgumentsRaise) {
  EXPECT_THROW(BoxIoU(at::zeros({3, 3}), at::zeros({3, 4})), c10::Error);
  EXPECT_THROW(BoxIoU(at::zeros({3, 4}, at::kLong), at::zeros({3, 4}, at::kLong)), c10::Error);
  EXPECT_THROW(BoxIoU(at::zeros({3, 4}), at::zeros({3, 4}, at::kDouble)), c10::Error);
  const BoxCoder coder({1, 1, 1, 1});
  EXPECT_THROW(coder.Decode(at::zeros({2, 6}), at::zeros({2, 4})), c10::Error);
  EXPECT_THROW(coder.Decode(at::zeros({2, 8}), at::zeros({3, 4})), c10::Error);
  EXPECT_THROW(coder.Encode(at::zeros({2, 4}), at::zeros({3, 4})), c10::Error);
  EXPECT_THROW(BoxCoder({1, 0, 1, 1}), c10::Error);
  EXPECT_THROW(ClipBoxesToImage(at::zeros({2, 4}), -1, 10), c10::Error);
  EXPECT_THROW(ClipBoxesToImage(at::zeros({2, 5}), 10, 10), c10::Error);
  EXPECT_THROW(RemoveSmallBoxes(at::zeros({2}), 1.0), c10::Error);
}

}  // namespace
}  // namespace ops
}  // namespace mrcnn
