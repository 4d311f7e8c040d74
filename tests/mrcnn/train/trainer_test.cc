// Trainer: a short run on synthetic shapes lowers every loss; resuming from a checkpoint gives exactly
// the uninterrupted run; checkpoints, find_last and run folders; learning-rate schedules (hand
// calculation); bad paths, corrupt and mismatched checkpoints; initial weights with exclude lists.
#include "mrcnn/train/trainer.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <torch/types.h>
#include <torch/utils.h>

#include "absl/strings/match.h"
#include "datasets/dataset.h"
#include "datasets/shapes.h"
#include "eval/coco_eval.h"
#include "gtest/gtest.h"
#include "mrcnn/train/evaluation.h"
#include "mrcnn/train/initial_weights.h"
#include "mrcnn/weights/weights.h"
#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"

namespace mrcnn {
namespace {
namespace fs = std::filesystem;

Config TinyConfig() {
  Config c = Config::Preset("shapes").value();
  c.NAME = "Tiny";
  c.IMAGE_MIN_DIM = 64;
  c.IMAGE_MAX_DIM = 64;
  c.BACKBONE_BASE_WIDTH = 8;
  c.TOP_DOWN_PYRAMID_SIZE = 16;
  c.FPN_CLASSIF_FC_LAYERS_SIZE = 32;
  c.MASK_HEAD_CHANNELS = 8;
  c.MASK_SHAPE = {14, 14};
  c.MASK_POOL_SIZE = 7;
  c.RPN_ANCHOR_SCALES = {8, 16, 24, 32, 48};
  c.TRAIN_ROIS_PER_IMAGE = 16;
  c.IMAGES_PER_GPU = 2;
  c.STEPS_PER_EPOCH = 3;
  c.VALIDATION_STEPS = 2;
  c.WARMUP_STEPS = 2;
  c.LEARNING_RATE = 0.01;
  c.OPTIMIZER = OptimizerKind::kSgd;
  return c;
}

datasets::Dataset Shapes(int count, const std::string& split) {
  return datasets::MakeShapesDataset({.count = count, .height = 64, .width = 64, .seed = 5, .split = split});
}

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  fs::path p = fs::path(base ? base : "/tmp") / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

Trainer MakeTrainer(const Config& c) {
  return Trainer::Create(CreateMaskRCNN(c).value(), c).value();
}

TEST(TrainerTest, ShortTrainingLowersEveryLoss) {
  Config c = TinyConfig();
  c.STEPS_PER_EPOCH = 30;
  c.VALIDATION_STEPS = 2;
  c.LEARNING_RATE = 0.02;
  datasets::Dataset train = Shapes(4, "train");
  Trainer t = MakeTrainer(c);
  // Validation loss on the 4 training images (2 batches of 2 cover them all), before and after.
  absl::StatusOr<std::map<std::string, double>> before = t.ValidationLosses(train);
  ASSERT_TRUE(before.ok()) << before.status();
  TrainOptions o;
  o.layers = "all";
  o.epochs = 2;
  o.augment = false;
  o.coco_eval = true;
  o.coco_max_images = 2;
  std::vector<EpochReport> reports;
  o.on_epoch = [&](const EpochReport& r) {
    reports.push_back(r);
    return absl::OkStatus();
  };
  ASSERT_TRUE(t.Train(train, train, o).ok());
  absl::StatusOr<std::map<std::string, double>> after = t.ValidationLosses(train);
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(before->size(), 6u);
  for (const auto& [name, v] : *before) {
    EXPECT_LT(after->at(name), v) << name << " did not decrease";
  }
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[1].global_step, 60);
  ASSERT_TRUE(reports[1].coco.has_value());
  EXPECT_EQ(reports[1].coco->images, 2);
  EXPECT_EQ(reports[1].val_losses.size(), 6u);
}

class ResumeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ResumeTest, ResumeEqualsUninterruptedRun) {
  Config c = TinyConfig();
  ASSERT_TRUE(c.Set("OPTIMIZER", GetParam()).ok());
  if (c.OPTIMIZER == OptimizerKind::kAdamW) c.LEARNING_RATE = 1e-3;
  datasets::Dataset train = Shapes(5, "train");  // 2 batches per pass: epochs wrap around the data
  datasets::Dataset val = Shapes(2, "val");
  TrainOptions o;
  o.layers = "all";
  o.coco_eval = false;

