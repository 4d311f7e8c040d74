// RPN head: torchvision parity (RPNHead with random weights, three levels), names, errors.
#include "mrcnn/rpn/rpn_head.h"

#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include "absl/strings/str_cat.h"
#include "mrcnn/weights/weights.h"
#include "tests/mrcnn/reference.h"

namespace mrcnn {
namespace {

using ::mrcnn::testing::AllClose;

struct HolderImpl : torch::nn::Module {
  HolderImpl(int64_t channels, int64_t anchors) {
    auto rpn = register_module("rpn", std::make_shared<torch::nn::Module>());
    head = rpn->register_module("head", RPNHead(channels, anchors));
  }
  RPNHead head{nullptr};
};
TORCH_MODULE(Holder);

TEST(RPNHeadTest, MatchesTorchvision) {
  absl::StatusOr<std::string> dir =
      testing::RunTorchvisionReference("heads --channels 32 --anchors 3 --seed 5", "heads");
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<std::string> weights = testing::ConvertCheckpoint(*dir + "/model.pth");
  ASSERT_TRUE(weights.ok()) << weights.status();
  absl::StatusOr<TensorMap> ref = ReadTensorFile(*dir + "/ref.pt");
  ASSERT_TRUE(ref.ok()) << ref.status();

  Holder holder(32, 3);
  absl::StatusOr<LoadReport> report = LoadWeights(*holder, *weights, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->complete()) << report->Summary();
  EXPECT_EQ(report->loaded.size(), 6u) << report->Summary();  // conv, cls_logits, bbox_pred

  std::vector<torch::Tensor> features;
  for (int i = 0; i < 3; ++i) features.push_back(ref->at(absl::StrCat("features.", i)));
  torch::NoGradGuard no_grad;
  const RPNHeadOutput out = holder->head->forward(features);
  ASSERT_EQ(out.objectness.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(AllClose(out.objectness[i], ref->at(absl::StrCat("objectness.", i)), 1e-6, 1e-4));
    EXPECT_TRUE(AllClose(out.deltas[i], ref->at(absl::StrCat("deltas.", i)), 1e-6, 1e-4));
  }
}

TEST(RPNHeadTest, NamesAndShapes) {
  RPNHead head(16, 5);
  const TensorMap names = StateDict(*head);
  EXPECT_EQ(names.at("conv.0.0.weight").sizes(), (std::vector<int64_t>{16, 16, 3, 3}));
  EXPECT_EQ(names.at("cls_logits.weight").sizes(), (std::vector<int64_t>{5, 16, 1, 1}));
  EXPECT_EQ(names.at("bbox_pred.bias").sizes(), (std::vector<int64_t>{20}));
  const RPNHeadOutput out = head->forward({torch::randn({2, 16, 6, 7})});
  EXPECT_EQ(out.objectness[0].sizes(), (std::vector<int64_t>{2, 5, 6, 7}));
  EXPECT_EQ(out.deltas[0].sizes(), (std::vector<int64_t>{2, 20, 6, 7}));
  EXPECT_THROW(RPNHead(0, 3), c10::Error);
}

}  // namespace
}  // namespace mrcnn
