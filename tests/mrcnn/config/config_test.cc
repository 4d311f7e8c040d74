#include "mrcnn/config/config.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mrcnn/config/flags.h"

namespace mrcnn {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + name;
}

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = TempPath(name);
  std::ofstream(path) << text;
  return path;
}

// A valid config to mutate in validation tests.
Config Valid() { return Config::Preset("shapes").value(); }

std::string ErrorOf(const Config& c) {
  absl::Status s = c.Validate();
  EXPECT_FALSE(s.ok());
  return std::string(s.message());
}

// Expected values typed from matterport's mrcnn/config.py (the tutorial's Config class).
TEST(ConfigTest, DefaultsAreMatterports) {
  Config c;
  EXPECT_EQ(c.GPU_COUNT, 1);
  EXPECT_EQ(c.IMAGES_PER_GPU, 2);
  EXPECT_EQ(c.STEPS_PER_EPOCH, 1000);
  EXPECT_EQ(c.VALIDATION_STEPS, 50);
  EXPECT_EQ(c.BACKBONE, Backbone::kResNet101);
  EXPECT_EQ(c.BACKBONE_STRIDES, (std::vector<int>{4, 8, 16, 32, 64}));
  EXPECT_EQ(c.FPN_CLASSIF_FC_LAYERS_SIZE, 1024);
  EXPECT_EQ(c.TOP_DOWN_PYRAMID_SIZE, 256);
  EXPECT_EQ(c.NUM_CLASSES, 1);
  EXPECT_EQ(c.RPN_ANCHOR_SCALES, (std::vector<int>{32, 64, 128, 256, 512}));
  EXPECT_EQ(c.RPN_ANCHOR_RATIOS, (std::vector<double>{0.5, 1, 2}));
  EXPECT_EQ(c.RPN_ANCHOR_STRIDE, 1);
  EXPECT_DOUBLE_EQ(c.RPN_NMS_THRESHOLD, 0.7);
  EXPECT_EQ(c.RPN_TRAIN_ANCHORS_PER_IMAGE, 256);
  EXPECT_EQ(c.PRE_NMS_LIMIT, 6000);
  EXPECT_EQ(c.POST_NMS_ROIS_TRAINING, 2000);
  EXPECT_EQ(c.POST_NMS_ROIS_INFERENCE, 1000);
  EXPECT_TRUE(c.USE_MINI_MASK);
  EXPECT_EQ(c.MINI_MASK_SHAPE, (std::vector<int>{56, 56}));
  EXPECT_EQ(c.IMAGE_RESIZE_MODE, ResizeMode::kSquare);
  EXPECT_EQ(c.IMAGE_MIN_DIM, 800);
  EXPECT_EQ(c.IMAGE_MAX_DIM, 1024);
  EXPECT_DOUBLE_EQ(c.IMAGE_MIN_SCALE, 0);
  EXPECT_EQ(c.IMAGE_CHANNEL_COUNT, 3);
  EXPECT_EQ(c.IMAGE_MAX_PIXELS, 100000000);  // datasets::kDefaultImageMaxPixels, README "Datasets"
  EXPECT_EQ(c.MEAN_PIXEL, (std::vector<double>{123.7, 116.8, 103.9}));
  EXPECT_EQ(c.TRAIN_ROIS_PER_IMAGE, 200);
  EXPECT_DOUBLE_EQ(c.ROI_POSITIVE_RATIO, 0.33);
  EXPECT_EQ(c.POOL_SIZE, 7);
  EXPECT_EQ(c.MASK_POOL_SIZE, 14);
  EXPECT_EQ(c.MASK_SHAPE, (std::vector<int>{28, 28}));
  EXPECT_EQ(c.MAX_GT_INSTANCES, 100);
  EXPECT_EQ(c.RPN_BBOX_STD_DEV, (std::vector<double>{0.1, 0.1, 0.2, 0.2}));
  EXPECT_EQ(c.BBOX_STD_DEV, (std::vector<double>{0.1, 0.1, 0.2, 0.2}));
  EXPECT_EQ(c.DETECTION_MAX_INSTANCES, 100);
  EXPECT_DOUBLE_EQ(c.DETECTION_MIN_CONFIDENCE, 0.7);
  EXPECT_DOUBLE_EQ(c.DETECTION_NMS_THRESHOLD, 0.3);
  EXPECT_DOUBLE_EQ(c.LEARNING_RATE, 0.001);
  EXPECT_DOUBLE_EQ(c.LEARNING_MOMENTUM, 0.9);
  EXPECT_DOUBLE_EQ(c.WEIGHT_DECAY, 0.0001);
  EXPECT_EQ(c.LOSS_WEIGHTS.size(), 5u);
  for (const auto& [name, w] : c.LOSS_WEIGHTS) EXPECT_DOUBLE_EQ(w, 1.0) << name;
  EXPECT_TRUE(c.USE_RPN_ROIS);
  EXPECT_FALSE(c.TRAIN_BN);
  EXPECT_DOUBLE_EQ(c.GRADIENT_CLIP_NORM, 5.0);
  // Derived values.
  EXPECT_EQ(c.BATCH_SIZE(), 2);
  EXPECT_EQ(c.IMAGE_SHAPE(), (std::vector<int>{1024, 1024, 3}));
  // matterport's placeholder NUM_CLASSES = 1 must be overridden before use.
  EXPECT_THAT(ErrorOf(c), HasSubstr("NUM_CLASSES: must be >= 2"));
  c.NUM_CLASSES = 2;
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
}

