// The config knobs of the model: each changes behaviour as documented (RPN_ANCHOR_STRIDE,
// RPN_ANCHOR_SCALES, MINI_MASK_SHAPE, TRAIN_ROIS_PER_IMAGE, PRE_NMS_LIMIT, POST_NMS_ROIS_*), and
// inconsistent combinations are rejected at construction with a message naming the key.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "mrcnn/model/mask_rcnn.h"
#include "mrcnn/ops/mask_ops.h"
#include "mrcnn/ops/sampler.h"

namespace mrcnn {
namespace {

// A small model (shapes preset) with random weights and two images with three boxes each.
struct Small {
  explicit Small(Config c) : config(std::move(c)) {
    torch::manual_seed(0);
    for (int i = 0; i < 2; ++i) {
      images.push_back(torch::randint(0, 256, {3, 128, 128}, torch::kByte));
      const torch::Tensor boxes = torch::tensor({{10.f, 12.f, 60.f, 70.f}, {50.f, 40.f, 120.f, 100.f},
                                                 {5.f, 80.f, 40.f, 125.f}});
      torch::Tensor masks = torch::zeros({3, 128, 128}, torch::kByte);
      for (int k = 0; k < 3; ++k) {
        const auto b = boxes[k];
        masks[k].narrow(0, b[1].item<int64_t>() + 5, b[3].item<int64_t>() - b[1].item<int64_t>() - 10)
            .narrow(1, b[0].item<int64_t>() + 3, b[2].item<int64_t>() - b[0].item<int64_t>() - 20)
            .fill_(1);
      }
      full_targets.push_back({boxes, torch::tensor({1, 2, 3}, torch::kLong), masks});
    }
  }
  MaskRCNN Build() const {
    absl::StatusOr<MaskRCNN> m = CreateMaskRCNN(config);
    TORCH_CHECK(m.ok(), std::string(m.status().message()));
    return *m;
  }
  std::vector<InstanceTargets> MiniTargets() const {
    std::vector<InstanceTargets> out;
    for (const auto& t : full_targets) {
      out.push_back({t.boxes, t.labels,
                     ops::MinimizeMasks(t.masks, t.boxes, config.MINI_MASK_SHAPE[0],
                                        config.MINI_MASK_SHAPE[1])});
    }
    return out;
  }
  Config config;
  std::vector<torch::Tensor> images;
  std::vector<InstanceTargets> full_targets;
};

// The shapes preset with full-image masks (the Small fixture's targets).
Config ShapesConfig() {
  Config c = Config::Preset("shapes").value();
  c.USE_MINI_MASK = false;
  return c;
}

std::vector<int64_t> ProposalCounts(MaskRCNN& model, const std::vector<torch::Tensor>& images) {
  model->eval();
  const InferenceOutput out = model->Infer(images);
  std::vector<int64_t> counts;
  for (const auto& p : out.proposals) counts.push_back(p.size(0));
  return counts;
}

TEST(MaskRCNNKnobsTest, PostNmsRoisInferenceCapsProposals) {
  Config c = ShapesConfig();
  Small s(c);
  MaskRCNN a = s.Build();
  const std::vector<int64_t> base = ProposalCounts(a, s.images);
  ASSERT_GT(base[0], 20);
  s.config.POST_NMS_ROIS_INFERENCE = 20;
  MaskRCNN b = s.Build();
  EXPECT_EQ(ProposalCounts(b, s.images), (std::vector<int64_t>{20, 20}));
}

TEST(MaskRCNNKnobsTest, PreNmsLimitBoundsCandidates) {
  Config c = ShapesConfig();
  c.PROPOSAL_SELECTION = ProposalSelection::kGlobal;
  c.PRE_NMS_LIMIT_INFERENCE = 5;
  c.POST_NMS_ROIS_INFERENCE = 5;
  Small s(c);
  MaskRCNN m = s.Build();
  for (int64_t n : ProposalCounts(m, s.images)) EXPECT_LE(n, 5);
  // Per level, the limit applies to each of the 5 levels.
  s.config.PROPOSAL_SELECTION = ProposalSelection::kPerLevel;
  s.config.PRE_NMS_LIMIT_INFERENCE = 2;
  MaskRCNN p = s.Build();
  for (int64_t n : ProposalCounts(p, s.images)) {
    EXPECT_LE(n, 10);
    EXPECT_GE(n, 5);  // one per level survives NMS at least (levels never suppress each other)
  }
}

TEST(MaskRCNNKnobsTest, TrainingUsesPreNmsLimitAndPostNmsRoisTraining) {
  Config c = ShapesConfig();
  c.POST_NMS_ROIS_TRAINING = 7;
  Small s(c);
  MaskRCNN m = s.Build();
  m->train();
  const ImageBatch batch = BatchImages(s.images, m->transform);
  const std::vector<torch::Tensor> features = m->backbone->forward(batch.images);
  std::vector<torch::Tensor> gt = {s.full_targets[0].boxes, s.full_targets[1].boxes};
  at::Generator g = ops::MakeGenerator(1);
  RPNOutput out = m->rpn->forward(features, batch.image_sizes, batch.padded_size(), &gt, &g);
  EXPECT_EQ(out.proposals[0].size(0), 7);
  EXPECT_TRUE(out.loss_objectness.defined() && out.loss_box.defined());
  EXPECT_TRUE(std::isfinite(out.loss_objectness.item<double>()));
}

TEST(MaskRCNNKnobsTest, AnchorStrideSubsamplesAnchorsAndHeadOutputs) {
  Config c = ShapesConfig();
  Small s(c);
  MaskRCNN one = s.Build();
  s.config.RPN_ANCHOR_STRIDE = 2;
  MaskRCNN two = s.Build();
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> f = one->backbone->forward(torch::zeros({1, 3, 128, 128}));
  const auto a1 = one->rpn->Anchors(f, {128, 128});
  const auto a2 = two->rpn->Anchors(f, {128, 128});
  // P2 32x32 cells x 3 anchors; every other cell in both axes: 16x16 x 3. P6 2x2 -> 1x1.
  EXPECT_EQ(a1[0].size(0), 32 * 32 * 3);
  EXPECT_EQ(a2[0].size(0), 16 * 16 * 3);
  EXPECT_EQ(a1[4].size(0), 2 * 2 * 3);
  EXPECT_EQ(a2[4].size(0), 1 * 1 * 3);
  two->eval();
  const InferenceOutput out = two->Infer(s.images);
  EXPECT_GT(out.proposals[0].size(0), 0);
  two->train();
  const LossMap l = two->Losses(s.images, s.full_targets);
  EXPECT_TRUE(std::isfinite(MaskRCNNImpl::TotalLoss(l).item<double>()));
}

TEST(MaskRCNNKnobsTest, AnchorScalesSetAnchorSizes) {
  Config c = ShapesConfig();
  c.RPN_ANCHOR_SCALES = {12, 24, 48, 96, 192};
  c.RPN_ANCHOR_RATIOS = {1.0};
  Small s(c);
  MaskRCNN m = s.Build();
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> f = m->backbone->forward(torch::zeros({1, 3, 128, 128}));
  const auto anchors = m->rpn->Anchors(f, {128, 128});
  for (int l = 0; l < 5; ++l) {
    const torch::Tensor w = anchors[l].select(1, 2) - anchors[l].select(1, 0);
    EXPECT_TRUE(torch::all(w == c.RPN_ANCHOR_SCALES[l]).item<bool>()) << "level " << l;
  }
}

TEST(MaskRCNNKnobsTest, TrainRoisPerImageAndPositiveRatio) {
  Config c = ShapesConfig();
  c.TRAIN_ROIS_PER_IMAGE = 16;
  c.ROI_POSITIVE_RATIO = 0.25;
  Small s(c);
  MaskRCNN m = s.Build();
  m->train();
  const ImageBatch batch = BatchImages(s.images, m->transform);
  const std::vector<torch::Tensor> features = m->backbone->forward(batch.images);
  std::vector<torch::Tensor> gt = {s.full_targets[0].boxes, s.full_targets[1].boxes};
  at::Generator g = ops::MakeGenerator(3);
  RPNOutput rpn = m->rpn->forward(features, batch.image_sizes, batch.padded_size(), &gt, &g);
  std::vector<RoITargets> t;
  for (const auto& x : s.full_targets) t.push_back({x.boxes, x.labels, x.masks});
  RoIHeadsOutput out = m->roi_heads->forward(features, rpn.proposals, batch.image_sizes, &t, &g);
  ASSERT_EQ(out.sampled_rois.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(out.sampled_rois[i], 16);
    EXPECT_LE(out.sampled_positives[i], 4);
    EXPECT_GE(out.sampled_positives[i], 3);  // the 3 gt boxes themselves are proposals
  }
}

TEST(MaskRCNNKnobsTest, MiniMaskShapeChangesMaskTargets) {
  Config c = ShapesConfig();
  Small s(c);
  // The same weights (same SEED) for every config; constant mask logits (1) make the mask loss
  // softplus(1) - mean(target), so it compares the targets rather than random logits.
  const auto mask_loss = [&](const Config& config, const std::vector<InstanceTargets>& targets) {
    s.config = config;
    MaskRCNN m = s.Build();
    m->train();
    {
      torch::NoGradGuard no_grad;
      m->roi_heads->mask_predictor->mask_fcn_logits->weight.zero_();
      m->roi_heads->mask_predictor->mask_fcn_logits->bias.fill_(1.0);
    }
    at::Generator g = ops::MakeGenerator(5);
    return m->Losses(s.images, targets, &g).at("mrcnn_mask_loss").item<double>();
  };
  const double full = mask_loss(c, s.full_targets);
  std::map<int, double> mini;
  for (int side : {56, 4}) {
    Config m = c;
    m.USE_MINI_MASK = true;
    m.MINI_MASK_SHAPE = {side, side};
    s.config = m;
    mini[side] = mask_loss(m, s.MiniTargets());
  }
  // Fine mini masks reproduce the full-mask targets closely (mean target within 0.02); 4x4 ones less.
  EXPECT_LT(std::abs(mini[56] - full), 0.02);
  EXPECT_GT(std::abs(mini[4] - full), std::abs(mini[56] - full));
  // Masks of the wrong shape for USE_MINI_MASK are an error naming MINI_MASK_SHAPE.
  MaskRCNN m = s.Build();
  m->train();
  try {
    m->Losses(s.images, s.full_targets);
    ADD_FAILURE() << "full masks accepted as mini masks";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("MINI_MASK_SHAPE"), std::string::npos) << e.what();
  }
}

TEST(MaskRCNNKnobsTest, EmptyResultsAndImagesWithoutInstances) {
  Config c = ShapesConfig();
  c.DETECTION_MIN_CONFIDENCE = 1.0;  // softmax scores never exceed 1: no detections
  Small s(c);
  MaskRCNN m = s.Build();
  m->eval();
  const std::vector<ImageDetections> d = m->Detect(s.images);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].boxes.size(0), 0);
  EXPECT_EQ(d[0].masks.sizes(), (std::vector<int64_t>{0, 128, 128}));
  // Training on an image without instances (all anchors and ROIs are background) stays finite.
  m->train();
  std::vector<InstanceTargets> targets = s.full_targets;
  targets[1] = {torch::zeros({0, 4}), torch::zeros({0}, torch::kLong),
                torch::zeros({0, 128, 128}, torch::kByte)};
  const LossMap l = m->Losses(s.images, targets);
  for (const auto& [name, v] : l) EXPECT_TRUE(std::isfinite(v.item<double>())) << name;
  // Bad targets are errors naming the image.
  targets[0].labels = torch::tensor({1, 2, 9}, torch::kLong);  // NUM_CLASSES is 4
  EXPECT_THROW(m->Losses(s.images, targets), c10::Error);
}

