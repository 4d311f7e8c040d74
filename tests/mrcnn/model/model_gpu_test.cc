// The model on a CUDA device against the same model on the CPU (the CPU ops are checked against
// torchvision elsewhere). Built with --config=cuda against a CUDA LibTorch; without a GPU (or without
// the CUDA kernels linked) every test reports SKIPPED. TF32 is off here so that both devices compute
// in float32 and the tolerances below measure our kernels, not cuDNN's reduced-precision modes.
//
// Tolerances (stated, in float32):
//   - ops: ROIAlign forward and backward within 1e-5 of the largest magnitude (nvcc contracts
//     multiply-adds into FMAs); NMS keeps the same indices in the same order.
//   - one training step with the same proposals and sampling: backbone features within 1e-4 of their
//     largest magnitude; each loss within 1e-4 relative; each parameter's gradient within 2e-3 of
//     its largest magnitude (cuDNN sums convolutions in another order; ROIAlign's backward uses
//     atomics).
//   - RPN proposals: >= 95% of the CPU's proposals have a GPU proposal with IoU > 0.99 (scores that
//     differ in the last bits can reorder the top-k at its boundary).
//   - detection: >= 95% of the CPU's detections have a GPU detection of the same class with
//     IoU > 0.99 and a score within 1e-3.
#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mrcnn/model/mask_rcnn.h"
#include "mrcnn/ops/boxes.h"
#include "mrcnn/ops/device_kernels.h"
#include "mrcnn/ops/nms.h"
#include "mrcnn/ops/roi_align.h"
#include "mrcnn/ops/sampler.h"

namespace mrcnn {
namespace {

bool HaveGpu() { return torch::cuda::is_available() && ops::HaveCudaKernels(); }

#define SKIP_WITHOUT_GPU() \
  if (!HaveGpu()) GTEST_SKIP() << "no CUDA device or no CUDA kernels linked: GPU test skipped"

class ModelGpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    at::globalContext().setAllowTF32CuDNN(false);
    at::globalContext().setAllowTF32CuBLAS(false);
  }
};

// Largest |a - b| relative to the largest |b| (0 for two empty or zero tensors).
double RelMaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor x = a.detach().cpu().to(torch::kDouble);
  const torch::Tensor y = b.detach().cpu().to(torch::kDouble);
  EXPECT_EQ(x.sizes(), y.sizes());
  if (y.numel() == 0) return 0.0;
  const double scale = std::max(y.abs().max().item<double>(), 1e-12);
  return (x - y).abs().max().item<double>() / scale;
}

// Share of the rows of `ref` [R, 4] that have a row of `other` with IoU > min_iou (and, when given,
// the same label and a score within score_tol).
double MatchedShare(const torch::Tensor& ref, const torch::Tensor& other, double min_iou,
                    const torch::Tensor& ref_labels = {}, const torch::Tensor& other_labels = {},
                    const torch::Tensor& ref_scores = {}, const torch::Tensor& other_scores = {},
                    double score_tol = 0) {
  if (ref.size(0) == 0) return other.size(0) == 0 ? 1.0 : 0.0;
  if (other.size(0) == 0) return 0.0;
  const torch::Tensor iou = ops::BoxIoU(ref.cpu().to(torch::kFloat), other.cpu().to(torch::kFloat));
  int64_t matched = 0;
  for (int64_t i = 0; i < ref.size(0); ++i) {
    torch::Tensor ok = iou[i] > min_iou;
    if (ref_labels.defined()) ok = ok & (other_labels.cpu() == ref_labels[i].item<int64_t>());
    if (ref_scores.defined()) {
      ok = ok & ((other_scores.cpu() - ref_scores[i].item<float>()).abs() <= score_tol);
    }
    matched += ok.any().item<bool>() ? 1 : 0;
  }
  return static_cast<double>(matched) / static_cast<double>(ref.size(0));
}

