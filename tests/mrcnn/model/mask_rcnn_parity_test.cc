// Parity of the whole model with torchvision's maskrcnn_resnet50_fpn (eval mode, seeded random
// weights, torchvision preset at a small image size): converted checkpoints in both key spellings load
// completely; backbone features, RPN head outputs, the padded batch, RPN proposals and the detections
// (boxes within 1e-3, same labels, scores within 1e-4, mask IoU > 0.99) agree.
#include <memory>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "datasets/loader.h"
#include "datasets/preprocess.h"
#include "mrcnn/model/mask_rcnn.h"
#include "mrcnn/weights/weights.h"
#include "tests/mrcnn/reference.h"

namespace mrcnn {
namespace {

using ::mrcnn::testing::AllClose;

Config ParityConfig() {
  Config c = Config::Preset("torchvision").value();
  c.IMAGE_MIN_DIM = 128;  // the generator's --min_size / --max_size / --score_thresh
  c.IMAGE_MAX_DIM = 192;
  c.DETECTION_MIN_CONFIDENCE = 0.02;
  return c;
}

class MaskRCNNParityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::string> dir = testing::RunTorchvisionReference("maskrcnn --seed 11", "maskrcnn");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = new std::string(*dir);
    absl::StatusOr<std::string> w = testing::ConvertCheckpoint(*dir + "/model.pth");
    ASSERT_TRUE(w.ok()) << w.status();
    absl::StatusOr<TensorMap> ref = ReadTensorFile(*dir + "/ref.pt");
    ASSERT_TRUE(ref.ok()) << ref.status();
    ref_ = new TensorMap(*std::move(ref));
    absl::StatusOr<MaskRCNN> model = CreateMaskRCNN(ParityConfig());
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = new MaskRCNN(*model);
    absl::StatusOr<LoadReport> report = LoadWeights(**model_, *w, {});
    ASSERT_TRUE(report.ok()) << report.status();
    report_ = new LoadReport(*report);
    (*model_)->eval();
    // torchvision's transform resizes inside the model; ours resizes on the data side
    // (datasets::PrepareInferenceImage, what evaluation and detect call) and maps detections back.
    std::vector<torch::Tensor> images;
    std::vector<InputGeometry> geometry;
    for (const char* name : {"image.0", "image.1"}) {
      const torch::Tensor hwc = ref_->at(name).permute({1, 2, 0}).contiguous();
      const cv::Mat rgb(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)), CV_8UC3, hwc.data_ptr());
      absl::StatusOr<datasets::PreparedImage> p = datasets::PrepareInferenceImage(rgb, ParityConfig());
      ASSERT_TRUE(p.ok()) << p.status();
      const auto& w = p->meta.window;
      images.push_back(datasets::ImageTensor(p->image));
      geometry.push_back({{w[0], w[1], w[2], w[3]}, {rgb.rows, rgb.cols}});
    }
    output_ = new InferenceOutput((*model_)->Infer(images, geometry));
  }
  static void TearDownTestSuite() {
    delete output_;
    delete report_;
    delete model_;
    delete ref_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_NE(output_, nullptr) << "suite setup failed";
  }
  static const torch::Tensor& Ref(const std::string& name) { return ref_->at(name); }

  static std::string* dir_;
  static TensorMap* ref_;
  static MaskRCNN* model_;
  static LoadReport* report_;
  static InferenceOutput* output_;
};
std::string* MaskRCNNParityTest::dir_ = nullptr;
TensorMap* MaskRCNNParityTest::ref_ = nullptr;
MaskRCNN* MaskRCNNParityTest::model_ = nullptr;
LoadReport* MaskRCNNParityTest::report_ = nullptr;
InferenceOutput* MaskRCNNParityTest::output_ = nullptr;

TEST_F(MaskRCNNParityTest, TorchvisionCheckpointLoadsCompletelyByName) {
  EXPECT_TRUE(report_->complete()) << report_->Summary();
  EXPECT_TRUE(report_->unused.empty()) << report_->Summary();
  // maskrcnn_resnet50_fpn has 307 tensors once num_batches_tracked is dropped.
  EXPECT_EQ(report_->loaded.size(), 307u) << report_->Summary();
}

TEST_F(MaskRCNNParityTest, OldKeySpellingConvertsToTheSameWeights) {
  absl::StatusOr<std::string> old_file = testing::ConvertCheckpoint(*dir_ + "/model_old.pth");
  ASSERT_TRUE(old_file.ok()) << old_file.status();
  absl::StatusOr<TensorMap> old_w = ReadTensorFile(*old_file);
  ASSERT_TRUE(old_w.ok()) << old_w.status();
  const TensorMap ours = StateDict(**model_);
  ASSERT_EQ(old_w->size(), 307u);
  for (const auto& [name, t] : *old_w) {
    ASSERT_TRUE(ours.count(name)) << name;
    EXPECT_TRUE(torch::equal(ours.at(name), t)) << name;
  }
}

