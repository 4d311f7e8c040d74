// Box head and predictor: torchvision parity (TwoMLPHead, FastRCNNPredictor), names, errors.
#include "mrcnn/roi_heads/box_head.h"

#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include "mrcnn/weights/weights.h"
#include "tests/mrcnn/reference.h"

namespace mrcnn {
namespace {

using ::mrcnn::testing::AllClose;

struct HolderImpl : torch::nn::Module {
  HolderImpl(int64_t in, int64_t fc, int64_t classes) {
    auto roi = register_module("roi_heads", std::make_shared<torch::nn::Module>());
    head = roi->register_module("box_head", TwoMLPHead(in, fc));
    predictor = roi->register_module("box_predictor", FastRCNNPredictor(fc, classes));
  }
  TwoMLPHead head{nullptr};
  FastRCNNPredictor predictor{nullptr};
};
TORCH_MODULE(Holder);

TEST(BoxHeadTest, MatchesTorchvision) {
  absl::StatusOr<std::string> dir = testing::RunTorchvisionReference(
      "heads --channels 32 --pool 7 --fc 64 --classes 5 --rois 6 --seed 6", "heads");
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<std::string> weights = testing::ConvertCheckpoint(*dir + "/model.pth");
  ASSERT_TRUE(weights.ok()) << weights.status();
  absl::StatusOr<TensorMap> ref = ReadTensorFile(*dir + "/ref.pt");
  ASSERT_TRUE(ref.ok()) << ref.status();

  Holder holder(32 * 7 * 7, 64, 5);
  absl::StatusOr<LoadReport> report = LoadWeights(*holder, *weights, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->complete()) << report->Summary();
  EXPECT_EQ(report->loaded.size(), 8u) << report->Summary();

  torch::NoGradGuard no_grad;
  const torch::Tensor rep = holder->head->forward(ref->at("box_features"));
  EXPECT_TRUE(AllClose(rep, ref->at("box_representation"), 1e-6, 1e-4));
  const BoxPrediction p = holder->predictor->forward(rep);
  EXPECT_TRUE(AllClose(p.class_logits, ref->at("class_logits"), 1e-6, 1e-4));
  EXPECT_TRUE(AllClose(p.box_deltas, ref->at("box_deltas"), 1e-6, 1e-4));
}

TEST(BoxHeadTest, ShapesAndErrors) {
  TwoMLPHead head(8 * 2 * 2, 16);
  FastRCNNPredictor predictor(16, 3);
  const BoxPrediction p = predictor->forward(head->forward(torch::randn({4, 8, 2, 2})));
  EXPECT_EQ(p.class_logits.sizes(), (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(p.box_deltas.sizes(), (std::vector<int64_t>{4, 12}));
  EXPECT_EQ(head->forward(torch::randn({0, 8, 2, 2})).sizes(), (std::vector<int64_t>{0, 16}));
  EXPECT_THROW(head->forward(torch::randn({4, 8, 3, 3})), c10::Error);
  EXPECT_THROW(predictor->forward(torch::randn({4, 16, 2, 2})), c10::Error);
  EXPECT_THROW(TwoMLPHead(0, 16), c10::Error);
}

}  // namespace
}  // namespace mrcnn