// The shapes preset at 128 x 128 with full-image masks, two images with three objects each.
struct Fixture {
  Fixture() {
    config = Config::Preset("shapes").value();
    config.USE_MINI_MASK = false;
    torch::manual_seed(3);
    for (int i = 0; i < 2; ++i) {
      // As the data side prepares them: resized (128 x 128 already) and normalised.
      images.push_back((torch::randint(0, 256, {3, 128, 128}, torch::kFloat) / 255 - 0.45) / 0.225);
      const torch::Tensor boxes = torch::tensor(
          {{10.f, 12.f, 60.f, 70.f}, {50.f, 40.f, 120.f, 100.f}, {5.f, 80.f, 40.f, 125.f}});
      torch::Tensor masks = torch::zeros({3, 128, 128}, torch::kByte);
      masks[0].narrow(0, 17, 48).narrow(1, 13, 40).fill_(1);
      masks[1].narrow(0, 45, 50).narrow(1, 53, 60).fill_(1);
      masks[2].narrow(0, 85, 35).narrow(1, 8, 25).fill_(1);
      targets.push_back({boxes, torch::tensor({1, 2, 3}, torch::kLong), masks});
    }
  }
  MaskRCNN Build(torch::Device device) const {
    absl::StatusOr<MaskRCNN> m = CreateMaskRCNN(config);
    TORCH_CHECK(m.ok(), std::string(m.status().message()));
    (*m)->to(device);
    return *m;
  }
  Config config;
  std::vector<torch::Tensor> images;
  std::vector<InstanceTargets> targets;
};

TEST_F(ModelGpuTest, OpsMatchCpu) {
  SKIP_WITHOUT_GPU();
  torch::manual_seed(11);
  const torch::Device cuda(torch::kCUDA);
  // Four FPN levels of a 256 x 256 batch of 2; 200 boxes over all scales.
  std::vector<torch::Tensor> feats_cpu, feats_gpu;
  for (int64_t s : {64, 32, 16, 8}) {
    feats_cpu.push_back(torch::randn({2, 8, s, s}).requires_grad_());
    feats_gpu.push_back(feats_cpu.back().detach().to(cuda).requires_grad_());
  }
  std::vector<torch::Tensor> boxes_cpu, boxes_gpu;
  for (int i = 0; i < 2; ++i) {
    const torch::Tensor xy = torch::rand({100, 2}) * 200;
    const torch::Tensor wh = torch::rand({100, 2}) * 150 + 1;
    boxes_cpu.push_back(torch::cat({xy, xy + wh}, 1));
    boxes_gpu.push_back(boxes_cpu.back().to(cuda));
  }
  const std::vector<std::pair<int64_t, int64_t>> sizes = {{256, 256}, {256, 240}};
  const torch::Tensor out_cpu = ops::MultiScaleRoiAlign(feats_cpu, boxes_cpu, sizes, 7, 7, 2);
  const torch::Tensor out_gpu = ops::MultiScaleRoiAlign(feats_gpu, boxes_gpu, sizes, 7, 7, 2);
  ASSERT_TRUE(out_gpu.is_cuda());
  EXPECT_LT(RelMaxDiff(out_gpu, out_cpu), 1e-5);
  const torch::Tensor grad = torch::randn(out_cpu.sizes());
  out_cpu.backward(grad);
  out_gpu.backward(grad.to(cuda));
  for (size_t l = 0; l < feats_cpu.size(); ++l) {
    ASSERT_TRUE(feats_gpu[l].grad().defined()) << "level " << l;
    EXPECT_LT(RelMaxDiff(feats_gpu[l].grad(), feats_cpu[l].grad()), 1e-5) << "level " << l;
  }
  // Single level, aligned, adaptive sampling.
  const torch::Tensor rois = ops::BoxesToRois(boxes_cpu);
  const torch::Tensor one_cpu = ops::RoiAlign(feats_cpu[1].detach(), rois, 1.0 / 8, 5, 4, 0, true);
  const torch::Tensor one_gpu =
      ops::RoiAlign(feats_gpu[1].detach(), rois.to(cuda), 1.0 / 8, 5, 4, 0, true);
  EXPECT_LT(RelMaxDiff(one_gpu, one_cpu), 1e-5);

  // NMS, plain and per class.
  const torch::Tensor b = torch::cat(boxes_cpu);
  const torch::Tensor scores = torch::rand({b.size(0)});
  const torch::Tensor classes = torch::randint(0, 4, {b.size(0)}, torch::kLong);
  const torch::Tensor keep_cpu = ops::Nms(b, scores, 0.5);
  const torch::Tensor keep_gpu = ops::Nms(b.to(cuda), scores.to(cuda), 0.5);
  ASSERT_TRUE(keep_gpu.is_cuda());
  EXPECT_TRUE(torch::equal(keep_gpu.cpu(), keep_cpu));
  const torch::Tensor bkeep_cpu = ops::BatchedNms(b, scores, classes, 0.5);
  const torch::Tensor bkeep_gpu = ops::BatchedNms(b.to(cuda), scores.to(cuda), classes.to(cuda), 0.5);
  EXPECT_TRUE(torch::equal(bkeep_gpu.cpu(), bkeep_cpu));
}