TEST(ConfigTest, DerivedValuesFollowMatterport) {
  Config c = Valid();
  c.GPU_COUNT = 3;
  c.IMAGES_PER_GPU = 5;
  EXPECT_EQ(c.BATCH_SIZE(), 15);
  c.IMAGE_RESIZE_MODE = ResizeMode::kCrop;
  c.IMAGE_MIN_DIM = 64;
  c.IMAGE_CHANNEL_COUNT = 1;
  EXPECT_EQ(c.IMAGE_SHAPE(), (std::vector<int>{64, 64, 1}));
  c.IMAGE_RESIZE_MODE = ResizeMode::kSquare;
  EXPECT_EQ(c.IMAGE_SHAPE(), (std::vector<int>{128, 128, 1}));
}

// The torchvision preset equals the settings read off torchvision's own model (see the generator).
TEST(ConfigTest, TorchvisionPresetMatchesTorchvisionModel) {
  std::ifstream in("tests/testdata/config/torchvision_defaults.json");
  ASSERT_TRUE(in) << "missing tests/testdata/config/torchvision_defaults.json";
  const Json expected = Json::parse(in);
  const Config c = Config::Preset("torchvision").value();
  const Json actual = c.ToJson();
  int checked = 0;
  for (auto it = expected.begin(); it != expected.end(); ++it) {
    if (it.key().front() == '_') continue;
    ASSERT_TRUE(actual.contains(it.key())) << it.key();
    const Json& a = actual[it.key()];
    const Json& e = it.value();
    if (e.is_array()) {
      ASSERT_EQ(a.size(), e.size()) << it.key();
      for (size_t i = 0; i < e.size(); ++i) {
        EXPECT_NEAR(a[i].get<double>(), e[i].get<double>(), 1e-9) << it.key() << "[" << i << "]";
      }
    } else {
      EXPECT_NEAR(a.get<double>(), e.get<double>(), 1e-9) << it.key();
    }
    ++checked;
  }
  EXPECT_GE(checked, 30);
  EXPECT_EQ(c.BACKBONE, Backbone::kResNet50);
  EXPECT_EQ(c.IMAGE_RESIZE_MODE, ResizeMode::kTorchvision);
  EXPECT_EQ(c.PROPOSAL_SELECTION, ProposalSelection::kPerLevel);
  EXPECT_EQ(c.RPN_ANCHOR_CONVENTION, AnchorConvention::kTorchvision);
  EXPECT_FALSE(c.ROI_ALIGN_ALIGNED);
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
}

TEST(ConfigTest, ShapesPresetIsValidAndSmall) {
  const Config c = Config::Preset("shapes").value();
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
  EXPECT_EQ(c.NUM_CLASSES, 4);
  EXPECT_EQ(c.IMAGE_SHAPE(), (std::vector<int>{128, 128, 3}));
  EXPECT_EQ(c.TRAIN_ROIS_PER_IMAGE, 32);
  EXPECT_EQ(c.BACKBONE, Backbone::kResNet18);
  EXPECT_LT(c.BACKBONE_BASE_WIDTH, 64);
}

TEST(ConfigTest, PrecisionIsFp32InEveryPresetAndSettable) {
  for (const std::string& name : Config::PresetNames()) {
    EXPECT_EQ(Config::Preset(name).value().PRECISION, Precision::kFp32) << name;
  }
  Config c = Config::Preset("shapes").value();
  ASSERT_TRUE(c.Set("PRECISION", "bf16").ok());
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
  EXPECT_EQ(c.ToJson()["PRECISION"], "bf16");
  EXPECT_NE(c.Hash(), Config::Preset("shapes").value().Hash());  // fp32 and bf16 twins are distinct trials
}