  Trainer a = MakeTrainer(c);
  ASSERT_TRUE(a.SetRunDir(TempDir("resume_a_" + GetParam())).ok());
  o.epochs = 3;
  ASSERT_TRUE(a.Train(train, val, o).ok());

  Trainer b = MakeTrainer(c);
  const std::string dir_b = TempDir("resume_b_" + GetParam());
  ASSERT_TRUE(b.SetRunDir(dir_b).ok());
  o.epochs = 1;
  ASSERT_TRUE(b.Train(train, val, o).ok());

  // A fresh process: another initialisation, so only the checkpoint can make it equal.
  Config other = c;
  other.SEED = 99;
  Trainer r = Trainer::Create(CreateMaskRCNN(other).value(), c).value();
  absl::StatusOr<std::string> last = FindLast(dir_b, "tiny");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(EpochFromCheckpointName(*last), 1);
  ASSERT_TRUE(r.Resume(*last).ok());
  EXPECT_EQ(r.epoch(), 1);
  EXPECT_EQ(r.global_step(), 3);
  EXPECT_EQ(r.run_dir(), fs::path(*last).parent_path().string());
  o.epochs = 3;
  ASSERT_TRUE(r.Train(train, val, o).ok());
  EXPECT_EQ(r.global_step(), a.global_step());

  const TensorMap sa = StateDict(*a.model()), sr = StateDict(*r.model());
  ASSERT_EQ(sa.size(), sr.size());
  for (const auto& [name, v] : sa) {
    EXPECT_TRUE(torch::equal(v, sr.at(name))) << name;
  }
  const TensorMap oa = a.optimizer_state(), orr = r.optimizer_state();
  ASSERT_EQ(oa.size(), orr.size());
  EXPECT_GT(oa.size(), 0u);
  for (const auto& [name, v] : oa) EXPECT_TRUE(torch::equal(v, orr.at(name))) << name;
  // The resumed run wrote epochs 2 and 3 beside epoch 1.
  EXPECT_EQ(EpochFromCheckpointName(FindLast(dir_b, "tiny").value()), 3);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, ResumeTest, ::testing::Values("sgd", "adamw"));

TEST(TrainerTest, RunFolderCheckpointsAndFindLast) {
  const Config c = TinyConfig();
  const std::string model_dir = TempDir("runs");
  Trainer t = MakeTrainer(c);
  ASSERT_TRUE(t.SetRunDir(model_dir).ok());
  const std::string run = fs::path(t.run_dir()).filename().string();
  EXPECT_TRUE(absl::StartsWith(run, "tiny")) << run;
  EXPECT_EQ(run.size(), std::string("tiny").size() + std::string("20260101T1200").size()) << run;
  std::ifstream in(fs::path(t.run_dir()) / "config.json");
  ASSERT_TRUE(in);
  EXPECT_EQ(Config::FromJson(nlohmann::json::parse(in), "config.json").value(), c);
  EXPECT_EQ(fs::path(t.CheckpointPath(7)).filename(), "mask_rcnn_tiny_0007.pt");

  // No checkpoint yet; other names do not count; the newest folder wins.
  EXPECT_TRUE(absl::IsNotFound(FindLast(model_dir, "tiny").status()));
  EXPECT_TRUE(absl::IsNotFound(FindLast(model_dir, "other").status()));
  EXPECT_TRUE(absl::IsNotFound(FindLast(model_dir + "/missing", "tiny").status()));
  fs::create_directories(fs::path(model_dir) / "tiny20000101T0000");
  std::ofstream(fs::path(model_dir) / "tiny20000101T0000" / "mask_rcnn_tiny_0009.pt") << "x";
  ASSERT_TRUE(t.SaveCheckpoint(t.CheckpointPath(1)).ok());
  ASSERT_TRUE(t.SaveCheckpoint(t.CheckpointPath(2)).ok());
  EXPECT_EQ(FindLast(model_dir, "Tiny").value(), t.CheckpointPath(2));
  EXPECT_EQ(EpochFromCheckpointName("a/mask_rcnn_x_y_0012.pt"), 12);
  EXPECT_EQ(EpochFromCheckpointName("a/weights.pt"), -1);
}