TEST_F(ModelGpuTest, TrainingStepMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const Fixture f;
  const torch::Device cuda(torch::kCUDA);
  MaskRCNN cpu = f.Build(torch::kCPU);
  MaskRCNN gpu = f.Build(cuda);
  cpu->train();
  gpu->train();
  // A normalised batch at the model's input size, and targets in its pixels.
  torch::manual_seed(5);
  const torch::Tensor x = torch::randn({2, 3, 128, 128});
  const std::vector<std::pair<int64_t, int64_t>> sizes(2, {128, 128});
  std::vector<torch::Tensor> gt_cpu, gt_gpu;
  std::vector<RoITargets> rt_cpu, rt_gpu;
  for (const InstanceTargets& t : f.targets) {
    gt_cpu.push_back(t.boxes);
    gt_gpu.push_back(t.boxes.to(cuda));
    rt_cpu.push_back({t.boxes, t.labels, t.masks});
    rt_gpu.push_back({t.boxes.to(cuda), t.labels.to(cuda), t.masks.to(cuda)});
  }
  const std::vector<torch::Tensor> fc = cpu->backbone->forward(x);
  const std::vector<torch::Tensor> fg = gpu->backbone->forward(x.to(cuda));
  ASSERT_EQ(fc.size(), fg.size());
  for (size_t l = 0; l < fc.size(); ++l) {
    ASSERT_TRUE(fg[l].is_cuda());
    EXPECT_LT(RelMaxDiff(fg[l], fc[l]), 1e-4) << "feature level " << l;
  }
  at::Generator gen_cpu = ops::MakeGenerator(7), gen_gpu = ops::MakeGenerator(7);
  RPNOutput rc = cpu->rpn->forward(fc, sizes, {128, 128}, &gt_cpu, &gen_cpu);
  RPNOutput rg = gpu->rpn->forward(fg, sizes, {128, 128}, &gt_gpu, &gen_gpu);
  EXPECT_LT(RelMaxDiff(rg.loss_objectness, rc.loss_objectness), 1e-4);
  EXPECT_LT(RelMaxDiff(rg.loss_box, rc.loss_box), 1e-4);
  for (size_t i = 0; i < rc.proposals.size(); ++i) {
    ASSERT_TRUE(rg.proposals[i].is_cuda());
    EXPECT_GE(MatchedShare(rc.proposals[i], rg.proposals[i], 0.99), 0.95) << "image " << i;
  }
  // The heads on the CPU's proposals, so that both sample the same ROIs.
  std::vector<torch::Tensor> proposals_gpu;
  for (const torch::Tensor& p : rc.proposals) proposals_gpu.push_back(p.to(cuda));
  RoIHeadsOutput hc = cpu->roi_heads->forward(fc, rc.proposals, sizes, &rt_cpu, &gen_cpu);
  RoIHeadsOutput hg = gpu->roi_heads->forward(fg, proposals_gpu, sizes, &rt_gpu, &gen_gpu);
  EXPECT_EQ(hg.sampled_rois, hc.sampled_rois);
  EXPECT_EQ(hg.sampled_positives, hc.sampled_positives);
  EXPECT_LT(RelMaxDiff(hg.loss_classifier, hc.loss_classifier), 1e-4);
  EXPECT_LT(RelMaxDiff(hg.loss_box_reg, hc.loss_box_reg), 1e-4);
  EXPECT_LT(RelMaxDiff(hg.loss_mask, hc.loss_mask), 1e-4);

  (rc.loss_objectness + rc.loss_box + hc.loss_classifier + hc.loss_box_reg + hc.loss_mask).backward();
  (rg.loss_objectness + rg.loss_box + hg.loss_classifier + hg.loss_box_reg + hg.loss_mask).backward();
  const auto pc = cpu->named_parameters(true);
  const auto pg = gpu->named_parameters(true);
  int compared = 0;
  for (const auto& item : pc) {
    const torch::Tensor& g = item.value().grad();
    const torch::Tensor& h = pg[item.key()].grad();
    ASSERT_EQ(g.defined(), h.defined()) << item.key();
    if (!g.defined()) continue;
    EXPECT_TRUE(h.is_cuda()) << item.key();
    EXPECT_LT(RelMaxDiff(h, g), 2e-3) << item.key();
    ++compared;
  }
  EXPECT_GT(compared, 20);
}