TEST_F(MaskRCNNParityTest, BackboneAndRpnHead) {
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> p = (*model_)->backbone->forward(Ref("images"));
  const RPNHeadOutput head = (*model_)->rpn->head->forward(p);
  for (int i = 0; i < 5; ++i) {
    const torch::Tensor& e = Ref(absl::StrCat("p", i + 2));
    EXPECT_TRUE(AllClose(p[i], e, 1e-5 * e.abs().max().item<double>(), 1e-4)) << "P" << i + 2;
    const torch::Tensor& o = Ref(absl::StrCat("objectness.", i));
    const torch::Tensor& d = Ref(absl::StrCat("deltas.", i));
    EXPECT_TRUE(AllClose(head.objectness[i], o, 1e-5 * o.abs().max().item<double>(), 1e-4)) << i;
    EXPECT_TRUE(AllClose(head.deltas[i], d, 1e-5 * d.abs().max().item<double>(), 1e-4)) << i;
  }
}

TEST_F(MaskRCNNParityTest, BatchOfDifferentSizes) {
  EXPECT_TRUE(AllClose(output_->batch.images, Ref("batch"), 1e-5, 1e-5));
  for (int i = 0; i < 2; ++i) {
    const torch::Tensor& s = Ref(absl::StrCat("image_size.", i));
    EXPECT_EQ(output_->batch.image_sizes[i].first, s[0].item<int64_t>()) << i;
    EXPECT_EQ(output_->batch.image_sizes[i].second, s[1].item<int64_t>()) << i;
  }
}

TEST_F(MaskRCNNParityTest, RpnProposalsAreTorchvisions) {
  for (int i = 0; i < 2; ++i) {
    const torch::Tensor& expected = Ref(absl::StrCat("proposals.", i));
    EXPECT_GT(expected.size(0), 10) << "too few proposals to be a test";
    EXPECT_TRUE(AllClose(output_->proposals[i], expected, 1e-3, 0)) << "image " << i;
  }
}

// Matches detections by index when the order agrees, else by (label, box, score) to tolerate ties.
TEST_F(MaskRCNNParityTest, DetectionsAreTorchvisions) {
  for (int i = 0; i < 2; ++i) {
    const ImageDetections& d = output_->detections[i];
    const torch::Tensor& boxes = Ref(absl::StrCat("boxes.", i));
    const torch::Tensor& labels = Ref(absl::StrCat("labels.", i));
    const torch::Tensor& scores = Ref(absl::StrCat("scores.", i));
    const torch::Tensor masks = Ref(absl::StrCat("masks.", i)) > 0.5;
    const int64_t n = boxes.size(0);
    ASSERT_GT(n, 10) << "too few detections to be a test";
    ASSERT_EQ(d.boxes.size(0), n) << "image " << i;
    EXPECT_EQ(d.masks.sizes(), masks.sizes());
    std::vector<bool> used(n, false);
    for (int64_t k = 0; k < n; ++k) {
      int64_t match = -1;
      for (int64_t j : {k}) {
        if (d.labels[j].item<int64_t>() == labels[k].item<int64_t>() &&
            (d.boxes[j] - boxes[k]).abs().max().item<double>() <= 1e-3 &&
            std::abs(d.scores[j].item<double>() - scores[k].item<double>()) <= 1e-4) {
          match = j;
        }
      }
      for (int64_t j = 0; j < n && match < 0; ++j) {
        if (!used[j] && d.labels[j].item<int64_t>() == labels[k].item<int64_t>() &&
            (d.boxes[j] - boxes[k]).abs().max().item<double>() <= 1e-3 &&
            std::abs(d.scores[j].item<double>() - scores[k].item<double>()) <= 1e-4) {
          match = j;
        }
      }
      ASSERT_GE(match, 0) << "image " << i << ": torchvision detection " << k << " (label "
                          << labels[k].item<int64_t>() << ", score " << scores[k].item<double>()
                          << ", box " << boxes[k] << ") has no match; ours at " << k << ": label "
                          << d.labels[k].item<int64_t>() << " score " << d.scores[k].item<double>()
                          << " box " << d.boxes[k];
      used[match] = true;
      const double inter = (d.masks[match] & masks[k]).sum().item<double>();
      const double uni = (d.masks[match] | masks[k]).sum().item<double>();
      const double iou = uni == 0 ? 1.0 : inter / uni;
      EXPECT_GT(iou, 0.99) << "image " << i << " detection " << k;
    }
  }
}

}  // namespace
}  // namespace mrcnn