TEST(ConfigTest, UnknownPresetIsRejected) {
  absl::StatusOr<Config> c = Config::Preset("coco");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("unknown preset 'coco'"));
}

TEST(ConfigTest, EveryValidationError) {
  struct Case {
    std::string key, value, expected;
  };
  const std::vector<Case> cases = {
      {"RPN_ANCHOR_SCALES", "8,16,32,64", "RPN_ANCHOR_SCALES: has 4 scales but BACKBONE_STRIDES has 5"},
      {"RPN_ANCHOR_SCALES", "8,16,0,64,128", "RPN_ANCHOR_SCALES: scales must be > 0"},
      {"RPN_ANCHOR_RATIOS", "0.5,0,2", "RPN_ANCHOR_RATIOS: ratios must be > 0, got 0"},
      {"RPN_ANCHOR_RATIOS", "-1", "RPN_ANCHOR_RATIOS: ratios must be > 0, got -1"},
      {"RPN_ANCHOR_RATIOS", "[]", "RPN_ANCHOR_RATIOS: must not be empty"},
      {"RPN_ANCHOR_STRIDE", "0", "RPN_ANCHOR_STRIDE: must be > 0"},
      {"MINI_MASK_SHAPE", "0,56", "MINI_MASK_SHAPE: must be two positive integers"},
      {"MINI_MASK_SHAPE", "56", "MINI_MASK_SHAPE: must be two positive integers"},
      {"MASK_SHAPE", "14,14", "MASK_SHAPE: must be [2 * MASK_POOL_SIZE"},
      {"NUM_CLASSES", "1", "NUM_CLASSES: must be >= 2"},
      {"RPN_NMS_THRESHOLD", "1.5", "RPN_NMS_THRESHOLD: must be in [0, 1], got 1.5"},
      {"DETECTION_MIN_CONFIDENCE", "-0.1", "DETECTION_MIN_CONFIDENCE: must be in [0, 1]"},
      {"DETECTION_NMS_THRESHOLD", "2", "DETECTION_NMS_THRESHOLD: must be in [0, 1]"},
      {"RPN_POSITIVE_IOU", "1.01", "RPN_POSITIVE_IOU: must be in [0, 1]"},
      {"RPN_NEGATIVE_IOU", "0.8", "RPN_NEGATIVE_IOU: must be <= RPN_POSITIVE_IOU"},
      {"ROI_NEGATIVE_IOU", "0.6", "ROI_NEGATIVE_IOU: must be <= ROI_POSITIVE_IOU"},
      {"ROI_POSITIVE_RATIO", "0", "ROI_POSITIVE_RATIO: must be in (0, 1]"},
      {"IMAGE_MIN_DIM", "256", "IMAGE_MIN_DIM: must be <= IMAGE_MAX_DIM (128), got 256"},
      {"IMAGE_MAX_DIM", "100", "IMAGE_MAX_DIM: must be a multiple of 64 in square mode"},
      {"BACKBONE_STRIDES", "4,8,16,32,128", "BACKBONE_STRIDES: must be [4,8,16,32,64]"},
      {"BACKBONE_STRIDES", "8,4,16,32,64", "BACKBONE_STRIDES: must be [4,8,16,32,64]"},
      // The backbone makes all of P2..P6; a subset used to pass here and fail in the model.
      {"BACKBONE_STRIDES", "4,8,16,32", "BACKBONE_STRIDES: must be [4,8,16,32,64]"},
      {"IMAGE_CHANNEL_COUNT", "1", "IMAGE_CHANNEL_COUNT: must be 3"},
      // Global proposal selection keeps at most the pre-NMS limit (the shapes preset: 1000 / 500).
      {"POST_NMS_ROIS_TRAINING", "1001",
       "POST_NMS_ROIS_TRAINING: must be <= PRE_NMS_LIMIT (1000) with PROPOSAL_SELECTION=global, got 1001"},
      {"POST_NMS_ROIS_INFERENCE", "501",
       "POST_NMS_ROIS_INFERENCE: must be <= PRE_NMS_LIMIT_INFERENCE (500) with PROPOSAL_SELECTION=global"},
      {"MEAN_PIXEL", "1,2", "MEAN_PIXEL: has 2 values but IMAGE_CHANNEL_COUNT is 3"},
      {"IMAGE_STD", "1,0,1", "IMAGE_STD: values must be > 0"},
      {"RPN_BBOX_STD_DEV", "0.1,0.1,0.2", "RPN_BBOX_STD_DEV: must be 4 positive numbers"},
      {"BBOX_STD_DEV", "0.1,0.1,0.2,-0.2", "BBOX_STD_DEV: must be 4 positive numbers"},
      {"LEARNING_RATE", "0", "LEARNING_RATE: must be > 0"},
      {"LEARNING_MOMENTUM", "1", "LEARNING_MOMENTUM: must be in [0, 1)"},
      {"WEIGHT_DECAY", "-1e-4", "WEIGHT_DECAY: must be >= 0"},
      {"GRADIENT_CLIP_NORM", "-1", "GRADIENT_CLIP_NORM: must be >= 0"},
      {"LOSS_WEIGHTS", "rpn_class_loss=1,mask_loss=2", "LOSS_WEIGHTS: unknown loss 'mask_loss'"},
      {"LOSS_WEIGHTS", "rpn_class_loss=-1", "LOSS_WEIGHTS: weight of rpn_class_loss must be >= 0"},
      {"GPU_COUNT", "0", "GPU_COUNT: must be > 0"},
      {"IMAGES_PER_GPU", "-2", "IMAGES_PER_GPU: must be > 0"},
      {"TRAIN_ROIS_PER_IMAGE", "0", "TRAIN_ROIS_PER_IMAGE: must be > 0"},
      {"PRE_NMS_LIMIT", "0", "PRE_NMS_LIMIT: must be > 0"},
      {"POST_NMS_ROIS_TRAINING", "0", "POST_NMS_ROIS_TRAINING: must be > 0"},
      {"POST_NMS_ROIS_INFERENCE", "-5", "POST_NMS_ROIS_INFERENCE: must be > 0"},
      {"DETECTION_MAX_INSTANCES", "0", "DETECTION_MAX_INSTANCES: must be > 0"},
      {"MAX_GT_INSTANCES", "0", "MAX_GT_INSTANCES: must be > 0"},
      {"NAME", "", "NAME: must not be empty"},
      // NAME names run folders and checkpoint files: nothing that leaves the folder or is too long.
      {"NAME", "../../../x", "NAME: '../../../x' cannot name a folder"},
      {"NAME", "a/b", "NAME: 'a/b' cannot name a folder"},
      {"NAME", std::string(300, 'n'), "NAME: is 300 bytes long; at most 100"},
      // 2 * MASK_POOL_SIZE overflowed int (found by the config fuzzers).
      {"MASK_POOL_SIZE", "2000000000", "MASK_SHAPE: must be [2 * MASK_POOL_SIZE, 2 * MASK_POOL_SIZE] = [4000000000,"},
      {"SEED", "-1", "SEED: must be >= 0"},
      {"BACKBONE_BASE_WIDTH", "0", "BACKBONE_BASE_WIDTH: must be > 0"},
      {"IMAGE_MAX_PIXELS", "0", "IMAGE_MAX_PIXELS: must be in [1, 1073741824]"},
      {"IMAGE_MAX_PIXELS", "1073741825", "IMAGE_MAX_PIXELS: must be in [1, 1073741824]"},
  };
  for (const Case& tc : cases) {
    Config c = Valid();
    ASSERT_TRUE(c.Set(tc.key, tc.value).ok()) << tc.key << "=" << tc.value << ": " << c.Set(tc.key, tc.value);
    EXPECT_THAT(ErrorOf(c), HasSubstr(tc.expected)) << tc.key << "=" << tc.value;
  }
}