TEST(TrainerTest, LearningRateSchedules) {
  Config c = TinyConfig();
  c.WARMUP_STEPS = 4;
  // Warmup: base * (step + 1) / 4.
  EXPECT_DOUBLE_EQ(LearningRateAt(c, 0.1, 0, 100), 0.025);
  EXPECT_DOUBLE_EQ(LearningRateAt(c, 0.1, 3, 100), 0.1);
  EXPECT_DOUBLE_EQ(LearningRateAt(c, 0.1, 50, 100), 0.1);
  c.LEARNING_RATE_SCHEDULE = LearningRateSchedule::kStep;
  c.LEARNING_RATE_STEPS = {10, 20};
  c.LEARNING_RATE_DECAY = 0.1;
  EXPECT_DOUBLE_EQ(LearningRateAt(c, 0.1, 9, 100), 0.1);
  EXPECT_NEAR(LearningRateAt(c, 0.1, 10, 100), 0.01, 1e-15);
  EXPECT_NEAR(LearningRateAt(c, 0.1, 25, 100), 0.001, 1e-15);
  c.LEARNING_RATE_SCHEDULE = LearningRateSchedule::kCosine;  // from step 4 to step 14: half way at 9
  EXPECT_DOUBLE_EQ(LearningRateAt(c, 0.1, 4, 14), 0.1);
  EXPECT_NEAR(LearningRateAt(c, 0.1, 9, 14), 0.05, 1e-15);
  EXPECT_NEAR(LearningRateAt(c, 0.1, 14, 14), 0.0, 1e-15);
  const absl::Status linear = c.Set("LEARNING_RATE_SCHEDULE", "linear");
  EXPECT_TRUE(absl::StrContains(linear.message(), "LEARNING_RATE_SCHEDULE")) << linear;
}

TEST(TrainerTest, FrozenParametersGetNoUpdateAndNoState) {
  const Config c = TinyConfig();
  Trainer t = MakeTrainer(c);
  const TensorMap before = StateDict(*t.model());
  TrainOptions o;
  o.layers = "heads";
  o.epochs = 1;
  o.coco_eval = false;
  datasets::Dataset train = Shapes(4, "train");
  ASSERT_TRUE(t.Train(train, train, o).ok());
  std::set<std::string> with_state;
  for (const auto& [key, v] : t.optimizer_state()) {
    with_state.insert(key.substr(key.find('.', std::string("optimizer.").size()) + 1));  // optimizer.<slot>.<p>
  }
  for (const auto& p : t.model()->named_parameters(true)) {
    const bool head = absl::StartsWith(p.key(), "rpn.") || absl::StartsWith(p.key(), "roi_heads.") ||
                      absl::StartsWith(p.key(), "backbone.fpn.");
    EXPECT_EQ(with_state.count(p.key()), head ? 1u : 0u) << p.key();
    if (!head) {
      EXPECT_TRUE(torch::equal(p.value(), before.at(p.key()))) << p.key();
    }
  }
}

TEST(TrainerTest, RejectsSeveralGpus) {
  Config c = TinyConfig();
  c.GPU_COUNT = 2;
  absl::StatusOr<Trainer> t = Trainer::Create(CreateMaskRCNN(TinyConfig()).value(), c);
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(absl::StrContains(t.status().message(), "GPU_COUNT: 2 is not supported")) << t.status();
}