TEST(MaskRCNNKnobsTest, InconsistentConfigsAreRejectedAtConstruction) {
  const auto error_of = [](const std::function<void(Config&)>& change) {
    Config c = Config::Preset("shapes").value();
    change(c);
    absl::StatusOr<MaskRCNN> m = CreateMaskRCNN(c);
    return m.ok() ? std::string("ok") : std::string(m.status().message());
  };
  EXPECT_NE(error_of([](Config& c) { c.RPN_ANCHOR_SCALES = {8, 16, 32}; }).find("RPN_ANCHOR_SCALES"),
            std::string::npos);
  EXPECT_NE(error_of([](Config& c) {
              c.PROPOSAL_SELECTION = ProposalSelection::kGlobal;
              c.POST_NMS_ROIS_TRAINING = 2000;
              c.PRE_NMS_LIMIT = 1000;
            }).find("POST_NMS_ROIS_TRAINING"),
            std::string::npos);
  EXPECT_NE(error_of([](Config& c) { c.MASK_SHAPE = {14, 14}; }).find("MASK_SHAPE"), std::string::npos);
  // Crop mode is the data side's training augmentation (issue 15): the model takes it.
  EXPECT_EQ(error_of([](Config& c) { c.IMAGE_RESIZE_MODE = ResizeMode::kCrop; c.IMAGE_MIN_DIM = 128; }), "ok");
  // Any positive anchor stride builds (matterport's meaning: anchors on every stride-th cell).
  EXPECT_EQ(error_of([](Config& c) { c.RPN_ANCHOR_STRIDE = 3; }), "ok");
  EXPECT_NE(error_of([](Config& c) { c.BACKBONE_STRIDES = {4, 8, 16, 32, 128}; }).find("BACKBONE_STRIDES"),
            std::string::npos);
  EXPECT_EQ(error_of([](Config&) {}), "ok");
}

}  // namespace
}  // namespace mrcnn