TEST(ConfigTest, StringValuesMustBeUtf8) {
  Config c = Valid();
  const absl::Status s = c.Set("NAME", "bad\xff");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "NAME: not valid UTF-8 (byte 0xff at offset 3)");
  EXPECT_EQ(c.NAME, Valid().NAME);  // unchanged
  c.NAME = "caf\xc3\xa9";  // valid UTF-8 names are fine, and hash
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
  EXPECT_FALSE(c.Hash().empty());
  c.NAME = "caf\xe9";  // Latin-1 set directly, not through Set: Validate catches it
  EXPECT_THAT(ErrorOf(c), HasSubstr("NAME: is not valid UTF-8"));
}

TEST(ConfigTest, ModeSpecificImageChecks) {
  Config c = Valid();
  c.IMAGE_RESIZE_MODE = ResizeMode::kPad64;
  c.IMAGE_MIN_DIM = 100;
  EXPECT_THAT(ErrorOf(c), HasSubstr("IMAGE_MIN_DIM: must be a multiple of 64 in pad64 mode"));
  c.IMAGE_RESIZE_MODE = ResizeMode::kCrop;
  EXPECT_THAT(ErrorOf(c), HasSubstr("IMAGE_MIN_DIM: must be a multiple of 64 in crop mode"));
  c.IMAGE_RESIZE_MODE = ResizeMode::kTorchvision;  // pads to a multiple of the largest stride at batching time
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
}