TEST(TrainerTest, BadPathsAndCorruptCheckpoints) {
  const Config c = TinyConfig();
  const std::string dir = TempDir("bad");
  Trainer t = MakeTrainer(c);

  absl::Status missing = t.Resume(dir + "/nope.pt");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::StrContains(missing.message(), dir + "/nope.pt")) << missing;

  const std::string garbage = dir + "/garbage.pt";
  std::ofstream(garbage) << "this is not a zip archive";
  absl::Status corrupt = t.Resume(garbage);
  ASSERT_FALSE(corrupt.ok());
  EXPECT_TRUE(absl::StrContains(corrupt.message(), garbage)) << corrupt;

  // A real checkpoint cut in half.
  ASSERT_TRUE(t.SetRunDir(dir).ok());
  const std::string good = t.CheckpointPath(1);
  ASSERT_TRUE(t.SaveCheckpoint(good).ok());
  const std::string cut = dir + "/cut.pt";
  fs::copy_file(good, cut);
  fs::resize_file(cut, fs::file_size(good) / 2);
  absl::Status truncated = t.Resume(cut);
  ASSERT_FALSE(truncated.ok());
  EXPECT_TRUE(absl::StrContains(truncated.message(), cut)) << truncated;
  absl::StatusOr<LoadReport> cut_weights = LoadInitialWeights(*t.model(), "coco", cut, {});
  ASSERT_FALSE(cut_weights.ok());

  // Weights only: not resumable, and the message says what to do.
  const std::string weights = dir + "/weights.pt";
  ASSERT_TRUE(SaveWeights(*t.model(), weights).ok());
  absl::Status not_ckpt = t.Resume(weights);
  ASSERT_FALSE(not_ckpt.ok());
  EXPECT_TRUE(absl::StrContains(not_ckpt.message(), "not a training checkpoint")) << not_ckpt;

  // Another config's checkpoint.
  Config five = c;
  five.NUM_CLASSES = 5;
  Trainer other = MakeTrainer(five);
  absl::Status mismatch = other.Resume(good);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_TRUE(absl::StrContains(mismatch.message(), "does not match the model")) << mismatch;
  EXPECT_TRUE(absl::StrContains(mismatch.message(), "roi_heads.box_predictor.cls_score.weight")) << mismatch;

  // Initial weights: unknown init_with, missing file, no file.
  EXPECT_FALSE(LoadInitialWeights(*t.model(), "bogus", weights, {}).ok());
  absl::StatusOr<LoadReport> nofile = LoadInitialWeights(*t.model(), "coco", dir + "/absent.pt", {});
  ASSERT_FALSE(nofile.ok());
  EXPECT_TRUE(absl::StrContains(nofile.status().message(), dir + "/absent.pt")) << nofile.status();
  absl::StatusOr<LoadReport> nopath = LoadInitialWeights(*t.model(), "imagenet", "", {});
  ASSERT_FALSE(nopath.ok());
  EXPECT_TRUE(absl::StrContains(nopath.status().message(), "needs --weights")) << nopath.status();
}

