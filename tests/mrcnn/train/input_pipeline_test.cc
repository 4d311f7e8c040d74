// One input pipeline (issue 15): the same image, flips off, reaches the model as the same tensor (size
// and pixels) in training (BatchLoader -> BatchToModelInputs), in evaluation (MakeEvaluationInput, what
// DetectInDataset runs) and in detect (PrepareInferenceImage on the decoded image), for every
// IMAGE_RESIZE_MODE that evaluation uses: none, square, pad64 and torchvision. Crop mode trains on
// seeded random crops whose boxes and masks are cut with the image, and evaluates on pad64.
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/types.h>

#include "datasets/loader.h"
#include "datasets/preprocess.h"
#include "datasets/raster.h"
#include "datasets/shapes.h"
#include "mrcnn/config/config.h"
#include "mrcnn/model/mask_rcnn.h"
#include "mrcnn/train/evaluation.h"
#include "mrcnn/train/trainer.h"

namespace mrcnn {
namespace {

std::shared_ptr<const datasets::Dataset> Shapes(int count, int height, int width, uint64_t seed) {
  return std::make_shared<const datasets::Dataset>(
      datasets::MakeShapesDataset({.count = count, .height = height, .width = width, .seed = seed, .split = "val"}));
}

Config ModeConfig(const std::string& mode, int min_dim, int max_dim) {
  Config c = Config::Preset("shapes").value();
  EXPECT_TRUE(ParseEnum(mode, &c.IMAGE_RESIZE_MODE)) << mode;
  c.IMAGE_MIN_DIM = min_dim;
  c.IMAGE_MAX_DIM = max_dim;
  c.IMAGES_PER_GPU = 2;
  c.USE_MINI_MASK = false;
  return c;
}

// What training gives the model: the loader's batches (no shuffle, no flips) through BatchToModelInputs.
// Images without instances are left out (as the trainer does); `meta` gets those of the others.
void TrainingInputs(std::shared_ptr<const datasets::Dataset> ds, const Config& c, uint64_t seed,
                    std::vector<torch::Tensor>* images, std::vector<InstanceTargets>* targets,
                    std::vector<datasets::ImageMeta>* meta = nullptr) {
  datasets::BatchLoader loader(ds, c, {.shuffle = false, .augment = false, .seed = seed, .num_workers = 1});
  loader.StartEpoch(0);
  while (true) {
    absl::StatusOr<datasets::Batch> b = loader.Next();
    if (absl::IsOutOfRange(b.status())) break;
    ASSERT_TRUE(b.ok()) << b.status();
    BatchToModelInputs(*b, images, targets);
    for (int i = 0; i < b->size(); ++i) {
      if (meta != nullptr && b->boxes[i].size(0) > 0) meta->push_back(b->meta[i]);
    }
  }
}

struct ModeCase {
  std::string mode;
  int min_dim, max_dim;
  int height, width;  // of the dataset's images
};

class SameTensorTest : public ::testing::TestWithParam<ModeCase> {};

TEST_P(SameTensorTest, TrainingEvaluationAndDetectGiveTheModelTheSameTensor) {
  const ModeCase& k = GetParam();
  const Config c = ModeConfig(k.mode, k.min_dim, k.max_dim);
  ASSERT_TRUE(c.Validate().ok()) << c.Validate();
  auto ds = Shapes(4, k.height, k.width, 21);
  std::vector<torch::Tensor> train;
  std::vector<InstanceTargets> targets;
  TrainingInputs(ds, c, 1, &train, &targets);
  ASSERT_EQ(train.size(), 4u) << "every image keeps an instance at these sizes";
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<EvaluationInput> ev = MakeEvaluationInput(*ds, i, c);
    ASSERT_TRUE(ev.ok()) << ev.status();
    EXPECT_EQ(ev->image.sizes(), train[i].sizes()) << k.mode << " image " << i;
    EXPECT_TRUE(torch::equal(ev->image, train[i])) << k.mode << " image " << i;
    const cv::Mat rgb = ds->LoadImage(i).value();
    absl::StatusOr<datasets::PreparedImage> detect = datasets::PrepareInferenceImage(rgb, c);
    ASSERT_TRUE(detect.ok()) << detect.status();
    EXPECT_TRUE(torch::equal(datasets::ImageTensor(detect->image), train[i])) << k.mode << " image " << i;
  }
  // And the network's input itself: the model pads the same tensor the same way.
  absl::StatusOr<MaskRCNN> model = CreateMaskRCNN(c);
  ASSERT_TRUE(model.ok()) << model.status();
  (*model)->eval();
  absl::StatusOr<EvaluationInput> ev = MakeEvaluationInput(*ds, 0, c);
  ASSERT_TRUE(ev.ok());
  const InferenceOutput out = (*model)->Infer({ev->image}, {ev->geometry});
  EXPECT_TRUE(torch::equal(out.batch.images, BatchImages({train[0]}, (*model)->transform).images)) << k.mode;
  // Detections come back in the dataset image's own pixels.
  EXPECT_EQ(out.detections[0].masks.size(1), k.height) << k.mode;
  EXPECT_EQ(out.detections[0].masks.size(2), k.width) << k.mode;
}

INSTANTIATE_TEST_SUITE_P(EvaluationModes, SameTensorTest,
                         ::testing::Values(ModeCase{"none", 64, 128, 70, 90}, ModeCase{"square", 64, 128, 70, 150},
                                           ModeCase{"square", 64, 128, 200, 100},
                                           ModeCase{"pad64", 64, 128, 50, 90},
                                           ModeCase{"torchvision", 80, 120, 70, 150},
                                           ModeCase{"torchvision", 80, 120, 150, 100}),
                         [](const auto& info) { return info.param.mode + "_" + std::to_string(info.index); });

// The case: under the torchvision preset a 333 x 500 image was 800 x 1202 in training and
// 799 x 1201 at evaluation. torchvision's own GeneralizedRCNNTransform (0.14) makes it 799 x 1201
// (image_sizes, checked with Debian's python3); now training and evaluation both do.
TEST(SameTensor, TorchvisionPresetMakes333x500Into799x1201Everywhere) {
  Config c = Config::Preset("torchvision").value();
  c.NUM_CLASSES = 4;
  c.IMAGES_PER_GPU = 1;
  auto ds = Shapes(1, 333, 500, 3);
  std::vector<torch::Tensor> train;
  std::vector<InstanceTargets> targets;
  TrainingInputs(ds, c, 1, &train, &targets);
  ASSERT_EQ(train.size(), 1u);
  EXPECT_EQ(train[0].sizes(), (torch::IntArrayRef{3, 799, 1201}));
  absl::StatusOr<EvaluationInput> ev = MakeEvaluationInput(*ds, 0, c);
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_TRUE(torch::equal(ev->image, train[0]));
  // torchvision pads the batch to 800 x 1216 (size_divisible 32).
  const TransformOptions t = TransformOptionsFromConfig(c).value();
  EXPECT_EQ(BatchImages({train[0]}, t).images.sizes(), (torch::IntArrayRef{1, 3, 800, 1216}));
}

// Crop mode: matterport's resize_image "crop" (scale up to IMAGE_MIN_DIM if needed, then a random
// IMAGE_MIN_DIM square), training only.
TEST(CropMode, TrainsOnSeededRandomCropsWithTheirBoxesAndMasks) {
  Config c = ModeConfig("crop", 64, 64);
  ASSERT_TRUE(c.Validate().ok()) << c.Validate();
  auto ds = Shapes(6, 96, 150, 8);
  std::vector<torch::Tensor> a, b, other;
  std::vector<InstanceTargets> ta, tb, tother;
  std::vector<datasets::ImageMeta> ma, mb, mother;
  TrainingInputs(ds, c, 3, &a, &ta, &ma);
  TrainingInputs(ds, c, 3, &b, &tb, &mb);
  TrainingInputs(ds, c, 4, &other, &tother, &mother);
  ASSERT_GE(a.size(), 2u) << "most crops keep an instance";
  ASSERT_EQ(b.size(), a.size());
  ASSERT_EQ(ma.size(), a.size());
  int moved = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    // Reproducible from the seed.
    EXPECT_TRUE(torch::equal(a[i], b[i])) << i;
    EXPECT_TRUE(torch::equal(ta[i].boxes, tb[i].boxes)) << i;
    EXPECT_TRUE(torch::equal(ta[i].masks, tb[i].masks)) << i;
    EXPECT_EQ(ma[i].crop, mb[i].crop) << i;
    for (const datasets::ImageMeta& o : mother) moved += o.image_index == ma[i].image_index && o.crop != ma[i].crop;
    // 96 x 150 is at least IMAGE_MIN_DIM on both sides: scale 1, a 64 x 64 crop inside the image.
    EXPECT_EQ(ma[i].scale, 1.0);
    EXPECT_EQ(a[i].sizes(), (torch::IntArrayRef{3, 64, 64}));
    const std::array<int, 4> crop = ma[i].crop;  // y, x, h, w
    EXPECT_EQ(crop[2], 64);
    EXPECT_EQ(crop[3], 64);
    EXPECT_GE(crop[0], 0);
    EXPECT_LE(crop[0], 96 - 64);
    EXPECT_GE(crop[1], 0);
    EXPECT_LE(crop[1], 150 - 64);
    // The image is the original's crop, pixel for pixel (normalised as every prepared image).
    const cv::Mat rgb = ds->LoadImage(ma[i].image_index).value();
    const torch::Tensor whole = datasets::ImageTensor(datasets::NormaliseImage(rgb, c));
    EXPECT_TRUE(torch::equal(a[i], whole.slice(1, crop[0], crop[0] + 64).slice(2, crop[1], crop[1] + 64))) << i;
    // Each mask is its instance's full mask cut by the same crop (instances the crop misses are
    // dropped), and each box is its mask's box.
    const datasets::InstanceMasks m = ds->LoadMask(ma[i].image_index).value();
    int kept = 0;
    for (int g = 0; g < m.size(); ++g) {
      const cv::Mat cut = m.masks[g](cv::Rect(crop[1], crop[0], 64, 64)).clone();
      const std::array<int, 4> box = datasets::MaskBox(cut);
      if (box[2] <= box[0]) continue;
      ASSERT_LT(kept, ta[i].masks.size(0)) << i;
      const torch::Tensor expected = torch::from_blob(cut.data, {64, 64}, torch::kUInt8);
      EXPECT_TRUE(torch::equal(ta[i].masks[kept].to(torch::kUInt8), expected)) << i << " " << g;
      for (int j = 0; j < 4; ++j) EXPECT_EQ(ta[i].boxes[kept][j].item<float>(), box[j]) << i << " " << g;
      ++kept;
    }
    EXPECT_EQ(kept, ta[i].boxes.size(0)) << i;
  }
  EXPECT_GT(moved, 0) << "another seed should move some crop";