TEST(ConfigTest, ValidationListsEveryProblem) {
  Config c = Valid();
  c.NUM_CLASSES = 0;
  c.RPN_ANCHOR_STRIDE = 0;
  const std::string msg = ErrorOf(c);
  EXPECT_THAT(msg, HasSubstr("NUM_CLASSES"));
  EXPECT_THAT(msg, HasSubstr("RPN_ANCHOR_STRIDE"));
}

TEST(ConfigTest, SetParsesWhatUsersType) {
  Config c = Valid();
  ASSERT_TRUE(c.Set("RPN_ANCHOR_SCALES", "8,16,32,64,128").ok());
  EXPECT_EQ(c.RPN_ANCHOR_SCALES, (std::vector<int>{8, 16, 32, 64, 128}));
  ASSERT_TRUE(c.Set("RPN_ANCHOR_SCALES", "[16, 32, 64, 128, 256]").ok());
  EXPECT_EQ(c.RPN_ANCHOR_SCALES, (std::vector<int>{16, 32, 64, 128, 256}));
  ASSERT_TRUE(c.Set("MINI_MASK_SHAPE", "(28, 28)").ok());
  EXPECT_EQ(c.MINI_MASK_SHAPE, (std::vector<int>{28, 28}));
  ASSERT_TRUE(c.Set("RPN_ANCHOR_RATIOS", "(1,)").ok());
  EXPECT_EQ(c.RPN_ANCHOR_RATIOS, (std::vector<double>{1.0}));
  ASSERT_TRUE(c.Set("RPN_ANCHOR_RATIOS", "0.5, 1, 2").ok());
  EXPECT_EQ(c.RPN_ANCHOR_RATIOS, (std::vector<double>{0.5, 1.0, 2.0}));
  ASSERT_TRUE(c.Set("USE_MINI_MASK", "False").ok());
  EXPECT_FALSE(c.USE_MINI_MASK);
  ASSERT_TRUE(c.Set("USE_MINI_MASK", "true").ok());
  EXPECT_TRUE(c.USE_MINI_MASK);
  ASSERT_TRUE(c.Set("LEARNING_RATE", "1e-3").ok());
  EXPECT_DOUBLE_EQ(c.LEARNING_RATE, 1e-3);
  ASSERT_TRUE(c.Set("LEARNING_RATE", "2").ok());  // an integer is a fine number
  EXPECT_DOUBLE_EQ(c.LEARNING_RATE, 2.0);
  ASSERT_TRUE(c.Set("NAME", "signs").ok());
  EXPECT_EQ(c.NAME, "signs");
  ASSERT_TRUE(c.Set("NAME", "\"quoted name\"").ok());
  EXPECT_EQ(c.NAME, "quoted name");
  ASSERT_TRUE(c.Set("LOSS_WEIGHTS", "rpn_class_loss=1, mrcnn_mask_loss=2.5").ok());
  EXPECT_EQ(c.LOSS_WEIGHTS.size(), 2u);
  EXPECT_DOUBLE_EQ(c.LOSS_WEIGHTS.at("mrcnn_mask_loss"), 2.5);
  ASSERT_TRUE(c.Set("LOSS_WEIGHTS", "{\"mrcnn_class_loss\": 0.5}").ok());
  EXPECT_DOUBLE_EQ(c.LOSS_WEIGHTS.at("mrcnn_class_loss"), 0.5);
}

