#include "mrcnn/config/config.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>
#include <type_traits>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "mrcnn/config/untrusted.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "xxhash.h"

namespace mrcnn {
namespace {

using Json = nlohmann::json;
using DoubleMap = std::map<std::string, double>;

// A field holding one of an enum's words: reads and writes go through the enum's word table.
struct EnumMember {
  std::string (*get)(const Config&);
  bool (*set)(Config*, const std::string&);  // false when the word is none of the enum's
  std::vector<std::string> (*words)();
};

template <typename E, E Config::*M>
EnumMember MakeEnumMember() {
  return EnumMember{[](const Config& c) { return EnumName(c.*M); },
                    [](Config* c, const std::string& word) { return ParseEnum(word, &(c->*M)); },
                    &EnumWords<E>};
}

using Member = std::variant<int Config::*, double Config::*, bool Config::*, std::string Config::*,
                            std::vector<int> Config::*, std::vector<double> Config::*,
                            DoubleMap Config::*, EnumMember>;

struct Field {
  const char* name;
  Member member;
};

#define MRCNN_FIELD(x) \
  Field { #x, &Config::x }
#define MRCNN_ENUM_FIELD(x) \
  Field { #x, MakeEnumMember<decltype(Config::x), &Config::x>() }

// The registry of settable fields: JSON, Display, Set and FieldNames all walk it, so a field added to
// Config needs one line here and nothing else.
const std::vector<Field>& Fields() {
  static const std::vector<Field>* fields = new std::vector<Field>{
      MRCNN_FIELD(NAME),
      MRCNN_FIELD(GPU_COUNT),
      MRCNN_FIELD(IMAGES_PER_GPU),
      MRCNN_FIELD(STEPS_PER_EPOCH),
      MRCNN_FIELD(VALIDATION_STEPS),
      MRCNN_ENUM_FIELD(BACKBONE),
      MRCNN_FIELD(BACKBONE_STRIDES),
      MRCNN_FIELD(FPN_CLASSIF_FC_LAYERS_SIZE),
      MRCNN_FIELD(TOP_DOWN_PYRAMID_SIZE),
      MRCNN_FIELD(NUM_CLASSES),
      MRCNN_FIELD(RPN_ANCHOR_SCALES),
      MRCNN_FIELD(RPN_ANCHOR_RATIOS),
      MRCNN_FIELD(RPN_ANCHOR_STRIDE),
      MRCNN_FIELD(RPN_NMS_THRESHOLD),
      MRCNN_FIELD(RPN_TRAIN_ANCHORS_PER_IMAGE),
      MRCNN_FIELD(PRE_NMS_LIMIT),
      MRCNN_FIELD(POST_NMS_ROIS_TRAINING),
      MRCNN_FIELD(POST_NMS_ROIS_INFERENCE),
      MRCNN_FIELD(USE_MINI_MASK),
      MRCNN_FIELD(MINI_MASK_SHAPE),
      MRCNN_ENUM_FIELD(IMAGE_RESIZE_MODE),
      MRCNN_FIELD(IMAGE_MIN_DIM),
      MRCNN_FIELD(IMAGE_MAX_DIM),
      MRCNN_FIELD(IMAGE_MIN_SCALE),
      MRCNN_FIELD(IMAGE_CHANNEL_COUNT),
      MRCNN_FIELD(MEAN_PIXEL),
      MRCNN_FIELD(TRAIN_ROIS_PER_IMAGE),
      MRCNN_FIELD(ROI_POSITIVE_RATIO),
      MRCNN_FIELD(POOL_SIZE),
      MRCNN_FIELD(MASK_POOL_SIZE),
      MRCNN_FIELD(MASK_SHAPE),
      MRCNN_FIELD(MAX_GT_INSTANCES),
      MRCNN_FIELD(RPN_BBOX_STD_DEV),
      MRCNN_FIELD(BBOX_STD_DEV),
      MRCNN_FIELD(DETECTION_MAX_INSTANCES),
      MRCNN_FIELD(DETECTION_MIN_CONFIDENCE),
      MRCNN_FIELD(DETECTION_NMS_THRESHOLD),
      MRCNN_FIELD(LEARNING_RATE),
      MRCNN_FIELD(LEARNING_MOMENTUM),
      MRCNN_FIELD(WEIGHT_DECAY),
      MRCNN_FIELD(LOSS_WEIGHTS),
      MRCNN_FIELD(USE_RPN_ROIS),
      MRCNN_FIELD(TRAIN_BN),
      MRCNN_FIELD(GRADIENT_CLIP_NORM),
      MRCNN_FIELD(BACKBONE_BASE_WIDTH),
      MRCNN_FIELD(IMAGE_STD),
      MRCNN_FIELD(IMAGE_MAX_PIXELS),
      MRCNN_FIELD(MASK_HEAD_CHANNELS),
      MRCNN_FIELD(ROI_ALIGN_SAMPLING_RATIO),
      MRCNN_FIELD(ROI_ALIGN_ALIGNED),
      MRCNN_ENUM_FIELD(RPN_ANCHOR_CONVENTION),
      MRCNN_ENUM_FIELD(PROPOSAL_SELECTION),
      MRCNN_FIELD(PRE_NMS_LIMIT_INFERENCE),
      MRCNN_FIELD(RPN_POSITIVE_IOU),
      MRCNN_FIELD(RPN_NEGATIVE_IOU),
      MRCNN_FIELD(RPN_POSITIVE_FRACTION),
      MRCNN_FIELD(RPN_MIN_SIZE),
      MRCNN_FIELD(ROI_POSITIVE_IOU),
      MRCNN_FIELD(ROI_NEGATIVE_IOU),
      MRCNN_ENUM_FIELD(OPTIMIZER),
      MRCNN_FIELD(WARMUP_STEPS),
      MRCNN_ENUM_FIELD(LEARNING_RATE_SCHEDULE),
      MRCNN_FIELD(LEARNING_RATE_STEPS),
      MRCNN_FIELD(LEARNING_RATE_DECAY),
      MRCNN_FIELD(SEED),
      MRCNN_ENUM_FIELD(PRECISION),
  };
  return *fields;
}

#undef MRCNN_FIELD
#undef MRCNN_ENUM_FIELD

const Field* FindField(const std::string& key) {
  for (const Field& f : Fields()) {
    if (key == f.name) return &f;
  }
  return nullptr;
}

const std::vector<std::string>& LossNames() {
  static const std::vector<std::string>* names = new std::vector<std::string>{
      "rpn_class_loss", "rpn_bbox_loss", "mrcnn_class_loss", "mrcnn_bbox_loss", "mrcnn_mask_loss"};
  return *names;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      const bool same = std::toupper(static_cast<unsigned char>(a[i - 1])) ==
                        std::toupper(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (same ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

absl::Status UnknownKey(const std::string& key) {
  std::string best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const Field& f : Fields()) {
    const size_t d = EditDistance(key, f.name);
    if (d < best_distance) {
      best_distance = d;
      best = f.name;
    }
  }
  std::string msg = absl::StrCat("unknown config key '", key, "'");
  if (best_distance <= std::max<size_t>(3, key.size() / 3)) {
    absl::StrAppend(&msg, " (did you mean ", best, "?)");
  }
  return absl::InvalidArgumentError(msg);
}

std::string TypeName(const Member& m) {
  struct Visitor {
    std::string operator()(int Config::*) const { return "an integer"; }
    std::string operator()(double Config::*) const { return "a number"; }
    std::string operator()(bool Config::*) const { return "true or false"; }
    std::string operator()(std::string Config::*) const { return "a string"; }
    std::string operator()(std::vector<int> Config::*) const {
      return "a list of integers (e.g. 8,16,32)";
    }
    std::string operator()(std::vector<double> Config::*) const {
      return "a list of numbers (e.g. 0.5,1,2)";
    }
    std::string operator()(DoubleMap Config::*) const {
      return "an object of loss names to numbers (e.g. rpn_class_loss=1,mrcnn_mask_loss=2)";
    }
    std::string operator()(const EnumMember& e) const {
      return absl::StrCat("one of ", absl::StrJoin(e.words(), ", "));
    }
  };
  return std::visit(Visitor{}, m);
}

absl::Status TypeError(const Field& f, const Json& value) {
  return absl::InvalidArgumentError(absl::StrCat(f.name, ": expected ", TypeName(f.member),
                                                 ", got ", value.dump()));
}

bool JsonToInt(const Json& v, int* out) {
  if (v.is_number_integer()) {
    const int64_t x = v.get<int64_t>();
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT32_MAX)) return false;
    if (x < INT32_MIN || x > INT32_MAX) return false;
    *out = static_cast<int>(x);
    return true;
  }
  return false;
}

bool JsonToDouble(const Json& v, double* out) {
  if (!v.is_number()) return false;
  *out = v.get<double>();
  return std::isfinite(*out);
}

absl::Status SetField(Config* c, const Field& f, const Json& v) {
  if (auto p = std::get_if<int Config::*>(&f.member)) {
    int x;
    if (!JsonToInt(v, &x)) return TypeError(f, v);
    c->**p = x;
  } else if (auto p = std::get_if<double Config::*>(&f.member)) {
    double x;
    if (!JsonToDouble(v, &x)) return TypeError(f, v);
    c->**p = x;
  } else if (auto p = std::get_if<bool Config::*>(&f.member)) {
    if (!v.is_boolean()) return TypeError(f, v);
    c->**p = v.get<bool>();
  } else if (auto p = std::get_if<std::string Config::*>(&f.member)) {
    if (!v.is_string()) return TypeError(f, v);
    c->**p = v.get<std::string>();
  } else if (auto p = std::get_if<std::vector<int> Config::*>(&f.member)) {
    if (!v.is_array()) return TypeError(f, v);
    std::vector<int> xs;
    for (const Json& e : v) {
      int x;
      if (!JsonToInt(e, &x)) return TypeError(f, v);
      xs.push_back(x);
    }
    c->**p = xs;
  } else if (auto p = std::get_if<std::vector<double> Config::*>(&f.member)) {
    if (!v.is_array()) return TypeError(f, v);
    std::vector<double> xs;
    for (const Json& e : v) {
      double x;
      if (!JsonToDouble(e, &x)) return TypeError(f, v);
      xs.push_back(x);
    }
    c->**p = xs;
  } else if (auto p = std::get_if<DoubleMap Config::*>(&f.member)) {
    if (!v.is_object()) return TypeError(f, v);
    DoubleMap m;
    for (auto it = v.begin(); it != v.end(); ++it) {
      double x;
      if (!JsonToDouble(it.value(), &x)) return TypeError(f, v);
      m[it.key()] = x;
    }
    c->**p = m;
  } else if (auto p = std::get_if<EnumMember>(&f.member)) {
    if (!v.is_string()) return TypeError(f, v);
    if (!p->set(c, v.get<std::string>())) {
      return absl::InvalidArgumentError(absl::StrCat(f.name, ": must be one of ",
                                                     absl::StrJoin(p->words(), ", "), "; got '",
                                                     v.get<std::string>(), "'"));
    }
  }
  return absl::OkStatus();
}

Json GetField(const Config& c, const Field& f) {
  return std::visit(
      [&c](const auto& member) {
        if constexpr (std::is_same_v<std::decay_t<decltype(member)>, EnumMember>) {
          return Json(member.get(c));
        } else {
          return Json(c.*member);
        }
      },
      f.member);
}

// Turns what users type after KEY= into JSON for the field's type.
absl::StatusOr<Json> ParseText(const Field& f, const std::string& raw) {
  const std::string text(absl::StripAsciiWhitespace(raw));
  const auto bad = [&]() {
    return absl::InvalidArgumentError(absl::StrCat(f.name, ": expected ", TypeName(f.member),
                                                   ", got '", raw, "'"));
  };
  const auto parse = [](const std::string& s, Json* out) {
    *out = Json::parse(s, nullptr, /*allow_exceptions=*/false);
    return !out->is_discarded();
  };
  Json j;
  if (std::holds_alternative<std::string Config::*>(f.member) ||
      std::holds_alternative<EnumMember>(f.member)) {
    // The value goes into JSON (config.json, the experiment log, the config hash), which holds UTF-8.
    absl::Status utf8 = CheckUtf8(text, f.name);
    if (!utf8.ok()) return utf8;
    if (!text.empty() && text.front() == '"') {
      if (!parse(text, &j)) return bad();
      return j;
    }
    return Json(text);
  }
  if (std::holds_alternative<bool Config::*>(f.member)) {
    const std::string t = absl::AsciiStrToLower(text);
    if (t == "true" || t == "1" || t == "yes") return Json(true);
    if (t == "false" || t == "0" || t == "no") return Json(false);
    return bad();
  }
  if (std::holds_alternative<int Config::*>(f.member) ||
      std::holds_alternative<double Config::*>(f.member)) {
    if (!parse(text, &j) || !j.is_number()) return bad();
    return j;
  }
  if (std::holds_alternative<DoubleMap Config::*>(f.member)) {
    if (!text.empty() && text.front() == '{') {
      if (!parse(text, &j)) return bad();
      return j;
    }
    j = Json::object();
    for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
      std::vector<std::string> kv = absl::StrSplit(item, absl::ByAnyChar("=:"));
      if (kv.size() != 2) return bad();
      Json number;
      if (!parse(std::string(absl::StripAsciiWhitespace(kv[1])), &number) || !number.is_number()) {
        return bad();
      }
      j[std::string(absl::StripAsciiWhitespace(kv[0]))] = number;
    }
    return j;
  }
  // Lists: "8,16,32", "[8, 16, 32]", "(56, 56)", "(8,)".
  std::string body = text;
  if (!body.empty() && (body.front() == '(' || body.front() == '[')) {
    const char close = body.front() == '(' ? ')' : ']';
    if (body.back() != close) return bad();
    body = body.substr(1, body.size() - 2);
  }
  body = std::string(absl::StripAsciiWhitespace(body));
  if (!body.empty() && body.back() == ',') body.pop_back();
  if (!parse("[" + body + "]", &j)) return bad();
  return j;
}

std::string FormatValue(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  return v.dump();
}

}  // namespace

template <>
const std::vector<std::pair<Backbone, const char*>>& EnumTable<Backbone>() {
  static const auto* t = new std::vector<std::pair<Backbone, const char*>>{
      {Backbone::kResNet18, "resnet18"},
      {Backbone::kResNet34, "resnet34"},
      {Backbone::kResNet50, "resnet50"},
      {Backbone::kResNet101, "resnet101"}};
  return *t;
}

template <>
const std::vector<std::pair<Precision, const char*>>& EnumTable<Precision>() {
  static const auto* t = new std::vector<std::pair<Precision, const char*>>{
      {Precision::kFp32, "fp32"}, {Precision::kBf16, "bf16"}};
  return *t;
}

template <>
const std::vector<std::pair<ResizeMode, const char*>>& EnumTable<ResizeMode>() {
  static const auto* t = new std::vector<std::pair<ResizeMode, const char*>>{
      {ResizeMode::kNone, "none"},
      {ResizeMode::kSquare, "square"},
      {ResizeMode::kPad64, "pad64"},
      {ResizeMode::kCrop, "crop"},
      {ResizeMode::kTorchvision, "torchvision"}};
  return *t;
}

template <>
const std::vector<std::pair<AnchorConvention, const char*>>& EnumTable<AnchorConvention>() {
  static const auto* t = new std::vector<std::pair<AnchorConvention, const char*>>{
      {AnchorConvention::kMatterport, "matterport"}, {AnchorConvention::kTorchvision, "torchvision"}};
  return *t;
}

template <>
const std::vector<std::pair<ProposalSelection, const char*>>& EnumTable<ProposalSelection>() {
  static const auto* t = new std::vector<std::pair<ProposalSelection, const char*>>{
      {ProposalSelection::kGlobal, "global"}, {ProposalSelection::kPerLevel, "per_level"}};
  return *t;
}

template <>
const std::vector<std::pair<OptimizerKind, const char*>>& EnumTable<OptimizerKind>() {
  static const auto* t = new std::vector<std::pair<OptimizerKind, const char*>>{
      {OptimizerKind::kSgd, "sgd"}, {OptimizerKind::kAdamW, "adamw"}};
  return *t;
}

template <>
const std::vector<std::pair<LearningRateSchedule, const char*>>& EnumTable<LearningRateSchedule>() {
  static const auto* t = new std::vector<std::pair<LearningRateSchedule, const char*>>{
      {LearningRateSchedule::kConstant, "constant"},
      {LearningRateSchedule::kStep, "step"},
      {LearningRateSchedule::kCosine, "cosine"}};
  return *t;
}

std::vector<int> Config::IMAGE_SHAPE() const {
  const int side = IMAGE_RESIZE_MODE == ResizeMode::kCrop ? IMAGE_MIN_DIM : IMAGE_MAX_DIM;
  return {side, side, IMAGE_CHANNEL_COUNT};
}

std::vector<std::string> Config::PresetNames() { return {"matterport", "shapes", "torchvision"}; }

absl::StatusOr<Config> Config::Preset(const std::string& name) {
  Config c;
  if (name == "matterport") return c;
  if (name == "torchvision") {
    // torchvision.models.detection.maskrcnn_resnet50_fpn and the classes it builds, with defaults.
    c.NAME = "maskrcnn_resnet50_fpn";
    c.BACKBONE = Backbone::kResNet50;
    c.NUM_CLASSES = 91;
    c.IMAGE_RESIZE_MODE = ResizeMode::kTorchvision;
    c.IMAGE_MIN_DIM = 800;
    c.IMAGE_MAX_DIM = 1333;
    c.MEAN_PIXEL = {123.675, 116.28, 103.53};  // ImageNet mean, 0-255 units
    c.IMAGE_STD = {58.395, 57.12, 57.375};  // ImageNet std, 0-255 units
    c.RPN_ANCHOR_CONVENTION = AnchorConvention::kTorchvision;
    c.PROPOSAL_SELECTION = ProposalSelection::kPerLevel;
    c.PRE_NMS_LIMIT = 2000;
    c.PRE_NMS_LIMIT_INFERENCE = 1000;
    c.POST_NMS_ROIS_TRAINING = 2000;
    c.POST_NMS_ROIS_INFERENCE = 1000;
    c.RPN_NMS_THRESHOLD = 0.7;
    c.RPN_TRAIN_ANCHORS_PER_IMAGE = 256;
    c.RPN_POSITIVE_FRACTION = 0.5;
    c.RPN_POSITIVE_IOU = 0.7;
    c.RPN_NEGATIVE_IOU = 0.3;
    c.RPN_BBOX_STD_DEV = {1.0, 1.0, 1.0, 1.0};  // BoxCoder weights (1, 1, 1, 1)
    c.BBOX_STD_DEV = {0.1, 0.1, 0.2, 0.2};      // BoxCoder weights (10, 10, 5, 5)
    c.RPN_MIN_SIZE = 1e-3;
    c.TRAIN_ROIS_PER_IMAGE = 512;
    c.ROI_POSITIVE_RATIO = 0.25;
    c.ROI_POSITIVE_IOU = 0.5;
    c.ROI_NEGATIVE_IOU = 0.5;
    c.DETECTION_MIN_CONFIDENCE = 0.05;
    c.DETECTION_NMS_THRESHOLD = 0.5;
    c.DETECTION_MAX_INSTANCES = 100;
    c.ROI_ALIGN_SAMPLING_RATIO = 2;
    c.ROI_ALIGN_ALIGNED = false;
    c.USE_MINI_MASK = false;  // torchvision crops targets from full-size masks
    c.GRADIENT_CLIP_NORM = 0.0;
    c.LEARNING_RATE = 0.02;
    return c;
  }
  if (name == "shapes") {
    // The embedded synthetic-shapes dataset on a CPU: a narrow ResNet-18 (base width 32), FPN 64,
    // 128 px images, 32 ROIs. Sized so a from-scratch run learns the shapes in minutes on 2 cores.
    c.NAME = "shapes";
    c.NUM_CLASSES = 4;  // background, square, circle, triangle
    c.BACKBONE = Backbone::kResNet18;
    c.BACKBONE_BASE_WIDTH = 32;
    c.TOP_DOWN_PYRAMID_SIZE = 64;
    c.FPN_CLASSIF_FC_LAYERS_SIZE = 256;
    c.MASK_HEAD_CHANNELS = 64;
    c.TRAIN_BN = true;
    c.IMAGES_PER_GPU = 4;
    c.IMAGE_RESIZE_MODE = ResizeMode::kSquare;
    c.IMAGE_MIN_DIM = 128;
    c.IMAGE_MAX_DIM = 128;
    c.MEAN_PIXEL = {123.675, 116.28, 103.53};  // ImageNet mean, 0-255 units
    c.IMAGE_STD = {58.395, 57.12, 57.375};  // ImageNet std, 0-255 units
    c.RPN_ANCHOR_SCALES = {8, 16, 32, 64, 128};
    c.RPN_ANCHOR_CONVENTION = AnchorConvention::kTorchvision;
    c.PRE_NMS_LIMIT = 1000;
    c.PRE_NMS_LIMIT_INFERENCE = 500;
    c.POST_NMS_ROIS_TRAINING = 500;
    c.POST_NMS_ROIS_INFERENCE = 250;
    c.TRAIN_ROIS_PER_IMAGE = 32;
    c.MAX_GT_INSTANCES = 10;
    c.DETECTION_MIN_CONFIDENCE = 0.05;
    c.DETECTION_NMS_THRESHOLD = 0.5;
    c.DETECTION_MAX_INSTANCES = 20;
    c.STEPS_PER_EPOCH = 100;
    c.VALIDATION_STEPS = 5;
    // AdamW: from scratch on shapes it reached segm AP50 0.89 at 400 steps where SGD (best rate 0.01)
    // had 0.11 (0.76 at 800); AdamW at 3e-4 was slower and 2e-3 no better (README "Training").
    c.OPTIMIZER = OptimizerKind::kAdamW;
    c.LEARNING_RATE = 0.001;
    c.WARMUP_STEPS = 50;
    return c;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown preset '", name, "' (choose one of ",
                                                 absl::StrJoin(PresetNames(), ", "), ")"));
}

absl::Status Config::SetJson(const std::string& key, const Json& value) {
  const Field* f = FindField(key);
  if (f == nullptr) {
    if (key == "BATCH_SIZE" || key == "IMAGE_SHAPE") {
      return absl::InvalidArgumentError(absl::StrCat(
          key, ": derived value, cannot be set (it follows from ",
          key == "BATCH_SIZE" ? "IMAGES_PER_GPU and GPU_COUNT)"
                              : "IMAGE_RESIZE_MODE, IMAGE_MIN_DIM, IMAGE_MAX_DIM, IMAGE_CHANNEL_COUNT)"));
    }
    return UnknownKey(key);
  }
  return SetField(this, *f, value);
}

absl::Status Config::Set(const std::string& key, const std::string& value) {
  const Field* f = FindField(key);
  if (f == nullptr) return SetJson(key, Json());  // reports unknown or derived keys
  absl::StatusOr<Json> j = ParseText(*f, value);
  if (!j.ok()) return j.status();
  return SetField(this, *f, *j);
}

absl::Status Config::Apply(const Json& overrides, const std::string& source) {
  if (!overrides.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected a JSON object of KEY: value, got ", overrides.type_name()));
  }
  for (auto it = overrides.begin(); it != overrides.end(); ++it) {
    if (it.key() == "preset") {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": \"preset\" chooses the base config and is only allowed at the top "
                               "level of a config file"));
    }
    absl::Status s = SetJson(it.key(), it.value());
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(source, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status Config::Validate() const {
  std::vector<std::string> errors;
  const auto fail = [&errors](const std::string& key, const std::string& reason) {
    errors.push_back(absl::StrCat(key, ": ", reason));
  };
  const auto positive = [&](const char* key, double v) {
    if (!(v > 0)) fail(key, absl::StrCat("must be > 0, got ", v));
  };
  const auto non_negative = [&](const char* key, double v) {
    if (!(v >= 0)) fail(key, absl::StrCat("must be >= 0, got ", v));
  };
  const auto unit = [&](const char* key, double v) {
    if (!(v >= 0 && v <= 1)) fail(key, absl::StrCat("must be in [0, 1], got ", v));
  };
  const auto shape2 = [&](const char* key, const std::vector<int>& v) {
    if (v.size() != 2 || v[0] <= 0 || v[1] <= 0) {
      fail(key, absl::StrCat("must be two positive integers (height, width), got [",
                             absl::StrJoin(v, ","), "]"));
    }
  };

  // NAME names run folders (<model_dir>/<name><timestamp>) and checkpoints (mask_rcnn_<name>_0001.pt).
  if (NAME.empty()) {
    fail("NAME", "must not be empty");
  } else if (NAME.size() > kMaxNameBytes) {
    fail("NAME", absl::StrCat("is ", NAME.size(), " bytes long; at most ", kMaxNameBytes,
                              " (it names run folders and checkpoint files)"));
  } else if (NAME.find_first_of(std::string("/\\\0", 3)) != std::string::npos || NAME.front() == '.' ||
             std::any_of(NAME.begin(), NAME.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
    fail("NAME", absl::StrCat("'", NAME, "' cannot name a folder: no '/', '\\', control characters or "
                              "leading '.'"));
  } else if (!IsValidUtf8(NAME)) {
    fail("NAME", "is not valid UTF-8");
  }
  positive("GPU_COUNT", GPU_COUNT);
  positive("IMAGES_PER_GPU", IMAGES_PER_GPU);
  positive("STEPS_PER_EPOCH", STEPS_PER_EPOCH);
  non_negative("VALIDATION_STEPS", VALIDATION_STEPS);
  positive("BACKBONE_BASE_WIDTH", BACKBONE_BASE_WIDTH);

  // The ResNet-FPN backbone always produces the five levels P2..P6 (mrcnn/backbone refuses others).
  if (BACKBONE_STRIDES != std::vector<int>{4, 8, 16, 32, 64}) {
    fail("BACKBONE_STRIDES",
         absl::StrCat("must be [4,8,16,32,64], the strides of the FPN levels P2..P6 the backbone "
                      "produces, got [",
                      absl::StrJoin(BACKBONE_STRIDES, ","), "]"));
  }
  positive("FPN_CLASSIF_FC_LAYERS_SIZE", FPN_CLASSIF_FC_LAYERS_SIZE);
  positive("TOP_DOWN_PYRAMID_SIZE", TOP_DOWN_PYRAMID_SIZE);
  positive("MASK_HEAD_CHANNELS", MASK_HEAD_CHANNELS);
  if (NUM_CLASSES < 2) {
    fail("NUM_CLASSES", absl::StrCat("must be >= 2 (background plus at least one class), got ",
                                     NUM_CLASSES));
  }

  if (RPN_ANCHOR_SCALES.size() != BACKBONE_STRIDES.size()) {
    fail("RPN_ANCHOR_SCALES",
         absl::StrCat("has ", RPN_ANCHOR_SCALES.size(), " scales but BACKBONE_STRIDES has ",
                      BACKBONE_STRIDES.size(), " levels (give one scale per level)"));
  }
  for (int s : RPN_ANCHOR_SCALES) {
    if (s <= 0) fail("RPN_ANCHOR_SCALES", absl::StrCat("scales must be > 0, got ", s));
  }
  if (RPN_ANCHOR_RATIOS.empty()) fail("RPN_ANCHOR_RATIOS", "must not be empty");
  for (double r : RPN_ANCHOR_RATIOS) {
    if (!(r > 0)) fail("RPN_ANCHOR_RATIOS", absl::StrCat("ratios must be > 0, got ", r));
  }
  // Anchors at every RPN_ANCHOR_STRIDE-th feature cell (matterport's meaning): any positive stride.
  positive("RPN_ANCHOR_STRIDE", RPN_ANCHOR_STRIDE);
  unit("RPN_NMS_THRESHOLD", RPN_NMS_THRESHOLD);
  positive("RPN_TRAIN_ANCHORS_PER_IMAGE", RPN_TRAIN_ANCHORS_PER_IMAGE);
  positive("PRE_NMS_LIMIT", PRE_NMS_LIMIT);
  positive("PRE_NMS_LIMIT_INFERENCE", PRE_NMS_LIMIT_INFERENCE);
  positive("POST_NMS_ROIS_TRAINING", POST_NMS_ROIS_TRAINING);
  positive("POST_NMS_ROIS_INFERENCE", POST_NMS_ROIS_INFERENCE);
  // Global selection keeps at most the pre-NMS limit of boxes before NMS, so it cannot return more
  // (the RPN refuses it); per-level selection keeps the limit on each of the five levels.
  if (PROPOSAL_SELECTION == ProposalSelection::kGlobal) {
    if (POST_NMS_ROIS_TRAINING > PRE_NMS_LIMIT) {
      fail("POST_NMS_ROIS_TRAINING",
           absl::StrCat("must be <= PRE_NMS_LIMIT (", PRE_NMS_LIMIT, ") with PROPOSAL_SELECTION=global, got ",
                        POST_NMS_ROIS_TRAINING));
    }
    if (POST_NMS_ROIS_INFERENCE > PRE_NMS_LIMIT_INFERENCE) {
      fail("POST_NMS_ROIS_INFERENCE",
           absl::StrCat("must be <= PRE_NMS_LIMIT_INFERENCE (", PRE_NMS_LIMIT_INFERENCE,
                        ") with PROPOSAL_SELECTION=global, got ", POST_NMS_ROIS_INFERENCE));
    }
  }
  unit("RPN_POSITIVE_IOU", RPN_POSITIVE_IOU);
  unit("RPN_NEGATIVE_IOU", RPN_NEGATIVE_IOU);
  if (RPN_NEGATIVE_IOU > RPN_POSITIVE_IOU) {
    fail("RPN_NEGATIVE_IOU", absl::StrCat("must be <= RPN_POSITIVE_IOU (", RPN_POSITIVE_IOU,
                                          "), got ", RPN_NEGATIVE_IOU));
  }
  unit("RPN_POSITIVE_FRACTION", RPN_POSITIVE_FRACTION);
  non_negative("RPN_MIN_SIZE", RPN_MIN_SIZE);

  shape2("MINI_MASK_SHAPE", MINI_MASK_SHAPE);
  shape2("MASK_SHAPE", MASK_SHAPE);
  positive("POOL_SIZE", POOL_SIZE);
  positive("MASK_POOL_SIZE", MASK_POOL_SIZE);
  const int64_t mask_side = 2 * static_cast<int64_t>(MASK_POOL_SIZE);  // no int overflow for any input
  if (MASK_SHAPE.size() == 2 && (MASK_SHAPE[0] != mask_side || MASK_SHAPE[1] != mask_side)) {
    fail("MASK_SHAPE", absl::StrCat("must be [2 * MASK_POOL_SIZE, 2 * MASK_POOL_SIZE] = [",
                                    mask_side, ",", mask_side,
                                    "] because the mask head upsamples its pooled features once by 2"));
  }

  positive("IMAGE_MIN_DIM", IMAGE_MIN_DIM);
  positive("IMAGE_MAX_DIM", IMAGE_MAX_DIM);
  if (IMAGE_MIN_DIM > IMAGE_MAX_DIM) {
    fail("IMAGE_MIN_DIM", absl::StrCat("must be <= IMAGE_MAX_DIM (", IMAGE_MAX_DIM, "), got ",
                                       IMAGE_MIN_DIM));
  }
  non_negative("IMAGE_MIN_SCALE", IMAGE_MIN_SCALE);
  if (IMAGE_RESIZE_MODE == ResizeMode::kSquare || IMAGE_RESIZE_MODE == ResizeMode::kCrop) {
    const char* key = IMAGE_RESIZE_MODE == ResizeMode::kSquare ? "IMAGE_MAX_DIM" : "IMAGE_MIN_DIM";
    const int side = IMAGE_SHAPE()[0];
    if (side % 64 != 0) {
      fail(key, absl::StrCat("must be a multiple of 64 in ", EnumName(IMAGE_RESIZE_MODE),
                             " mode (the network halves the image 6 times), got ", side));
    }
  }
  if (IMAGE_RESIZE_MODE == ResizeMode::kPad64 && IMAGE_MIN_DIM % 64 != 0) {
    fail("IMAGE_MIN_DIM", absl::StrCat("must be a multiple of 64 in pad64 mode, got ", IMAGE_MIN_DIM));
  }
  // The loaders decode RGB and the model's first convolution takes 3 channels.
  if (IMAGE_CHANNEL_COUNT != 3) {
    fail("IMAGE_CHANNEL_COUNT", absl::StrCat("must be 3 (RGB: the loaders and the model take 3 channels), got ",
                                             IMAGE_CHANNEL_COUNT));
  }
  if (static_cast<int>(MEAN_PIXEL.size()) != IMAGE_CHANNEL_COUNT) {
    fail("MEAN_PIXEL", absl::StrCat("has ", MEAN_PIXEL.size(), " values but IMAGE_CHANNEL_COUNT is ",
                                    IMAGE_CHANNEL_COUNT));
  }
  if (static_cast<int>(IMAGE_STD.size()) != IMAGE_CHANNEL_COUNT) {
    fail("IMAGE_STD", absl::StrCat("has ", IMAGE_STD.size(), " values but IMAGE_CHANNEL_COUNT is ",
                                   IMAGE_CHANNEL_COUNT));
  }
  for (double s : IMAGE_STD) {
    if (!(s > 0)) fail("IMAGE_STD", absl::StrCat("values must be > 0, got ", s));
  }
  if (IMAGE_MAX_PIXELS < 1 || IMAGE_MAX_PIXELS > (1 << 30)) {
    fail("IMAGE_MAX_PIXELS", absl::StrCat("must be in [1, 1073741824] (2^30 pixels, OpenCV's decoder limit), got ",
                                          IMAGE_MAX_PIXELS));
  }

  positive("TRAIN_ROIS_PER_IMAGE", TRAIN_ROIS_PER_IMAGE);
  if (!(ROI_POSITIVE_RATIO > 0 && ROI_POSITIVE_RATIO <= 1)) {
    fail("ROI_POSITIVE_RATIO", absl::StrCat("must be in (0, 1], got ", ROI_POSITIVE_RATIO));
  }
  unit("ROI_POSITIVE_IOU", ROI_POSITIVE_IOU);
  unit("ROI_NEGATIVE_IOU", ROI_NEGATIVE_IOU);
  if (ROI_NEGATIVE_IOU > ROI_POSITIVE_IOU) {
    fail("ROI_NEGATIVE_IOU", absl::StrCat("must be <= ROI_POSITIVE_IOU (", ROI_POSITIVE_IOU,
                                          "), got ", ROI_NEGATIVE_IOU));
  }
  positive("MAX_GT_INSTANCES", MAX_GT_INSTANCES);
  for (const auto& [key, v] : {std::pair<const char*, const std::vector<double>*>{"RPN_BBOX_STD_DEV", &RPN_BBOX_STD_DEV},
                               {"BBOX_STD_DEV", &BBOX_STD_DEV}}) {
    bool ok = v->size() == 4;
    for (double x : *v) ok = ok && x > 0;
    if (!ok) fail(key, absl::StrCat("must be 4 positive numbers (dy, dx, dh, dw), got [",
                                    absl::StrJoin(*v, ","), "]"));
  }
  positive("DETECTION_MAX_INSTANCES", DETECTION_MAX_INSTANCES);
  unit("DETECTION_MIN_CONFIDENCE", DETECTION_MIN_CONFIDENCE);
  unit("DETECTION_NMS_THRESHOLD", DETECTION_NMS_THRESHOLD);

  positive("LEARNING_RATE", LEARNING_RATE);
  if (!(LEARNING_MOMENTUM >= 0 && LEARNING_MOMENTUM < 1)) {
    fail("LEARNING_MOMENTUM", absl::StrCat("must be in [0, 1), got ", LEARNING_MOMENTUM));
  }
  non_negative("WEIGHT_DECAY", WEIGHT_DECAY);
  non_negative("GRADIENT_CLIP_NORM", GRADIENT_CLIP_NORM);
  non_negative("WARMUP_STEPS", WARMUP_STEPS);
  for (size_t i = 0; i < LEARNING_RATE_STEPS.size(); ++i) {
    if (LEARNING_RATE_STEPS[i] <= 0 || (i > 0 && LEARNING_RATE_STEPS[i] <= LEARNING_RATE_STEPS[i - 1])) {
      fail("LEARNING_RATE_STEPS", "must be positive and increasing");
      break;
    }
  }
  if (!(LEARNING_RATE_DECAY > 0 && LEARNING_RATE_DECAY <= 1)) {
    fail("LEARNING_RATE_DECAY", absl::StrCat("must be in (0, 1], got ", LEARNING_RATE_DECAY));
  }
  for (const auto& [name, w] : LOSS_WEIGHTS) {
    if (std::find(LossNames().begin(), LossNames().end(), name) == LossNames().end()) {
      fail("LOSS_WEIGHTS", absl::StrCat("unknown loss '", name, "' (known: ",
                                        absl::StrJoin(LossNames(), ", "), ")"));
    } else if (!(w >= 0)) {
      fail("LOSS_WEIGHTS", absl::StrCat("weight of ", name, " must be >= 0, got ", w));
    }
  }
  if (SEED < 0) fail("SEED", absl::StrCat("must be >= 0, got ", SEED));

  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
}

Json Config::ToJson() const {
  Json j = Json::object();
  for (const Field& f : Fields()) j[f.name] = GetField(*this, f);
  return j;
}

Json Config::ToJsonWithDerived() const {
  Json j = ToJson();
  j["BATCH_SIZE"] = BATCH_SIZE();
  j["IMAGE_SHAPE"] = IMAGE_SHAPE();
  return j;
}

absl::StatusOr<Config> Config::FromJson(const Json& j, const std::string& source) {
  Config c;
  absl::Status s = c.Apply(j, source);
  if (!s.ok()) return s;
  return c;
}

void Config::Display(std::ostream& out) const {
  out << "\nConfigurations:\n";
  const Json j = ToJsonWithDerived();  // an ordered map: keys come out sorted
  for (auto it = j.begin(); it != j.end(); ++it) {
    out << std::left << std::setw(30) << it.key() << " " << FormatValue(it.value()) << "\n";
  }
  out << "\n";
}

std::string Config::Hash() const {
  const std::string canonical = ToJson().dump();
  const XXH64_hash_t h = XXH64(canonical.data(), canonical.size(), /*seed=*/0);
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::vector<std::string> Config::FieldNames() {
  std::vector<std::string> names;
  for (const Field& f : Fields()) names.push_back(f.name);
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

// A config file split into its optional "preset" and the overrides that follow it.
struct ConfigFile {
  std::string preset;  // empty when the file names none
  Json overrides;
};

absl::StatusOr<ConfigFile> ReadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open config file"));
  ConfigFile file;
  file.overrides = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (file.overrides.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON"));
  }
  if (!file.overrides.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": expected a JSON object of KEY: value, got ", file.overrides.type_name()));
  }
  if (file.overrides.contains("preset")) {
    const Json& p = file.overrides["preset"];
    if (!p.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": \"preset\" must be a string"));
    }
    file.preset = p.get<std::string>();
    file.overrides.erase("preset");
  }
  return file;
}

absl::StatusOr<Config> PresetFor(const std::string& name, const std::string& source) {
  absl::StatusOr<Config> c = Config::Preset(name);
  if (!c.ok()) return absl::InvalidArgumentError(absl::StrCat(source, ": ", c.status().message()));
  return c;
}

}  // namespace