  // Evaluation and detect run on whole pad64 images at the same scale: 96 x 150 padded to 128 x 192,
  // centred (by hand: 32 rows, 16 above; 42 columns, 21 left).
  absl::StatusOr<EvaluationInput> ev = MakeEvaluationInput(*ds, 0, c);
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->image.sizes(), (torch::IntArrayRef{3, 128, 192}));
  EXPECT_EQ(ev->geometry.window, (std::array<int64_t, 4>{16, 21, 112, 171}));
  EXPECT_EQ(datasets::InferenceResizeMode(c), ResizeMode::kPad64);

  // The model takes crop-mode configs and trains on the crops.
  absl::StatusOr<MaskRCNN> model = CreateMaskRCNN(c);
  ASSERT_TRUE(model.ok()) << model.status();
  (*model)->train();
  const LossMap losses = (*model)->Losses(a, ta);
  const torch::Tensor total = MaskRCNNImpl::TotalLoss(losses);
  EXPECT_TRUE(std::isfinite(total.item<double>()));
  total.backward();
  (*model)->eval();
  const std::vector<ImageDetections> d = (*model)->Detect({ev->image}, {ev->geometry});
  EXPECT_EQ(d[0].masks.size(1), 96);
  EXPECT_EQ(d[0].masks.size(2), 150);
}

}  // namespace
}  // namespace mrcnn
