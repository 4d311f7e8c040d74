// Mask head and predictor: torchvision parity (MaskRCNNHeads, MaskRCNNPredictor), names, shapes.
#include "mrcnn/roi_heads/mask_head.h"

#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include "mrcnn/weights/weights.h"
#include "tests/mrcnn/reference.h"

namespace mrcnn {
namespace {

using ::mrcnn::testing::AllClose;

struct HolderImpl : torch::nn::Module {
  HolderImpl(int64_t in, int64_t channels, int64_t classes) {
    auto roi = register_module("roi_heads", std::make_shared<torch::nn::Module>());
    head = roi->register_module("mask_head",
                                MaskRCNNHeads(in, std::vector<int64_t>(4, channels)));
    predictor = roi->register_module("mask_predictor", MaskRCNNPredictor(channels, channels, classes));
  }
  MaskRCNNHeads head{nullptr};
  MaskRCNNPredictor predictor{nullptr};
};
TORCH_MODULE(Holder);

TEST(MaskHeadTest, MatchesTorchvision) {
  absl::StatusOr<std::string> dir = testing::RunTorchvisionReference(
      "heads --channels 32 --mask_pool 14 --mask_channels 16 --classes 5 --rois 6 --seed 7",
      "heads");
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<std::string> weights = testing::ConvertCheckpoint(*dir + "/model.pth");
  ASSERT_TRUE(weights.ok()) << weights.status();
  absl::StatusOr<TensorMap> ref = ReadTensorFile(*dir + "/ref.pt");
  ASSERT_TRUE(ref.ok()) << ref.status();

  Holder holder(32, 16, 5);
  absl::StatusOr<LoadReport> report = LoadWeights(*holder, *weights, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->complete()) << report->Summary();
  EXPECT_EQ(report->loaded.size(), 12u) << report->Summary();

  torch::NoGradGuard no_grad;
  const torch::Tensor logits = holder->predictor->forward(holder->head->forward(ref->at("mask_features")));
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{6, 5, 28, 28}));
  EXPECT_TRUE(AllClose(logits, ref->at("mask_logits"), 1e-5, 1e-4));
}

TEST(MaskHeadTest, NamesFollowTorchvision014) {
  Holder holder(8, 4, 3);
  const TensorMap names = StateDict(*holder);
  for (const char* n : {"roi_heads.mask_head.0.0.weight", "roi_heads.mask_head.3.0.bias",
                        "roi_heads.mask_predictor.conv5_mask.weight",
                        "roi_heads.mask_predictor.mask_fcn_logits.bias"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  EXPECT_EQ(names.size(), 12u);
  EXPECT_EQ(names.at("roi_heads.mask_predictor.conv5_mask.weight").sizes(),
            (std::vector<int64_t>{4, 4, 2, 2}));  // ConvTranspose2d: [in, out, k, k]
  EXPECT_THROW(MaskRCNNHeads(8, std::vector<int64_t>{}), c10::Error);
}

}  // namespace
}  // namespace mrcnn
