// Property: Config::Validate knows every constraint of the data pipeline and the model. Configs drawn
// at random (seeded) from ranges over the sweepable keys, out-of-range values included, either fail
// validation with every problem naming a config key, or build the model and train one step on
// synthetic shapes (then detect on an image) without an error or an exception. Never fail later.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/strings/str_split.h"
#include "datasets/dataset.h"
#include "datasets/shapes.h"
#include "gtest/gtest.h"
#include "mrcnn/config/config.h"
#include "mrcnn/model/mask_rcnn.h"
#include "mrcnn/train/trainer.h"
#include "nlohmann/json.hpp"

namespace mrcnn {
namespace {

using Json = nlohmann::json;

// Uniform in [0, 1) from the generator's raw output (the std:: distributions differ between
// standard libraries; this sequence does not).
double Uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// One key's range: values in range (drawn most of the time) and values out of range (drawn with
// probability `out_p`). Combinations of in-range values can be invalid too (POST_NMS_ROIS_TRAINING
// above PRE_NMS_LIMIT with global selection, IMAGE_MIN_DIM above IMAGE_MAX_DIM, a square side that is
// not a multiple of 64, ...): those are the constraints the model used to find on its own.
struct Range {
  std::string key;
  std::vector<Json> in_range;
  std::vector<Json> out_of_range;
};

std::vector<Json> Ints(int lo, int hi, int step = 1) {
  std::vector<Json> v;
  for (int x = lo; x <= hi; x += step) v.push_back(x);
  return v;
}

// The spec's ranges. Image sizes stay small (64 to 128 px) and the network narrow so that a draw
// trains in well under a second on one thread.
const std::vector<Range>& Ranges() {
  static const auto* ranges = new std::vector<Range>{
      {"BACKBONE", {"resnet18", "resnet34", "resnet50"}, {"resnet152", "vgg16"}},
      {"BACKBONE_STRIDES", {Json::array({4, 8, 16, 32, 64})}, {Json::array({4, 8, 16, 32}), Json::array({8, 16, 32, 64, 128})}},
      {"RPN_ANCHOR_SCALES",
       {Json::array({8, 16, 32, 64, 128}), Json::array({4, 8, 16, 32, 64}), Json::array({8, 16, 24, 32, 48})},
       {Json::array({8, 16, 32, 64}), Json::array({8, 16, 32, 64, 0})}},
      {"RPN_ANCHOR_RATIOS",
       {Json::array({0.5, 1, 2}), Json::array({1}), Json::array({0.25, 1, 4})},
       {Json::array(), Json::array({1, -2})}},
      {"RPN_ANCHOR_STRIDE", Ints(1, 4), {0, -1}},
      {"RPN_ANCHOR_CONVENTION", {"matterport", "torchvision"}, {"detectron"}},
      {"PROPOSAL_SELECTION", {"global", "per_level"}, {"random"}},
      {"RPN_NMS_THRESHOLD", {0.3, 0.5, 0.7, 1.0}, {-0.1, 1.5}},
      {"RPN_TRAIN_ANCHORS_PER_IMAGE", {1, 16, 64, 256}, {0, -4}},
      {"PRE_NMS_LIMIT", Ints(20, 1500, 70), {0, -100}},
      {"PRE_NMS_LIMIT_INFERENCE", Ints(20, 1500, 70), {0}},
      {"POST_NMS_ROIS_TRAINING", Ints(10, 1200, 70), {0, -5}},
      {"POST_NMS_ROIS_INFERENCE", Ints(10, 1200, 70), {0}},
      {"RPN_POSITIVE_IOU", {0.5, 0.7, 0.9}, {1.2}},
      {"RPN_NEGATIVE_IOU", {0.1, 0.3, 0.6}, {-0.3}},
      {"RPN_POSITIVE_FRACTION", {0.25, 0.5, 1.0}, {1.5}},
      {"USE_MINI_MASK", {true, false}, {}},
      {"MINI_MASK_SHAPE", {Json::array({56, 56}), Json::array({28, 28}), Json::array({8, 12})},
       {Json::array({0, 56}), Json::array({56})}},
      {"TRAIN_ROIS_PER_IMAGE", {1, 8, 16, 64}, {0, -2}},
      {"ROI_POSITIVE_RATIO", {0.1, 0.33, 1.0}, {0.0, 1.2}},
      {"ROI_POSITIVE_IOU", {0.5, 0.7}, {1.5}},
      {"ROI_NEGATIVE_IOU", {0.1, 0.5}, {0.8}},
      {"POOL_SIZE", {2, 4, 7}, {0}},
      {"MASK_POOL_SIZE", {7}, {0}},
      {"MASK_SHAPE", {Json::array({14, 14})}, {Json::array({28, 28})}},
      {"MAX_GT_INSTANCES", {1, 3, 10}, {0}},
      {"DETECTION_MAX_INSTANCES", {1, 5, 20}, {0}},
      {"DETECTION_MIN_CONFIDENCE", {0.0, 0.05, 0.7}, {1.1}},
      {"DETECTION_NMS_THRESHOLD", {0.3, 0.5}, {-1}},
      {"ROI_ALIGN_SAMPLING_RATIO", {-1, 0, 2}, {}},
      {"ROI_ALIGN_ALIGNED", {true, false}, {}},
      {"IMAGE_RESIZE_MODE", {"none", "square", "pad64", "crop", "torchvision"}, {"stretch"}},
      {"IMAGE_MIN_DIM", {32, 64, 100, 128}, {0}},
      {"IMAGE_MAX_DIM", {64, 96, 128}, {-64}},
      {"IMAGE_MIN_SCALE", {0.0, 1.0, 1.5}, {-1}},
      {"IMAGE_CHANNEL_COUNT", {3}, {1, 4}},
      {"RPN_BBOX_STD_DEV", {Json::array({0.1, 0.1, 0.2, 0.2}), Json::array({1, 1, 1, 1})}, {Json::array({0.1, 0.1, 0.2})}},
      {"BBOX_STD_DEV", {Json::array({0.1, 0.1, 0.2, 0.2})}, {Json::array({0.1, 0.1, 0.2, 0})}},
      {"IMAGES_PER_GPU", {1, 2}, {0}},
      {"TRAIN_BN", {true, false}, {}},
      {"OPTIMIZER", {"sgd", "adamw"}, {"adam"}},
      {"LEARNING_RATE_SCHEDULE", {"constant", "step", "cosine"}, {"linear"}},
      {"LEARNING_RATE_STEPS", {Json::array(), Json::array({1})}, {Json::array({2, 1})}},
      {"WARMUP_STEPS", {0, 1, 3}, {-1}},
      {"GRADIENT_CLIP_NORM", {0.0, 5.0}, {-1.0}},
  };
  return *ranges;
}

// A narrow network on small images: the shapes preset made cheap.
Config Base() {
  Config c = Config::Preset("shapes").value();
  c.NAME = "property";
  c.BACKBONE_BASE_WIDTH = 8;
  c.TOP_DOWN_PYRAMID_SIZE = 16;
  c.FPN_CLASSIF_FC_LAYERS_SIZE = 32;
  c.MASK_HEAD_CHANNELS = 8;
  c.STEPS_PER_EPOCH = 1;
  c.VALIDATION_STEPS = 0;
  return c;
}

Json Draw(std::mt19937_64& rng, double out_p) {
  Json point = Json::object();
  for (const Range& r : Ranges()) {
    const bool out = !r.out_of_range.empty() && Uniform01(rng) < out_p;
    const std::vector<Json>& values = out ? r.out_of_range : r.in_range;
    point[r.key] = values[static_cast<size_t>(Uniform01(rng) * values.size()) % values.size()];
  }
  return point;
}

bool StartsWithKey(const std::string& problem) {
  const std::vector<std::string> fields = Config::FieldNames();
  const size_t colon = problem.find(':');
  return colon != std::string::npos &&
         std::binary_search(fields.begin(), fields.end(), problem.substr(0, colon));
}

// Apply's error (one problem, after "draw: ") names its key.
void ExpectSetErrorNamesAKey(const std::string& message) {
  const std::string prefix = "draw: ";
  ASSERT_EQ(message.rfind(prefix, 0), 0u) << message;
  EXPECT_TRUE(StartsWithKey(message.substr(prefix.size()))) << "no config key first: " << message;
}

// Every problem of Validate's error ("KEY: reason; KEY: reason") starts with a config key.
void ExpectEveryProblemNamesAKey(const std::string& message) {
  for (const std::string& problem : std::vector<std::string>(absl::StrSplit(message, "; "))) {
    EXPECT_TRUE(StartsWithKey(problem)) << "problem does not start with a config key: '" << problem << "'";
  }
}

TEST(ValidatePropertyTest, EveryDrawnConfigIsRefusedNamingAKeyOrTrainsAndDetects) {
  torch::set_num_threads(1);
  std::mt19937_64 rng(20261204);
  // Shapes at 48 x 80: not square, smaller than IMAGE_MIN_DIM, so every resize mode does some work.
  const datasets::Dataset train =
      datasets::MakeShapesDataset({.count = 2, .height = 48, .width = 80, .seed = 11, .split = "train"});
  const torch::Tensor image = torch::randint(0, 256, {3, 48, 80}, torch::kByte);
  constexpr int kDraws = 300;
  int refused = 0, trained = 0;
  for (int i = 0; i < kDraws; ++i) {
    // A third of the draws stay in range, so that combinations are what gets tested there.
    const Json point = Draw(rng, i % 3 == 0 ? 0.0 : 0.02);
    SCOPED_TRACE(::testing::Message() << "draw " << i << ": " << point.dump());
    Config c = Base();
    if (absl::Status s = c.Apply(point, "draw"); !s.ok()) {
      ++refused;
      ExpectSetErrorNamesAKey(std::string(s.message()));
      continue;
    }
    if (absl::Status s = c.Validate(); !s.ok()) {
      ++refused;
      ExpectEveryProblemNamesAKey(std::string(s.message()));
      continue;
    }
    // Valid: nothing later may fail.
    try {
      absl::StatusOr<MaskRCNN> model = CreateMaskRCNN(c);
      ASSERT_TRUE(model.ok()) << "valid config, but the model refuses it: " << model.status();
      absl::StatusOr<Trainer> trainer = Trainer::Create(*model, c);
      ASSERT_TRUE(trainer.ok()) << "valid config, but the trainer refuses it: " << trainer.status();
      TrainOptions o;
      o.layers = "all";
      o.epochs = 1;
      o.coco_eval = false;
      o.num_workers = 1;
      int steps = 0;
      o.on_step = [&steps](const StepReport& r) {
        ++steps;
        ASSERT_EQ(r.losses.count("loss"), 1u);
        EXPECT_TRUE(std::isfinite(r.losses.at("loss"))) << r.losses.at("loss");
      };
      const absl::Status t = trainer->Train(train, train, o);
      ASSERT_TRUE(t.ok()) << "valid config, but training fails: " << t;
      EXPECT_EQ(steps, 1);
      MaskRCNN& m = trainer->model();
      m->eval();
      torch::NoGradGuard no_grad;
      const InferenceOutput out = m->Infer({image});
      EXPECT_EQ(out.detections.size(), 1u);
      ++trained;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "valid config, but it throws: " << e.what();
    }
  }
  // Both outcomes happen, so the property is tested both ways.
  EXPECT_GE(refused, 40);
  EXPECT_GE(trained, 40);
  std::cout << "refused " << refused << ", trained " << trained << " of " << kDraws << " draws\n";
}

}  // namespace
}  // namespace mrcnn