TEST(ConfigTest, SetRejectsBadValuesNamingKeyAndReason) {
  Config c = Valid();
  struct Case {
    std::string key, value, expected;
  };
  const std::vector<Case> cases = {
      {"RPN_ANCHOR_STRIDE", "two", "RPN_ANCHOR_STRIDE: expected an integer, got 'two'"},
      {"RPN_ANCHOR_STRIDE", "2.5", "RPN_ANCHOR_STRIDE: expected an integer, got 2.5"},
      {"RPN_ANCHOR_STRIDE", "99999999999", "RPN_ANCHOR_STRIDE: expected an integer"},
      {"LEARNING_RATE", "fast", "LEARNING_RATE: expected a number, got 'fast'"},
      {"USE_MINI_MASK", "maybe", "USE_MINI_MASK: expected true or false, got 'maybe'"},
      {"RPN_ANCHOR_SCALES", "8,16,x", "RPN_ANCHOR_SCALES: expected a list of integers"},
      {"RPN_ANCHOR_SCALES", "8.5,16", "RPN_ANCHOR_SCALES: expected a list of integers"},
      {"MINI_MASK_SHAPE", "(56,56", "MINI_MASK_SHAPE: expected a list of integers"},
      {"LOSS_WEIGHTS", "rpn_class_loss", "LOSS_WEIGHTS: expected an object of loss names"},
      {"RPN_ANCHOR_STRIDES", "2", "unknown config key 'RPN_ANCHOR_STRIDES' (did you mean RPN_ANCHOR_STRIDE?)"},
      {"BATCH_SIZE", "8", "BATCH_SIZE: derived value, cannot be set"},
      {"IMAGE_SHAPE", "[64,64,3]", "IMAGE_SHAPE: derived value, cannot be set"},
      // The word options are parsed when set: a bad word names the key, the choices and the word.
      {"IMAGE_RESIZE_MODE", "stretch",
       "IMAGE_RESIZE_MODE: must be one of none, square, pad64, crop, torchvision; got 'stretch'"},
      {"IMAGE_RESIZE_MODE", "Square", "IMAGE_RESIZE_MODE: must be one of none, square"},
      {"BACKBONE", "vgg16", "BACKBONE: must be one of resnet18, resnet34, resnet50, resnet101; got 'vgg16'"},
      {"PRECISION", "fp16", "PRECISION: must be one of fp32, bf16; got 'fp16'"},
      {"PRECISION", "BF16", "PRECISION: must be one of fp32, bf16; got 'BF16'"},
      {"PROPOSAL_SELECTION", "random", "PROPOSAL_SELECTION: must be one of global, per_level; got 'random'"},
      {"OPTIMIZER", "adam", "OPTIMIZER: must be one of sgd, adamw; got 'adam'"},
      {"RPN_ANCHOR_CONVENTION", "detectron",
       "RPN_ANCHOR_CONVENTION: must be one of matterport, torchvision; got 'detectron'"},
      {"LEARNING_RATE_SCHEDULE", "linear",
       "LEARNING_RATE_SCHEDULE: must be one of constant, step, cosine; got 'linear'"},
      {"OPTIMIZER", "", "OPTIMIZER: must be one of sgd, adamw; got ''"},
  };
  const Config before = c;
  for (const Case& tc : cases) {
    absl::Status s = c.Set(tc.key, tc.value);
    ASSERT_FALSE(s.ok()) << tc.key << "=" << tc.value;
    EXPECT_THAT(std::string(s.message()), HasSubstr(tc.expected)) << tc.key << "=" << tc.value;
  }
  EXPECT_EQ(c, before) << "a rejected value must leave the config unchanged";
}

// Every word of every word option reads back as the same word in JSON and Display, so config files,
// the experiment log and config_tool show what users typed.
TEST(ConfigTest, WordOptionsKeepTheirSpelling) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> options = {
      {"BACKBONE", {"resnet18", "resnet34", "resnet50", "resnet101"}},
      {"IMAGE_RESIZE_MODE", {"none", "square", "pad64", "crop", "torchvision"}},
      {"RPN_ANCHOR_CONVENTION", {"matterport", "torchvision"}},
      {"PROPOSAL_SELECTION", {"global", "per_level"}},
      {"OPTIMIZER", {"sgd", "adamw"}},
      {"LEARNING_RATE_SCHEDULE", {"constant", "step", "cosine"}},
  };
  for (const auto& [key, words] : options) {
    for (const std::string& word : words) {
      Config c = Valid();
      ASSERT_TRUE(c.Set(key, word).ok()) << key << "=" << word;
      EXPECT_EQ(c.ToJson()[key], word);
      std::ostringstream shown;
      c.Display(shown);
      EXPECT_THAT(shown.str(), HasSubstr(key + std::string(30 - key.size() + 1, ' ') + word + "\n"));
      ASSERT_TRUE(c.Set(key, "\"" + word + "\"").ok()) << key << "=\"" << word << "\"";
      EXPECT_EQ(c.ToJson()[key], word);
    }
  }
  // From JSON: a word of the wrong type or an unknown word names the source and the key.
  Config c = Valid();
  absl::Status s = c.Apply(Json::parse(R"({"IMAGE_RESIZE_MODE": 3})"), "f.json");
  EXPECT_THAT(std::string(s.message()), HasSubstr("f.json: IMAGE_RESIZE_MODE: expected one of none, square"));
  s = c.Apply(Json::parse(R"({"PROPOSAL_SELECTION": "perlevel"})"), "f.json");
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("f.json: PROPOSAL_SELECTION: must be one of global, per_level; got 'perlevel'"));
  EXPECT_EQ(c, Valid());
}