TEST(TrainerTest, InitialWeightsWithMatterportExcludeNames) {
  const Config c = TinyConfig();  // 4 classes
  const std::string dir = TempDir("init");
  MaskRCNN source = CreateMaskRCNN(c).value();
  const std::string path = dir + "/coco.pt";
  ASSERT_TRUE(SaveWeights(*source, path).ok());
  Config three = c;
  three.NUM_CLASSES = 3;
  three.SEED = 7;
  const std::set<std::string> predictor = {
      "roi_heads.box_predictor.cls_score.weight", "roi_heads.box_predictor.cls_score.bias",
      "roi_heads.box_predictor.bbox_pred.weight", "roi_heads.box_predictor.bbox_pred.bias",
      "roi_heads.mask_predictor.mask_fcn_logits.weight", "roi_heads.mask_predictor.mask_fcn_logits.bias"};

  // matterport's exclude list: the class-specific layers are skipped, everything else loaded.
  MaskRCNN target = CreateMaskRCNN(three).value();
  absl::StatusOr<LoadReport> r = LoadInitialWeights(
      *target, "coco", path, {"mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_bbox", "mrcnn_mask"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(std::set<std::string>(r->excluded.begin(), r->excluded.end()), predictor);
  EXPECT_TRUE(r->shape_mismatch.empty()) << r->Summary();
  EXPECT_TRUE(r->missing.empty()) << r->Summary();
  const TensorMap src = StateDict(*source), dst = StateDict(*target);
  EXPECT_TRUE(torch::equal(src.at("backbone.body.layer1.0.conv1.weight"), dst.at("backbone.body.layer1.0.conv1.weight")));
  EXPECT_TRUE(torch::equal(src.at("roi_heads.box_head.fc6.weight"), dst.at("roi_heads.box_head.fc6.weight")));

  // Our own names work too; without an exclude list the differing shapes are reported.
  EXPECT_EQ(MapExcludeNames({"roi_heads.box_predictor", "mrcnn_mask", ""}),
            (std::vector<std::string>{"roi_heads.box_predictor", "roi_heads.mask_predictor.mask_fcn_logits"}));
  MaskRCNN plain = CreateMaskRCNN(three).value();
  absl::StatusOr<LoadReport> m = LoadInitialWeights(*plain, "coco", path, {});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->shape_mismatch.size(), predictor.size()) << m->Summary();
  EXPECT_FALSE(m->complete());

  // ImageNet: a bare ResNet's names land in backbone.body, its classifier is unused.
  TensorMap resnet;
  resnet["conv1.weight"] = torch::randn({8, 3, 7, 7});
  resnet["layer1.0.conv1.weight"] = torch::randn({8, 8, 3, 3});
  resnet["fc.weight"] = torch::randn({1000, 64});
  ASSERT_TRUE(WriteTensorFile(dir + "/resnet.pt", resnet).ok());
  MaskRCNN img = CreateMaskRCNN(c).value();
  absl::StatusOr<LoadReport> i = LoadInitialWeights(*img, "imagenet", dir + "/resnet.pt", {});
  ASSERT_TRUE(i.ok()) << i.status();
  EXPECT_EQ(std::set<std::string>(i->loaded.begin(), i->loaded.end()),
            (std::set<std::string>{"backbone.body.conv1.weight", "backbone.body.layer1.0.conv1.weight"}));
  EXPECT_EQ(i->unused, std::vector<std::string>{"backbone.body.fc.weight"});
  EXPECT_TRUE(torch::equal(StateDict(*img).at("backbone.body.conv1.weight"), resnet["conv1.weight"]));
}

// The evaluation glue: the ground truth given back as detections scores AP 1 for boxes and masks.
TEST(EvaluationTest, GroundTruthAsDetectionsScoresOne) {
  datasets::Dataset ds = Shapes(3, "val");
  absl::StatusOr<eval::CocoDataset> gt = CocoGroundTruth(ds, 0);
  ASSERT_TRUE(gt.ok()) << gt.status();
  ASSERT_EQ(gt->images.size(), 3u);
  std::vector<eval::Detection> dets;
  for (int i = 0; i < 3; ++i) {
    datasets::InstanceMasks m = ds.LoadMask(i).value();
    ImageDetections d;
    const int n = m.size();
    d.masks = torch::zeros({n, m.height, m.width}, torch::kBool);
    d.boxes = torch::zeros({n, 4});
    d.labels = torch::zeros({n}, torch::kInt64);
    d.scores = torch::ones({n});
    for (int k = 0; k < n; ++k) {
      torch::Tensor mk = d.masks[k];
      auto a = mk.accessor<bool, 2>();
      int x1 = 1 << 20, y1 = 1 << 20, x2 = -1, y2 = -1;
      for (int y = 0; y < m.height; ++y)
        for (int x = 0; x < m.width; ++x)
          if (m.masks[k].at<uint8_t>(y, x)) {
            a[y][x] = true;
            x1 = std::min(x1, x), y1 = std::min(y1, y), x2 = std::max(x2, x), y2 = std::max(y2, y);
          }
      d.boxes[k] = torch::tensor({float(x1), float(y1), float(x2 + 1), float(y2 + 1)});
      d.labels[k] = m.class_ids[k];
    }
    std::vector<eval::Detection> di = ToCocoDetections(d, i);
    dets.insert(dets.end(), di.begin(), di.end());
  }
  for (eval::IouType type : {eval::IouType::kBbox, eval::IouType::kSegm}) {
    eval::CocoEvaluator ev = eval::CocoEvaluator::Create(*gt, type).value();
    eval::CocoEvalResult r = ev.Evaluate(dets).value();
    EXPECT_NEAR(r.stats[0], 1.0, 1e-12) << eval::IouTypeName(type);
  }
}

// Detections of an image decoded at 1/2 come back at full size: boxes doubled, and each reduced mask
// pixel a 2 x 2 block (the full masks built here by hand). The second mask starts and ends with a set
// pixel, so its runs start with an empty run of zeros.
TEST(EvaluationTest, ReducedDetectionsScaleToTheFullImage) {
  const std::vector<std::vector<std::pair<int, int>>> pixels = {{{0, 1}, {1, 1}, {1, 2}}, {{0, 0}, {2, 3}, {1, 3}}};
  ImageDetections d;
  d.masks = torch::zeros({2, 3, 4}, torch::kBool);  // 3 rows, 4 columns
  for (int k = 0; k < 2; ++k) {
    for (auto [y, x] : pixels[k]) d.masks[k][y][x] = true;
  }
  d.boxes = torch::tensor({{1.0f, 0.0f, 3.0f, 2.0f}, {0.0f, 0.0f, 4.0f, 3.0f}});
  d.labels = torch::tensor({2, 1}, torch::kInt64);
  d.scores = torch::tensor({0.5f, 0.25f});
  const std::vector<eval::Detection> dets = ToCocoDetections(d, 7, 2);
  ASSERT_EQ(dets.size(), 2u);
  ASSERT_TRUE(dets[0].bbox.has_value() && dets[0].mask.has_value());
  EXPECT_EQ(dets[0].image_id, 7);
  EXPECT_EQ(dets[0].category_id, 2);
  EXPECT_DOUBLE_EQ(dets[0].bbox->x, 2);
  EXPECT_DOUBLE_EQ(dets[0].bbox->y, 0);
  EXPECT_DOUBLE_EQ(dets[0].bbox->w, 4);
  EXPECT_DOUBLE_EQ(dets[0].bbox->h, 4);
  for (int k = 0; k < 2; ++k) {
    std::vector<uint8_t> full(6 * 8, 0);
    for (auto [y, x] : pixels[k]) {
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) full[(2 * y + dy) * 8 + 2 * x + dx] = 1;
    }
    const eval::Rle expected = eval::RleFromRowMajor(full.data(), 6, 8);
    ASSERT_TRUE(dets[k].mask.has_value());
    EXPECT_EQ(dets[k].mask->height, 6);
    EXPECT_EQ(dets[k].mask->width, 8);
    EXPECT_EQ(dets[k].mask->counts, expected.counts) << k;
  }
  EXPECT_EQ(dets[1].mask->counts.front(), 0u);  // the first pixel is set
}