TEST_F(ModelGpuTest, LossesBackwardAndDetectThroughThePublicApi) {
  SKIP_WITHOUT_GPU();
  const Fixture f;
  const torch::Device cuda(torch::kCUDA);
  MaskRCNN cpu = f.Build(torch::kCPU);
  MaskRCNN gpu = f.Build(cuda);
  EXPECT_TRUE(gpu->Device().is_cuda());
  // Training: CPU images and targets go in; the model moves them.
  cpu->train();
  gpu->train();
  at::Generator gen_cpu = ops::MakeGenerator(9), gen_gpu = ops::MakeGenerator(9);
  const LossMap lc = cpu->Losses(f.images, f.targets, &gen_cpu);
  const LossMap lg = gpu->Losses(f.images, f.targets, &gen_gpu);
  for (const char* name : {"rpn_class_loss", "rpn_bbox_loss"}) {
    EXPECT_LT(RelMaxDiff(lg.at(name), lc.at(name)), 1e-4) << name;
  }
  for (const auto& [name, l] : lg) {
    EXPECT_TRUE(l.is_cuda()) << name;
    EXPECT_TRUE(std::isfinite(l.item<double>())) << name;
  }
  MaskRCNNImpl::TotalLoss(lg).backward();
  int with_grad = 0;
  for (const auto& p : gpu->parameters()) with_grad += p.grad().defined() ? 1 : 0;
  EXPECT_GT(with_grad, 20);

  // Inference: detections come back on the CPU and match the CPU model's.
  cpu->eval();
  gpu->eval();
  const InferenceOutput dc = cpu->Infer(f.images);
  const InferenceOutput dg = gpu->Infer(f.images);
  for (size_t i = 0; i < dc.detections.size(); ++i) {
    const ImageDetections& a = dc.detections[i];
    const ImageDetections& b = dg.detections[i];
    ASSERT_FALSE(b.boxes.is_cuda());
    ASSERT_FALSE(b.masks.is_cuda());
    EXPECT_EQ(b.masks.sizes(), torch::IntArrayRef({b.boxes.size(0), 128, 128}));
    EXPECT_GT(a.boxes.size(0), 0) << "image " << i << ": the CPU model detected nothing";
    EXPECT_GE(MatchedShare(a.boxes, b.boxes, 0.99, a.labels, b.labels, a.scores, b.scores, 1e-3), 0.95)
        << "image " << i << ": " << a.boxes.size(0) << " CPU and " << b.boxes.size(0)
        << " GPU detections";
  }
}

TEST(DeviceFlagTest, ParsesAndRefusesClearly) {
  EXPECT_TRUE(ParseDevice("cpu").ok());
  EXPECT_NE(std::string(ParseDevice("gpu").status().message()).find("not cpu, cuda or cuda:N"),
            std::string::npos);
  EXPECT_NE(std::string(ParseDevice("cuda:x").status().message()).find("--device"),
            std::string::npos);
  if (!HaveGpu()) {
    EXPECT_FALSE(ParseDevice("cuda").ok());
  } else {
    EXPECT_TRUE(ParseDevice("cuda").ok());
    EXPECT_TRUE(ParseDevice("cuda:0").ok());
    EXPECT_FALSE(ParseDevice("cuda:99").ok());
  }
}

}  // namespace
}  // namespace mrcnn
