// Layer selection: each of matterport's presets trains exactly the parameters of its stages, mapped to
// our names (res2..res5 = layer1..layer4; stage 1 = conv1/bn1; heads = rpn, fpn, roi_heads). The
// expected sets are built here from name prefixes, independently of the regular expressions.
#include "mrcnn/train/layers.h"

#include <set>
#include <string>
#include <vector>

#include <torch/nn/modules/batchnorm.h>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "mrcnn/model/mask_rcnn.h"

namespace mrcnn {
namespace {

Config TinyConfig() {
  Config c = Config::Preset("shapes").value();
  c.BACKBONE_BASE_WIDTH = 8;
  c.TOP_DOWN_PYRAMID_SIZE = 16;
  c.FPN_CLASSIF_FC_LAYERS_SIZE = 32;
  c.MASK_HEAD_CHANNELS = 8;
  c.TRAIN_BN = true;  // BatchNorm weights are parameters, so presets must freeze them too
  return c;
}

std::set<std::string> WithPrefixes(const torch::nn::Module& m, const std::vector<std::string>& prefixes) {
  std::set<std::string> out;
  for (const auto& p : m.named_parameters(true)) {
    for (const std::string& pre : prefixes) {
      if (absl::StartsWith(p.key(), pre)) out.insert(p.key());
    }
  }
  return out;
}

std::set<std::string> Trainable(const torch::nn::Module& m) {
  std::set<std::string> out;
  for (const auto& p : m.named_parameters(true)) {
    if (p.value().requires_grad()) out.insert(p.key());
  }
  return out;
}

TEST(LayersTest, PresetsFreezeExactlyTheirStages) {
  MaskRCNN model = CreateMaskRCNN(TinyConfig()).value();
  const std::vector<std::string> heads = {"backbone.fpn.", "rpn.", "roi_heads."};
  auto plus = [&](std::vector<std::string> extra) {
    extra.insert(extra.end(), heads.begin(), heads.end());
    return extra;
  };
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"heads", heads},
      {"5+", plus({"backbone.body.layer4."})},
      {"4+", plus({"backbone.body.layer3.", "backbone.body.layer4."})},
      {"3+", plus({"backbone.body.layer2.", "backbone.body.layer3.", "backbone.body.layer4."})},
      {"all", {""}},
  };
  const size_t total = model->parameters().size();
  for (const auto& [preset, prefixes] : cases) {
    absl::StatusOr<LayerSelection> s = SelectLayers(*model, preset);
    ASSERT_TRUE(s.ok()) << s.status();
    const std::set<std::string> expected = WithPrefixes(*model, prefixes);
    EXPECT_EQ(Trainable(*model), expected) << preset;
    EXPECT_EQ(std::set<std::string>(s->trainable.begin(), s->trainable.end()), expected) << preset;
    EXPECT_EQ(s->trainable.size() + s->frozen.size(), total) << preset;
    // Stage 1 and res2 only train with "all".
    for (const char* name : {"backbone.body.conv1.weight", "backbone.body.bn1.weight",
                                    "backbone.body.layer1.0.conv1.weight"}) {
      EXPECT_EQ(expected.count(name), preset == "all" ? 1u : 0u) << preset << " " << name;
    }
  }
  // Spot checks of the sizes: heads are never empty, each preset adds parameters.
  EXPECT_LT(WithPrefixes(*model, heads).size(), WithPrefixes(*model, plus({"backbone.body.layer4."})).size());
}

TEST(LayersTest, RegexMatchesWholeNames) {
  MaskRCNN model = CreateMaskRCNN(TinyConfig()).value();
  absl::StatusOr<LayerSelection> s = SelectLayers(*model, R"(roi_heads\.mask_.*)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(Trainable(*model), WithPrefixes(*model, {"roi_heads.mask_head.", "roi_heads.mask_predictor."}));
  // fullmatch: "mask" alone matches no whole name.
  absl::StatusOr<LayerSelection> none = SelectLayers(*model, "mask");
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(absl::StrContains(none.status().message(), "selects no parameter")) << none.status();
  absl::StatusOr<LayerSelection> bad = SelectLayers(*model, "(rpn");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "not a valid regular expression")) << bad.status();
}

TEST(LayersTest, FrozenBatchNormStaysInEvalMode) {
  MaskRCNN model = CreateMaskRCNN(TinyConfig()).value();
  ASSERT_TRUE(SelectLayers(*model, "4+").ok());
  model->train();
  const int switched = SetFrozenBatchNormEval(*model);
  EXPECT_GT(switched, 0);
  for (const auto& item : model->named_modules()) {
    auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(item.value().get());
    if (bn == nullptr) continue;
    const bool trainable_stage = absl::StartsWith(item.key(), "backbone.body.layer3") ||
                                 absl::StartsWith(item.key(), "backbone.body.layer4");
    EXPECT_EQ(bn->is_training(), trainable_stage) << item.key();
  }
}

}  // namespace
}  // namespace mrcnn