// A 2400 x 1600 JPEG with a rectangle at x 600..1399, y 400..999 (multiples of 8), labelled by its
// polygon.
datasets::Dataset BigPhoto(const std::string& dir) {
  cv::Mat bgr(1600, 2400, CV_8UC3, cv::Scalar(200, 60, 30));
  cv::rectangle(bgr, cv::Point(600, 400), cv::Point(1399, 999), cv::Scalar(40, 40, 230), cv::FILLED);
  cv::imwrite(dir + "/photo.jpg", bgr);
  datasets::Dataset ds;
  EXPECT_TRUE(ds.AddClass("s", 1, "rectangle").ok());
  datasets::ImageInfo info;
  info.source = "s";
  info.id = "photo";
  info.path = dir + "/photo.jpg";
  info.width = 2400;
  info.height = 1600;
  datasets::Annotation a;
  a.class_id = 1;
  a.polygons = {{{600, 400}, {1400, 400}, {1400, 1000}, {600, 1000}}};
  info.annotations = {a};
  ds.AddImage(info);
  EXPECT_TRUE(ds.Prepare().ok());
  return ds;
}

// The ground truth as the model would give it on the photo decoded at 1/8 (300 x 200: the rectangle at
// x 75..174, y 50..124), scaled back, scores AP 1 against the full-size ground truth: the COCO
// evaluation of reduced images happens in the original coordinates.
TEST(EvaluationTest, ReducedGroundTruthScoresOneAtFullSize) {
  const datasets::Dataset ds = BigPhoto(TempDir("eval_big_gt"));
  absl::StatusOr<eval::CocoDataset> gt = CocoGroundTruth(ds, 0);
  ASSERT_TRUE(gt.ok()) << gt.status();
  ImageDetections d;
  d.masks = torch::zeros({1, 200, 300}, torch::kBool);
  d.masks[0].slice(0, 50, 125).slice(1, 75, 175).fill_(true);
  d.boxes = torch::tensor({{75.0f, 50.0f, 175.0f, 125.0f}});
  d.labels = torch::tensor({1}, torch::kInt64);
  d.scores = torch::tensor({0.9f});
  const std::vector<eval::Detection> dets = ToCocoDetections(d, 0, 8);
  for (eval::IouType type : {eval::IouType::kBbox, eval::IouType::kSegm}) {
    eval::CocoEvaluator ev = eval::CocoEvaluator::Create(*gt, type).value();
    eval::CocoEvalResult r = ev.Evaluate(dets).value();
    EXPECT_NEAR(r.stats[0], 1.0, 1e-12) << eval::IouTypeName(type);
  }
}