// Constraints the model used to enforce on its own are in Validate now; what the model accepts,
// Validate accepts too.
TEST(ConfigTest, ValidateAcceptsWhatTheModelBuilds) {
  Config c = Valid();
  c.RPN_ANCHOR_STRIDE = 3;  // anchors on every third cell, as matterport
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
  c.PROPOSAL_SELECTION = ProposalSelection::kPerLevel;  // the limit applies per level: 5 x 1000
  c.POST_NMS_ROIS_TRAINING = 2000;
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
  c.PROPOSAL_SELECTION = ProposalSelection::kGlobal;
  EXPECT_THAT(ErrorOf(c), HasSubstr("POST_NMS_ROIS_TRAINING: must be <= PRE_NMS_LIMIT (1000)"));
}

TEST(ConfigTest, JsonRoundTripKeepsEveryField) {
  Config c = Config::Preset("torchvision").value();
  c.RPN_ANCHOR_STRIDE = 2;
  c.MINI_MASK_SHAPE = {28, 36};
  c.LOSS_WEIGHTS["mrcnn_mask_loss"] = 0.25;
  c.NAME = "round \"trip\"";
  const Json j = c.ToJson();
  EXPECT_EQ(j.size(), Config::FieldNames().size());
  absl::StatusOr<Config> back = Config::FromJson(Json::parse(j.dump()), "test");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, c);
  EXPECT_EQ(back->Hash(), c.Hash());
  EXPECT_EQ(back->MINI_MASK_SHAPE, (std::vector<int>{28, 36}));
  EXPECT_EQ(back->NAME, "round \"trip\"");
  // Derived values are in the log form but are not fields.
  const Json d = c.ToJsonWithDerived();
  EXPECT_EQ(d["BATCH_SIZE"], 2);
  EXPECT_EQ(d["IMAGE_SHAPE"], Json({1333, 1333, 3}));
}

TEST(ConfigTest, HashIsStableAndSensitive) {
  const Config a = Config::Preset("shapes").value();
  Config b = Config::Preset("shapes").value();
  EXPECT_EQ(a.Hash(), b.Hash());
  EXPECT_EQ(a.Hash().size(), 16u);
  // Key order in the input does not matter: the canonical form sorts keys.
  Json reversed = Json::object();
  const Json j = a.ToJson();
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  std::string text = "{";
  for (auto k = keys.rbegin(); k != keys.rend(); ++k) {
    text += (k == keys.rbegin() ? "" : ",") + Json(*k).dump() + ":" + j[*k].dump();
  }
  text += "}";
  absl::StatusOr<Config> from_reversed = Config::FromJson(Json::parse(text), "test");
  ASSERT_TRUE(from_reversed.ok());
  EXPECT_EQ(from_reversed->Hash(), a.Hash());
  // Every single-field change changes the hash.
  ASSERT_TRUE(b.Set("RPN_ANCHOR_STRIDE", "2").ok());
  EXPECT_NE(a.Hash(), b.Hash());
  b = a;
  b.LEARNING_RATE = a.LEARNING_RATE * (1 + 1e-12);
  EXPECT_NE(a.Hash(), b.Hash());
  EXPECT_NE(Config::Preset("torchvision").value().Hash(), a.Hash());
}

TEST(ConfigTest, DisplayPrintsEveryFieldSorted) {
  const Config c = Config::Preset("shapes").value();
  std::ostringstream out;
  c.Display(out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("Configurations:"));
  size_t last = 0;
  std::vector<std::string> names = Config::FieldNames();
  names.push_back("BATCH_SIZE");
  names.push_back("IMAGE_SHAPE");
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const size_t pos = text.find("\n" + name + " ");
    ASSERT_NE(pos, std::string::npos) << name;
    EXPECT_GT(pos, last) << name << " out of order";
    last = pos;
  }
  EXPECT_THAT(text, HasSubstr("IMAGE_SHAPE                    [128,128,3]"));
  EXPECT_THAT(text, HasSubstr("TRAIN_BN                       True"));
  EXPECT_THAT(text, HasSubstr("BACKBONE                       resnet18"));
}

