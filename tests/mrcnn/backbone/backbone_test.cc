// Backbone tests: torchvision parity (ResNet-18/34/50/101 at narrow width, frozen and trained batch
// norm), output shapes, torchvision's trainable-layer freezing, frozen batch norm, config errors.
#include "mrcnn/backbone/backbone.h"

#include <set>
#include <string>
#include <tuple>

#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include "mrcnn/backbone/batch_norm.h"
#include "mrcnn/weights/weights.h"
#include "tests/mrcnn/reference.h"

namespace mrcnn {
namespace {

using ::mrcnn::testing::AllClose;

// Holds the backbone under the name it has in the model, so checkpoint names load unchanged.
struct HolderImpl : torch::nn::Module {
  explicit HolderImpl(const BackboneOptions& o) {
    backbone = register_module("backbone", BackboneWithFPN(o));
  }
  BackboneWithFPN backbone{nullptr};
};
TORCH_MODULE(Holder);

// depth, base width, FPN channels, trainable batch norm
using ParityCase = std::tuple<std::string, int, int, bool>;

class BackboneParityTest : public ::testing::TestWithParam<ParityCase> {};

TEST_P(BackboneParityTest, MatchesTorchvision) {
  const auto& [depth, width, fpn, trainable_bn] = GetParam();
  const int batch = trainable_bn ? 2 : 1;
  absl::StatusOr<std::string> dir = testing::RunTorchvisionReference(
      absl::StrCat("backbone --depth ", depth, " --width ", width, " --fpn ", fpn,
                   " --trainable_bn ", trainable_bn ? 1 : 0, " --batch ", batch,
                   " --height 64 --image_width 80 --seed 3"),
      "ref_" + depth);
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<std::string> weights = testing::ConvertCheckpoint(*dir + "/model.pth");
  ASSERT_TRUE(weights.ok()) << weights.status();
  absl::StatusOr<TensorMap> ref = ReadTensorFile(*dir + "/ref.pt");
  ASSERT_TRUE(ref.ok()) << ref.status();

  BackboneOptions o;
  o.resnet = {depth, width, trainable_bn};
  o.out_channels = fpn;
  torch::manual_seed(0);
  Holder holder(o);
  absl::StatusOr<LoadReport> report = LoadWeights(*holder, *weights, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->complete()) << report->Summary();
  EXPECT_TRUE(report->unused.empty()) << report->Summary();
  EXPECT_GT(report->loaded.size(), 20u);

  if (trainable_bn) {
    holder->train();
  } else {
    holder->eval();
  }
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> p = holder->backbone->forward(ref->at("images"));
  ASSERT_EQ(p.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    const torch::Tensor& expected = ref->at(absl::StrCat("p", i + 2));
    const double scale = expected.abs().max().item<double>();
    EXPECT_TRUE(AllClose(p[i], expected, 1e-5 * scale, 1e-4)) << depth << " P" << i + 2;
  }
  if (trainable_bn) {
    // One train-mode forward moves the running statistics exactly as torchvision's BatchNorm2d does.
    const TensorMap ours = StateDict(*holder);
    int compared = 0;
    for (const auto& [name, expected] : *ref) {
      if (name.rfind("after.", 0) != 0) continue;
      const std::string key = name.substr(6);
      ASSERT_TRUE(ours.count(key)) << key;
      EXPECT_TRUE(AllClose(ours.at(key), expected, 1e-5, 1e-4)) << key;
      ++compared;
    }
    EXPECT_GT(compared, 20);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Depths, BackboneParityTest,
    ::testing::Values(ParityCase{"resnet18", 16, 32, false}, ParityCase{"resnet34", 16, 32, false},
                      ParityCase{"resnet50", 16, 32, false}, ParityCase{"resnet101", 8, 16, false},
                      ParityCase{"resnet18", 8, 16, true}, ParityCase{"resnet50", 8, 16, true}),
    [](const ::testing::TestParamInfo<ParityCase>& info) {
      return absl::StrCat(std::get<0>(info.param), "_w", std::get<1>(info.param),
                          std::get<3>(info.param) ? "_trainbn" : "_frozen");
    });

TEST(BackboneTest, ShapesAndChannels) {
  torch::manual_seed(0);
  BackboneWithFPN bottleneck(BackboneOptions{{"resnet50", 8, false}, 24});
  EXPECT_EQ(bottleneck->body->channels(), (std::vector<int64_t>{32, 64, 128, 256}));
  BackboneWithFPN basic(BackboneOptions{{"resnet34", 8, false}, 24});
  EXPECT_EQ(basic->body->channels(), (std::vector<int64_t>{8, 16, 32, 64}));
  torch::NoGradGuard no_grad;
  // Odd sizes: every stride-2 step rounds up, as a 3x3 conv with padding 1 does.
  const std::vector<torch::Tensor> p = bottleneck->forward(torch::randn({2, 3, 65, 97}));
  // Each level is ceil(size / stride): 65x97 -> 17x25, 9x13, 5x7, 3x4, 2x2.
  const std::vector<std::vector<int64_t>> sizes = {{17, 25}, {9, 13}, {5, 7}, {3, 4}, {2, 2}};
  ASSERT_EQ(p.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(p[i].sizes(), (std::vector<int64_t>{2, 24, sizes[i][0], sizes[i][1]})) << "level " << i;
  }
}

TEST(BackboneTest, NamesAreTorchvisions) {
  torch::manual_seed(0);
  Holder holder(BackboneOptions{{"resnet50", 64, false}, 256});
  const TensorMap names = StateDict(*holder);
  for (const char* n :
       {"backbone.body.conv1.weight", "backbone.body.bn1.running_var",
        "backbone.body.layer1.0.downsample.0.weight", "backbone.body.layer1.0.downsample.1.bias",
        "backbone.body.layer2.0.conv2.weight", "backbone.body.layer4.2.bn3.running_mean",
        "backbone.fpn.inner_blocks.3.0.weight", "backbone.fpn.layer_blocks.0.0.bias"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  // Bottleneck v1.5: the stride sits on the 3x3 conv.
  const auto* block = holder->backbone->body->stages[1]->ptr(0)->as<ResidualBlockImpl>();
  ASSERT_NE(block, nullptr);
  EXPECT_EQ((*block->convs[0]->options.stride())[0], 1);
  EXPECT_EQ((*block->convs[1]->options.stride())[0], 2);
  EXPECT_EQ(names.at("backbone.fpn.inner_blocks.3.0.weight").sizes(),
            (std::vector<int64_t>{256, 2048, 1, 1}));
}

TEST(BackboneTest, FrozenBatchNormHasNoParameters) {
  torch::manual_seed(0);
  ResNet frozen(ResNetOptions{"resnet18", 8, false});
  for (const auto& item : frozen->named_parameters()) {
    EXPECT_EQ(item.value().dim(), 4) << item.key() << " is not a conv weight";
  }
  ResNet trained(ResNetOptions{"resnet18", 8, true});
  EXPECT_EQ(trained->named_parameters().size(), frozen->named_parameters().size() * 3);
}

TEST(BackboneTest, FrozenBatchNormFormulaAndModes) {
  FrozenBatchNorm2d bn(2);
  bn->weight.copy_(torch::tensor({2.0f, 0.5f}));
  bn->bias.copy_(torch::tensor({1.0f, -1.0f}));
  bn->running_mean.copy_(torch::tensor({3.0f, 0.0f}));
  bn->running_var.copy_(torch::tensor({4.0f - 1e-5f, 1.0f - 1e-5f}));
  const torch::Tensor x = torch::tensor({5.0f, 2.0f}).reshape({1, 2, 1, 1});
  // (5 - 3) / 2 * 2 + 1 = 3; (2 - 0) / 1 * 0.5 - 1 = 0
  const torch::Tensor expected = torch::tensor({3.0f, 0.0f}).reshape({1, 2, 1, 1});
  bn->train();
  EXPECT_TRUE(AllClose(bn->forward(x), expected, 1e-6, 1e-6));
  bn->eval();
  EXPECT_TRUE(AllClose(bn->forward(x), expected, 1e-6, 1e-6));
  EXPECT_THROW(bn->forward(torch::zeros({1, 3, 2, 2})), c10::Error);
}

TEST(BackboneTest, TrainableLayersFollowTorchvision) {
  torch::manual_seed(0);
  ResNet body(ResNetOptions{"resnet18", 8, true});
  const auto trainable = [&]() {
    std::set<std::string> prefixes;
    for (const auto& item : body->named_parameters()) {
      if (item.value().requires_grad()) prefixes.insert(item.key().substr(0, item.key().find('.')));
    }
    return prefixes;
  };
  SetTrainableLayers(*body, 3);
  EXPECT_EQ(trainable(), (std::set<std::string>{"layer2", "layer3", "layer4"}));
  SetTrainableLayers(*body, 5);
  EXPECT_EQ(trainable(), (std::set<std::string>{"bn1", "conv1", "layer1", "layer2", "layer3", "layer4"}));
  SetTrainableLayers(*body, 1);
  EXPECT_EQ(trainable(), (std::set<std::string>{"layer4"}));
  SetTrainableLayers(*body, 0);
  EXPECT_TRUE(trainable().empty());
  EXPECT_THROW(SetTrainableLayers(*body, 6), c10::Error);
}

TEST(BackboneTest, ConfigErrorsNameTheKey) {
  Config c = Config::Preset("torchvision").value();
  absl::StatusOr<BackboneOptions> o = BackboneOptionsFromConfig(c);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->resnet.depth, "resnet50");
  EXPECT_EQ(o->out_channels, 256);
  EXPECT_FALSE(o->resnet.trainable_bn);

  // An unknown backbone is refused when the config is set, naming the key and the value.
  const absl::Status unknown = c.Set("BACKBONE", "resnet152");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.message().find("BACKBONE"), std::string::npos) << unknown;
  EXPECT_NE(unknown.message().find("resnet152"), std::string::npos) << unknown;

  c = Config::Preset("shapes").value();
  c.BACKBONE_STRIDES = {4, 8, 16, 32, 128};
  o = BackboneOptionsFromConfig(c);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("BACKBONE_STRIDES"), std::string::npos) << o.status();

  c = Config::Preset("shapes").value();
  c.BACKBONE_BASE_WIDTH = 0;
  EXPECT_FALSE(BackboneOptionsFromConfig(c).ok());
  EXPECT_THROW(ResNet(ResNetOptions{"resnet7", 8, false}), c10::Error);
}

}  // namespace
}  // namespace mrcnn
