// Config: every setting of a Mask R-CNN run, under the names of matterport's Config class.
//
// Fields keep the tutorial's upper-case names (RPN_ANCHOR_STRIDE, MINI_MASK_SHAPE, ...) because users
// write those words in config files, --set flags and experiment-log queries. A Config starts from a
// preset (matterport's defaults, torchvision's maskrcnn_resnet50_fpn, or the synthetic-shapes preset),
// takes overrides from a JSON file and KEY=VALUE strings, and is checked by Validate() before use.
// Options that take a word (IMAGE_RESIZE_MODE, PROPOSAL_SELECTION, ...) are enums, parsed when set.
//
//   Config c = Config::Preset("shapes").value();
//   absl::Status s = c.Set("RPN_ANCHOR_SCALES", "8,16,32,64,128");
//   s = c.Validate();
//   c.Display(std::cout);
//   std::string hash = c.Hash();  // stable across runs and machines
#ifndef MRCNN_CONFIG_CONFIG_H_
#define MRCNN_CONFIG_CONFIG_H_

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace mrcnn {

// The options that take one of a few words. Each is parsed once, when the config is set or loaded
// (Set, SetJson, Apply, FromJson), so code compares enums; users keep writing the words, and JSON,
// Display, the hash and the experiment log show them unchanged. EnumName gives a value's word,
// EnumWords every word of the type in the order errors list them.
enum class Backbone { kResNet18, kResNet34, kResNet50, kResNet101 };       // "resnet18", ...
enum class ResizeMode { kNone, kSquare, kPad64, kCrop, kTorchvision };     // "none", "square", ...
enum class AnchorConvention { kMatterport, kTorchvision };                 // "matterport", "torchvision"
enum class ProposalSelection { kGlobal, kPerLevel };                       // "global", "per_level"
enum class OptimizerKind { kSgd, kAdamW };                                 // "sgd", "adamw"
enum class LearningRateSchedule { kConstant, kStep, kCosine };             // "constant", "step", "cosine"
enum class Precision { kFp32, kBf16 };                                     // "fp32", "bf16"

template <typename E>
const std::vector<std::pair<E, const char*>>& EnumTable();
template <>
const std::vector<std::pair<Backbone, const char*>>& EnumTable<Backbone>();
template <>
const std::vector<std::pair<ResizeMode, const char*>>& EnumTable<ResizeMode>();
template <>
const std::vector<std::pair<AnchorConvention, const char*>>& EnumTable<AnchorConvention>();
template <>
const std::vector<std::pair<ProposalSelection, const char*>>& EnumTable<ProposalSelection>();
template <>
const std::vector<std::pair<OptimizerKind, const char*>>& EnumTable<OptimizerKind>();
template <>
const std::vector<std::pair<LearningRateSchedule, const char*>>& EnumTable<LearningRateSchedule>();
template <>
const std::vector<std::pair<Precision, const char*>>& EnumTable<Precision>();

// The word users write for `value`, e.g. EnumName(ResizeMode::kPad64) == "pad64".
template <typename E>
std::string EnumName(E value) {
  for (const auto& [v, word] : EnumTable<E>()) {
    if (v == value) return word;
  }
  return "?";  // unreachable for values of the enum
}

// Every word of E, in declaration order.
template <typename E>
std::vector<std::string> EnumWords() {
  std::vector<std::string> words;
  for (const auto& entry : EnumTable<E>()) words.push_back(entry.second);
  return words;
}

// Parses a word; false when it is none of E's words (exact spelling, as in config files).
template <typename E>
bool ParseEnum(const std::string& word, E* out) {
  for (const auto& [v, w] : EnumTable<E>()) {
    if (word == w) {
      *out = v;
      return true;
    }
  }
  return false;
}

// NAME's longest form in bytes: it names run folders and checkpoint files, whose names must stay under
// the file system's 255 bytes with the timestamp and epoch added.
inline constexpr size_t kMaxNameBytes = 100;

struct Config {
  // --- matterport's Config, with its defaults ---
  std::string NAME = "mrcnn";
  int GPU_COUNT = 1;
  int IMAGES_PER_GPU = 2;
  int STEPS_PER_EPOCH = 1000;
  int VALIDATION_STEPS = 50;
  Backbone BACKBONE = Backbone::kResNet101;  // resnet18 | resnet34 | resnet50 | resnet101
  std::vector<int> BACKBONE_STRIDES = {4, 8, 16, 32, 64};
  int FPN_CLASSIF_FC_LAYERS_SIZE = 1024;
  int TOP_DOWN_PYRAMID_SIZE = 256;
  int NUM_CLASSES = 1;  // background + classes; matterport's placeholder 1 must be overridden
  std::vector<int> RPN_ANCHOR_SCALES = {32, 64, 128, 256, 512};
  std::vector<double> RPN_ANCHOR_RATIOS = {0.5, 1.0, 2.0};
  int RPN_ANCHOR_STRIDE = 1;
  double RPN_NMS_THRESHOLD = 0.7;
  int RPN_TRAIN_ANCHORS_PER_IMAGE = 256;
  int PRE_NMS_LIMIT = 6000;
  int POST_NMS_ROIS_TRAINING = 2000;
  int POST_NMS_ROIS_INFERENCE = 1000;
  bool USE_MINI_MASK = true;
  std::vector<int> MINI_MASK_SHAPE = {56, 56};  // (height, width)
  ResizeMode IMAGE_RESIZE_MODE = ResizeMode::kSquare;  // none | square | pad64 | crop | torchvision
  int IMAGE_MIN_DIM = 800;
  int IMAGE_MAX_DIM = 1024;
  double IMAGE_MIN_SCALE = 0.0;
  int IMAGE_CHANNEL_COUNT = 3;
  std::vector<double> MEAN_PIXEL = {123.7, 116.8, 103.9};  // RGB, 0-255 units
  int TRAIN_ROIS_PER_IMAGE = 200;
  double ROI_POSITIVE_RATIO = 0.33;
  int POOL_SIZE = 7;
  int MASK_POOL_SIZE = 14;
  std::vector<int> MASK_SHAPE = {28, 28};
  int MAX_GT_INSTANCES = 100;
  std::vector<double> RPN_BBOX_STD_DEV = {0.1, 0.1, 0.2, 0.2};
  std::vector<double> BBOX_STD_DEV = {0.1, 0.1, 0.2, 0.2};
  int DETECTION_MAX_INSTANCES = 100;
  double DETECTION_MIN_CONFIDENCE = 0.7;
  double DETECTION_NMS_THRESHOLD = 0.3;
  double LEARNING_RATE = 0.001;
  double LEARNING_MOMENTUM = 0.9;
  double WEIGHT_DECAY = 0.0001;
  std::map<std::string, double> LOSS_WEIGHTS = {{"rpn_class_loss", 1.0},
                                                {"rpn_bbox_loss", 1.0},
                                                {"mrcnn_class_loss", 1.0},
                                                {"mrcnn_bbox_loss", 1.0},
                                                {"mrcnn_mask_loss", 1.0}};
  bool USE_RPN_ROIS = true;
  bool TRAIN_BN = false;
  double GRADIENT_CLIP_NORM = 5.0;  // 0 turns clipping off

  // --- what the model needs beyond matterport (torchvision's knobs) ---
  // Channels of the first ResNet stage (64 in every standard ResNet); smaller values make the narrow
  // backbones used for CPU experiments. Every stage scales with it.
  int BACKBONE_BASE_WIDTH = 64;
  std::vector<double> IMAGE_STD = {1.0, 1.0, 1.0};  // RGB, 0-255 units; matterport does not scale
  // Largest image the loaders read, in pixels as its header declares them (checked before decoding):
  // bigger ones are reported and skipped. 100 megapixels is above camera photos and far below what
  // exhausts memory; at most 2^30, where OpenCV's decoder stops.
  int IMAGE_MAX_PIXELS = 100000000;
  int MASK_HEAD_CHANNELS = 256;                      // width of the 4 mask-head convolutions
  int ROI_ALIGN_SAMPLING_RATIO = 2;                  // <= 0: adaptive, ceil(roi_size / output_size)
  bool ROI_ALIGN_ALIGNED = false;                    // the half-pixel shift of ROIAlign v2
  // Anchor shape convention; both centre anchors at k * stride of their level.
  //   "torchvision": ratio = height / width, base anchors rounded to integers (equal to AnchorGenerator).
  //   "matterport":  ratio = width / height, unrounded (matterport's generate_anchors).
  AnchorConvention RPN_ANCHOR_CONVENTION = AnchorConvention::kMatterport;
  // How proposals are picked before NMS: "global" takes PRE_NMS_LIMIT over all levels (matterport),
  // "per_level" takes PRE_NMS_LIMIT on every level and runs NMS per level (torchvision).
  ProposalSelection PROPOSAL_SELECTION = ProposalSelection::kGlobal;
  int PRE_NMS_LIMIT_INFERENCE = 6000;  // PRE_NMS_LIMIT at inference (torchvision: 1000 vs 2000)
  double RPN_POSITIVE_IOU = 0.7;       // anchors at or above are foreground
  double RPN_NEGATIVE_IOU = 0.3;       // anchors below are background
  double RPN_POSITIVE_FRACTION = 0.5;  // share of foreground anchors among the sampled ones
  double RPN_MIN_SIZE = 1e-3;          // proposals smaller than this (pixels) are dropped
  double ROI_POSITIVE_IOU = 0.5;       // proposals at or above are foreground ROIs
  double ROI_NEGATIVE_IOU = 0.5;       // proposals below are background ROIs
  // "sgd" (SGD with LEARNING_MOMENTUM, matterport and torchvision) or "adamw" (AdamW, betas 0.9 and
  // 0.999, WEIGHT_DECAY decoupled); both after GRADIENT_CLIP_NORM clipping.
  OptimizerKind OPTIMIZER = OptimizerKind::kSgd;
  int WARMUP_STEPS = 0;                // linear learning-rate warmup
  // Learning rate after the warmup: "constant", "step" (times LEARNING_RATE_DECAY at each of
  // LEARNING_RATE_STEPS, counted in training steps) or "cosine" (from LEARNING_RATE down to 0 at the
  // run's last step).
  LearningRateSchedule LEARNING_RATE_SCHEDULE = LearningRateSchedule::kConstant;
  std::vector<int> LEARNING_RATE_STEPS = {};
  double LEARNING_RATE_DECAY = 0.1;
  int SEED = 0;                        // every random choice of a run derives from it
  // Arithmetic of the model's forward and losses: "fp32", or "bf16" (CPU autocast to bfloat16 over
  // the convolutions and matrix products; weights, optimizer state and the numerically sensitive
  // steps stay fp32, see the README's "Mixed precision").
  Precision PRECISION = Precision::kFp32;

  // Derived values, as matterport computes them in Config.__init__.
  int BATCH_SIZE() const { return IMAGES_PER_GPU * GPU_COUNT; }
  std::vector<int> IMAGE_SHAPE() const;  // [H, W, C] of the network input

  // Presets: "matterport" (the defaults above), "torchvision" (maskrcnn_resnet50_fpn's defaults),
  // "shapes" (the small synthetic-shapes dataset on a CPU).
  static absl::StatusOr<Config> Preset(const std::string& name);
  static std::vector<std::string> PresetNames();

  // Sets one field from text as users type it: numbers, true/false, comma lists ("8,16,32",
  // "[8,16,32]", "(56,56)"), JSON, or k=v lists for LOSS_WEIGHTS. Errors name the key and the reason.
  absl::Status Set(const std::string& key, const std::string& value);
  // Sets one field from a JSON value of the right type.
  absl::Status SetJson(const std::string& key, const nlohmann::json& value);
  // Applies a JSON object of overrides; `source` names it in errors (e.g. the file path). The key
  // "preset" is not allowed here: presets are chosen before overrides.
  absl::Status Apply(const nlohmann::json& overrides, const std::string& source);

  // Checks every field and their combinations, including every constraint that the data pipeline and
  // the model enforce, so that a config it passes builds the model and trains (validate_property_test).
  // The error lists each problem as "KEY: reason", separated by "; ".
  absl::Status Validate() const;

  // Prints every field and derived value, sorted by name, like matterport's config.display().
  void Display(std::ostream& out) const;

  // The fields as a JSON object (derived values excluded); FromJson(ToJson()) gives the same Config.
  nlohmann::json ToJson() const;
  // The fields plus BATCH_SIZE and IMAGE_SHAPE, for logs and displays.
  nlohmann::json ToJsonWithDerived() const;
  // Builds a Config from matterport's defaults and a full or partial JSON object.
  static absl::StatusOr<Config> FromJson(const nlohmann::json& j, const std::string& source);

  // 16 hex digits of xxHash64 over the canonical JSON of the fields: equal configs, equal hashes.
  std::string Hash() const;

  // Names of all settable fields, sorted.
  static std::vector<std::string> FieldNames();

  bool operator==(const Config& other) const { return ToJson() == other.ToJson(); }
  bool operator!=(const Config& other) const { return !(*this == other); }
};

// Loads overrides from a JSON file onto a preset. The file is an object of KEY: value; it may name a
// base with "preset": "shapes" (default: the `base` argument). Errors name the file and the key.
absl::StatusOr<Config> LoadConfigFile(const std::string& path, const Config& base);

// The command-line workflow shared by every binary: start from `preset` (when empty: the file's
// "preset", else "shapes"), apply the config file (when not empty), then each KEY=VALUE of `set_flags`
// in order, then validate.
absl::StatusOr<Config> BuildConfig(const std::string& preset, const std::string& config_file,
                                   const std::vector<std::string>& set_flags);

}  // namespace mrcnn

#endif  // MRCNN_CONFIG_CONFIG_H_