TEST(ConfigTest, ConfigFileOverridesAPreset) {
  const std::string path =
      WriteFile("ok.json", R"({"preset": "torchvision", "NUM_CLASSES": 6, "RPN_ANCHOR_STRIDE": 2,
                               "MINI_MASK_SHAPE": [28, 28], "USE_MINI_MASK": true})");
  absl::StatusOr<Config> c = BuildConfig("", path, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->NUM_CLASSES, 6);
  EXPECT_EQ(c->RPN_ANCHOR_STRIDE, 2);
  EXPECT_EQ(c->BACKBONE, Backbone::kResNet50);  // from the file's preset
  // An explicit preset wins over the file's.
  c = BuildConfig("shapes", path, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->BACKBONE, Backbone::kResNet18);
  EXPECT_EQ(c->NUM_CLASSES, 6);
  // --set comes after the file, in order.
  c = BuildConfig("", path, {"RPN_ANCHOR_STRIDE=1", "NUM_CLASSES=3", "NUM_CLASSES=4"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->RPN_ANCHOR_STRIDE, 1);
  EXPECT_EQ(c->NUM_CLASSES, 4);
  // No file, no preset: shapes.
  c = BuildConfig("", "", {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->NAME, "shapes");
}

TEST(ConfigTest, ConfigFileErrorsNameTheFileAndKey) {
  struct Case {
    std::string name, text, expected;
  };
  const std::vector<Case> cases = {
      {"unknown.json", R"({"RPN_ANCHOR_STRIDE": 2, "ANCHOR_SIZE": 3})",
       "unknown config key 'ANCHOR_SIZE'"},
      {"type.json", R"({"RPN_ANCHOR_STRIDE": "2"})", "RPN_ANCHOR_STRIDE: expected an integer, got \"2\""},
      {"bool.json", R"({"USE_MINI_MASK": 1})", "USE_MINI_MASK: expected true or false, got 1"},
      {"list.json", R"({"RPN_ANCHOR_SCALES": 32})", "RPN_ANCHOR_SCALES: expected a list of integers"},
      {"malformed.json", R"({"RPN_ANCHOR_STRIDE": 2,)", "not valid JSON"},
      {"array.json", R"([1, 2])", "expected a JSON object of KEY: value, got array"},
      {"preset.json", R"({"preset": "voc"})", "unknown preset 'voc'"},
      {"presettype.json", R"({"preset": 3})", "\"preset\" must be a string"},
      {"invalid.json", R"({"NUM_CLASSES": 1})", "NUM_CLASSES: must be >= 2"},
  };
  for (const Case& tc : cases) {
    const std::string path = WriteFile(tc.name, tc.text);
    absl::StatusOr<Config> c = BuildConfig("", path, {});
    ASSERT_FALSE(c.ok()) << tc.name;
    const std::string msg(c.status().message());
    EXPECT_THAT(msg, HasSubstr(tc.expected)) << tc.name;
    if (tc.name != "invalid.json") {
      EXPECT_THAT(msg, HasSubstr(path)) << tc.name;
    }
  }
  absl::StatusOr<Config> missing = BuildConfig("", TempPath("does_not_exist.json"), {});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("does_not_exist.json: cannot open config file"));
}

TEST(ConfigTest, SetFlagErrors) {
  absl::StatusOr<Config> c = BuildConfig("", "", {"RPN_ANCHOR_STRIDE"});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("expected KEY=VALUE"));
  c = BuildConfig("", "", {"RPN_ANCHOR_STRIDE=x"});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("--set RPN_ANCHOR_STRIDE=x: RPN_ANCHOR_STRIDE: expected an integer"));
  c = BuildConfig("", "", {"RPN_ANCHOR_STRIDE=0"});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("invalid config: RPN_ANCHOR_STRIDE: must be > 0"));
  c = BuildConfig("nope", "", {});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("--preset: unknown preset 'nope'"));
}

TEST(FlagsTest, ExtractRepeatedFlagTakesEveryFormInOrder) {
  std::vector<std::string> args = {"prog",     "--set",        "A=1",  "--json", "-set=B=2",
                                   "--set=C=3", "--config=x.json", "-set", "D=4",    "--",
                                   "--set=E=5"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  int argc = static_cast<int>(argv.size());
  char** p = argv.data();
  const std::vector<std::string> values = ExtractRepeatedFlag("set", &argc, &p);
  EXPECT_EQ(values, (std::vector<std::string>{"A=1", "B=2", "C=3", "D=4"}));
  ASSERT_EQ(argc, 5);
  EXPECT_STREQ(p[1], "--json");
  EXPECT_STREQ(p[2], "--config=x.json");
  EXPECT_STREQ(p[3], "--");
  EXPECT_STREQ(p[4], "--set=E=5");
}

TEST(FlagsTest, TrailingSetWithoutValueIsRejected) {
  std::vector<std::string> args = {"prog", "--set"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  int argc = 2;
  char** p = argv.data();
  const std::vector<std::string> values = ExtractRepeatedFlag("set", &argc, &p);
  ASSERT_EQ(values.size(), 1u);
  EXPECT_FALSE(BuildConfig("", "", values).ok());
}

}  // namespace
}  // namespace mrcnn