absl::StatusOr<Config> LoadConfigFile(const std::string& path, const Config& base) {
  absl::StatusOr<ConfigFile> file = ReadConfigFile(path);
  if (!file.ok()) return file.status();
  Config c = base;
  if (!file->preset.empty()) {
    absl::StatusOr<Config> p = PresetFor(file->preset, path);
    if (!p.ok()) return p.status();
    c = *p;
  }
  absl::Status s = c.Apply(file->overrides, path);
  if (!s.ok()) return s;
  return c;
}

absl::StatusOr<Config> BuildConfig(const std::string& preset, const std::string& config_file,
                                   const std::vector<std::string>& set_flags) {
  // The base is --preset when given, else the file's "preset", else "shapes".
  ConfigFile file;
  if (!config_file.empty()) {
    absl::StatusOr<ConfigFile> read = ReadConfigFile(config_file);
    if (!read.ok()) return read.status();
    file = *read;
  }
  const std::string base = !preset.empty() ? preset : !file.preset.empty() ? file.preset : "shapes";
  absl::StatusOr<Config> c = PresetFor(base, preset.empty() && !file.preset.empty() ? config_file : "--preset");
  if (!c.ok()) return c.status();
  if (!config_file.empty()) {
    absl::Status s = c->Apply(file.overrides, config_file);
    if (!s.ok()) return s;
  }
  for (const std::string& kv : set_flags) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--set ", kv, ": expected KEY=VALUE (e.g. --set RPN_ANCHOR_STRIDE=2)"));
    }
    absl::Status s = c->Set(kv.substr(0, eq), kv.substr(eq + 1));
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("--set ", kv, ": ", s.message()));
  }
  absl::Status s = c->Validate();
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("invalid config: ", s.message()));
  return c;
}

}  // namespace mrcnn
