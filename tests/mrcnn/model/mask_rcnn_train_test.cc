// Training mode against torchvision's maskrcnn_resnet50_fpn: the five losses and gradients through
// every stage, with samplers that take every labelled anchor and ROI; LOSS_WEIGHTS scaling.
#include <gtest/gtest.h>
#include <torch/nn/functional/upsampling.h>

#include "absl/strings/str_cat.h"
#include "datasets/loader.h"
#include "datasets/preprocess.h"
#include "mrcnn/model/mask_rcnn.h"
#include "mrcnn/ops/sampler.h"
#include "mrcnn/weights/weights.h"
#include "tests/mrcnn/reference.h"

namespace mrcnn {
namespace {

using ::mrcnn::testing::AllClose;

TEST(MaskRCNNTrainTest, LossesAndGradientsMatchTorchvision) {
  absl::StatusOr<std::string> dir = testing::RunTorchvisionReference("train --seed 4", "train");
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<std::string> w = testing::ConvertCheckpoint(*dir + "/model.pth");
  ASSERT_TRUE(w.ok()) << w.status();
  absl::StatusOr<TensorMap> ref = ReadTensorFile(*dir + "/ref.pt");
  ASSERT_TRUE(ref.ok()) << ref.status();

  Config c = Config::Preset("torchvision").value();
  c.NUM_CLASSES = 5;
  c.IMAGE_MIN_DIM = 128;
  c.IMAGE_MAX_DIM = 192;
  // Samplers that take every labelled anchor and ROI, as the generator's: no randomness to match.
  c.RPN_TRAIN_ANCHORS_PER_IMAGE = 100000;
  c.TRAIN_ROIS_PER_IMAGE = 100000;
  absl::StatusOr<MaskRCNN> model = CreateMaskRCNN(c);
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<LoadReport> report = LoadWeights(**model, *w, {});
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_TRUE(report->complete()) << report->Summary();
  (*model)->train();

  std::vector<torch::Tensor> images;
  std::vector<InstanceTargets> targets;
  for (int i = 0; i < 2; ++i) {
    // The image resized by the data side's resize (datasets::ResizeForModel, what the loader calls);
    // the targets as torchvision's GeneralizedRCNNTransform resizes them (boxes by the per-axis
    // ratio, masks by nearest neighbour), since the reference's boxes are not those of its masks.
    const torch::Tensor hwc = ref->at(absl::StrCat("image.", i)).permute({1, 2, 0}).contiguous();
    const cv::Mat rgb(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)), CV_8UC3, hwc.data_ptr());
    datasets::ImageMeta meta;
    absl::StatusOr<cv::Mat> resized = datasets::ResizeForModel(rgb, rgb.rows, rgb.cols, c, nullptr, &meta);
    ASSERT_TRUE(resized.ok()) << resized.status();
    images.push_back(datasets::ImageTensor(*resized));
    const ImageSize from = {rgb.rows, rgb.cols}, to = {meta.height, meta.width};
    const torch::Tensor masks = ref->at(absl::StrCat("masks.", i));
    const torch::Tensor resized_masks =
        torch::nn::functional::interpolate(masks.unsqueeze(1).to(torch::kFloat),
                                           torch::nn::functional::InterpolateFuncOptions()
                                               .size(std::vector<int64_t>{to.first, to.second})
                                               .mode(torch::kNearest))
            .squeeze(1)
            .to(torch::kByte);
    targets.push_back({ResizeBoxes(ref->at(absl::StrCat("boxes.", i)), from, to), ref->at(absl::StrCat("labels.", i)),
                       resized_masks});
  }
  const LossMap losses = (*model)->Losses(images, targets);
  const std::map<std::string, std::string> names = {{"rpn_class_loss", "loss_objectness"},
                                                    {"rpn_bbox_loss", "loss_rpn_box_reg"},
                                                    {"mrcnn_class_loss", "loss_classifier"},
                                                    {"mrcnn_bbox_loss", "loss_box_reg"},
                                                    {"mrcnn_mask_loss", "loss_mask"}};
  ASSERT_EQ(losses.size(), 5u);
  for (const auto& [ours, theirs] : names) {
    ASSERT_TRUE(losses.count(ours)) << ours;
    EXPECT_TRUE(AllClose(losses.at(ours), ref->at("loss." + theirs), 1e-5, 1e-4)) << ours;
  }
  MaskRCNNImpl::TotalLoss(losses).backward();
  const auto params = (*model)->named_parameters();
  for (const char* name : {"backbone.body.layer4.2.conv3.weight", "backbone.fpn.layer_blocks.0.0.weight",
                           "rpn.head.cls_logits.weight", "roi_heads.box_head.fc6.bias",
                           "roi_heads.mask_predictor.mask_fcn_logits.weight"}) {
    const torch::Tensor& e = ref->at(absl::StrCat("grad.", name));
    EXPECT_TRUE(AllClose(params[name].grad(), e, 1e-4 * e.abs().max().item<double>(), 1e-3)) << name;
  }

  // LOSS_WEIGHTS scale each named loss.
  c.LOSS_WEIGHTS["mrcnn_mask_loss"] = 0.5;
  c.LOSS_WEIGHTS["rpn_class_loss"] = 2.0;
  absl::StatusOr<MaskRCNN> weighted = CreateMaskRCNN(c);
  ASSERT_TRUE(weighted.ok());
  ASSERT_TRUE(LoadWeights(**weighted, *w, {}).ok());
  (*weighted)->train();
  const LossMap scaled = (*weighted)->Losses(images, targets);
  EXPECT_TRUE(AllClose(scaled.at("mrcnn_mask_loss"), losses.at("mrcnn_mask_loss") * 0.5, 1e-5, 1e-5));
  EXPECT_TRUE(AllClose(scaled.at("rpn_class_loss"), losses.at("rpn_class_loss") * 2.0, 1e-5, 1e-5));
  EXPECT_TRUE(AllClose(scaled.at("mrcnn_class_loss"), losses.at("mrcnn_class_loss"), 1e-5, 1e-5));
}

}  // namespace
}  // namespace mrcnn