// The model on the big photo (input 64 px, so the JPEG decodes at 1/8): detections come back in the
// photo's 2400 x 1600 coordinates.
TEST(EvaluationTest, DetectionsOfAReducedImageAreInFullImageCoordinates) {
  Config c = TinyConfig();
  c.DETECTION_MIN_CONFIDENCE = 0;  // an untrained model: keep whatever it finds
  c.NUM_CLASSES = 2;               // background and the rectangle
  MaskRCNN model = CreateMaskRCNN(c).value();
  const datasets::Dataset ds = BigPhoto(TempDir("eval_big_detect"));
  absl::StatusOr<std::vector<eval::Detection>> dets = DetectInDataset(model, ds, {0}, 1);
  ASSERT_TRUE(dets.ok()) << dets.status();
  ASSERT_FALSE(dets->empty());
  for (const eval::Detection& d : *dets) {
    ASSERT_TRUE(d.bbox.has_value() && d.mask.has_value());
    EXPECT_EQ(d.mask->height, 1600);
    EXPECT_EQ(d.mask->width, 2400);
    EXPECT_GE(d.bbox->x, 0);
    EXPECT_LE(d.bbox->x + d.bbox->w, 2400 + 1e-3);
    EXPECT_LE(d.bbox->y + d.bbox->h, 1600 + 1e-3);
  }
  // The whole evaluation runs on it too.
  absl::StatusOr<ModelEvaluator> ev = ModelEvaluator::Create(ds, 0);
  ASSERT_TRUE(ev.ok()) << ev.status();
  absl::StatusOr<ModelEvaluation> r = ev->Evaluate(model);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->images, 1);
  EXPECT_EQ(r->detections, static_cast<int>(dets->size()));
}

}  // namespace
}  // namespace mrcnn

namespace mrcnn {
namespace {

// The loader's padded batch becomes the prepared images again: at the shapes size the resize is the
// identity, so they are the dataset's own pixels, normalised.
TEST(TrainerDataTest, ModelInputsAreTheDatasetImages) {
  Config c = TinyConfig();
  c.USE_MINI_MASK = false;
  auto ds = std::make_shared<const datasets::Dataset>(Shapes(2, "train"));
  datasets::LoaderOptions lo;
  lo.shuffle = false;
  lo.augment = false;
  lo.num_workers = 1;
  datasets::BatchLoader loader(ds, c, lo);
  loader.StartEpoch(0);
  datasets::Batch b = loader.Next().value();
  std::vector<torch::Tensor> images;
  std::vector<InstanceTargets> targets;
  BatchToModelInputs(b, &images, &targets);
  ASSERT_EQ(images.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    cv::Mat rgb = ds->LoadImage(i).value();
    const torch::Tensor mean = torch::tensor(std::vector<double>(c.MEAN_PIXEL.begin(), c.MEAN_PIXEL.end())).view({3, 1, 1});
    const torch::Tensor std = torch::tensor(std::vector<double>(c.IMAGE_STD.begin(), c.IMAGE_STD.end())).view({3, 1, 1});
    torch::Tensor ref = ((torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kUInt8)
                              .permute({2, 0, 1}).to(torch::kDouble) - mean) / std).to(torch::kFloat);
    ASSERT_EQ(images[i].sizes(), ref.sizes());
    EXPECT_LT((images[i] - ref).abs().max().item<float>(), 1e-3);
    datasets::InstanceMasks m = ds->LoadMask(i).value();
    ASSERT_EQ(targets[i].boxes.size(0), m.size());
    for (int k = 0; k < m.size(); ++k) {
      torch::Tensor mk = targets[i].masks[k];
      torch::Tensor ref_mask = torch::from_blob(m.masks[k].data, {m.height, m.width}, torch::kUInt8);
      EXPECT_TRUE(torch::equal(mk.to(torch::kUInt8), ref_mask)) << k;
      torch::Tensor ys = std::get<0>(mk.nonzero().min(0)), ye = std::get<0>(mk.nonzero().max(0));
      // x1, y1 of the box are the mask's first column and row; x2, y2 one past the last.
      EXPECT_FLOAT_EQ(targets[i].boxes[k][0].item<float>(), ys[1].item<float>());
      EXPECT_FLOAT_EQ(targets[i].boxes[k][1].item<float>(), ys[0].item<float>());
      EXPECT_FLOAT_EQ(targets[i].boxes[k][2].item<float>(), ye[1].item<float>() + 1);
      EXPECT_FLOAT_EQ(targets[i].boxes[k][3].item<float>(), ye[0].item<float>() + 1);
      EXPECT_EQ(targets[i].labels[k].item<int64_t>(), m.class_ids[k]);
    }
  }
}

}  // namespace
}  // namespace mrcnn
