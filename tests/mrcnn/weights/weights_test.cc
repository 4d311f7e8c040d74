// Weight files and loading by name: round trips with Python, error messages, the load report, the
// exclude list, and the torchvision converter's renaming (old spelling, wrappers, ImageNet ResNets).
#include "mrcnn/weights/weights.h"

#include <fstream>

#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>

#include "absl/strings/str_cat.h"
#include "tests/mrcnn/reference.h"

namespace mrcnn {
namespace {

using ::mrcnn::testing::RunCommand;
using ::mrcnn::testing::TempDir;

// Runs a Python snippet with Debian's torch; `{dir}` is not expanded, pass paths in the code.
absl::Status Python(const std::string& code) {
  const std::string script = TempDir("py") + "/snippet.py";
  std::ofstream(script) << "import collections, torch\n" << code << "\n";
  return RunCommand("/usr/bin/python3 " + script);
}

bool Contains(const absl::Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

TEST(WeightsTest, RoundTripAndPythonReadsOurFiles) {
  const std::string path = TempDir("roundtrip") + "/w.pt";
  TensorMap tensors = {{"a.weight", torch::arange(6, torch::kFloat).reshape({2, 3})},
                       {"b", torch::tensor({1, 2}, torch::kLong)},
                       {"view", torch::arange(12, torch::kFloat).reshape({3, 4}).select(1, 2)}};
  ASSERT_TRUE(WriteTensorFile(path, tensors).ok());
  absl::StatusOr<TensorMap> back = ReadTensorFile(path);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), 3u);
  for (const auto& [name, t] : tensors) EXPECT_TRUE(torch::equal(back->at(name), t)) << name;
  absl::Status s = Python(absl::StrCat(
      "d = torch.load('", path, "')\n", "assert type(d) is dict and sorted(d) == ['a.weight', 'b', 'view'], d\n",
      "assert torch.equal(d['view'], torch.tensor([2., 6., 10.])), d['view']\n",
      "assert d['b'].dtype == torch.int64"));
  EXPECT_TRUE(s.ok()) << s;
}

TEST(WeightsTest, ReadsTorchSaveOfAPlainDict) {
  const std::string dir = TempDir("plain");
  ASSERT_TRUE(Python(absl::StrCat("torch.save({'x': torch.full((2, 2), 3.0), 'y.z': torch.ones(3, dtype=torch.float64)}, '",
                                  dir, "/p.pt')")).ok());
  absl::StatusOr<TensorMap> t = ReadTensorFile(dir + "/p.pt");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(torch::equal(t->at("x"), torch::full({2, 2}, 3.0)));
  EXPECT_EQ(t->at("y.z").scalar_type(), torch::kDouble);
}

TEST(WeightsTest, ErrorsNameTheFileAndTheReason) {
  const std::string dir = TempDir("errors");
  absl::StatusOr<TensorMap> r = ReadTensorFile(dir + "/absent.pt");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(r.status(), dir + "/absent.pt")) << r.status();

  std::ofstream(dir + "/text.pt") << "not weights";
  r = ReadTensorFile(dir + "/text.pt");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status(), "not a weight file")) << r.status();
  EXPECT_FALSE(Contains(r.status(), "convert_torchvision")) << r.status();
  std::ofstream(dir + "/empty.pt").close();
  r = ReadTensorFile(dir + "/empty.pt");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status(), "empty.pt: empty file (0 bytes)")) << r.status();
  EXPECT_FALSE(Contains(r.status(), "pickle")) << r.status();

  ASSERT_TRUE(Python(absl::StrCat(
      "torch.save(collections.OrderedDict(a=torch.ones(1), b=torch.ones(2)), '", dir, "/od.pth')\n",
      "torch.save({'a': torch.ones(1)}, '", dir, "/legacy.pth', _use_new_zipfile_serialization=False)\n",
      "torch.save({'a': 3, 'b': 4}, '", dir, "/int.pt')\n",
      "torch.save([torch.ones(1), torch.ones(2)], '", dir, "/list.pt')\n",
      "torch.save({'a': torch.ones(1)}, '", dir, "/single.pt')")).ok());
  r = ReadTensorFile(dir + "/od.pth");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status(), "plain dict of tensors")) << r.status();
  EXPECT_TRUE(Contains(r.status(), "convert_torchvision.py")) << r.status();
  r = ReadTensorFile(dir + "/legacy.pth");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status(), "legacy (pre-1.6, non-zip) torch.save pickle")) << r.status();
  EXPECT_TRUE(Contains(r.status(), "convert_torchvision.py")) << r.status();
  // A whole archive cut short says so, and does not send the user to the converter.
  {
    std::ifstream in(dir + "/od.pth", std::ios::binary);
    std::string whole((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(dir + "/cut.pt", std::ios::binary) << whole.substr(0, whole.size() / 2);
  }
  r = ReadTensorFile(dir + "/cut.pt");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status(), "cut.pt: truncated: the zip archive ends before its directory"))
      << r.status();
  EXPECT_FALSE(Contains(r.status(), "convert_torchvision")) << r.status();
  r = ReadTensorFile(dir + "/int.pt");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status(), "entry 'a'")) << r.status();
  r = ReadTensorFile(dir + "/list.pt");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status(), "expected a dict")) << r.status();
  // Python pickles a one-entry dict with an opcode LibTorch's unpickler lacks: still a clear error.
  r = ReadTensorFile(dir + "/single.pt");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status(), "cannot unpickle")) << r.status();
  EXPECT_TRUE(Contains(r.status(), "single.pt")) << r.status();

  EXPECT_FALSE(WriteTensorFile(dir + "/no/such/dir/w.pt", {}).ok());
}

TEST(WeightsTest, IsExcludedMatchesWholeNameComponents) {
  EXPECT_TRUE(IsExcluded("roi_heads.box_predictor.cls_score.weight", {"roi_heads.box_predictor"}));
  EXPECT_TRUE(IsExcluded("rpn.head.conv.0.0.weight", {"rpn.head.conv.0.0.weight"}));
  EXPECT_TRUE(IsExcluded("rpn.head.bbox_pred.bias", {"x", "rpn."}));
  EXPECT_FALSE(IsExcluded("rpn_extra.weight", {"rpn"}));
  EXPECT_FALSE(IsExcluded("roi_heads.box_predictor2.w", {"roi_heads.box_predictor"}));
  EXPECT_FALSE(IsExcluded("a.b", {""}));
}

struct NetImpl : torch::nn::Module {
  NetImpl() {
    fc = register_module("fc", torch::nn::Linear(3, 2));
    head = register_module("head", torch::nn::Linear(2, 1));
    steps = register_buffer("steps", torch::zeros({1}));
  }
  torch::nn::Linear fc{nullptr}, head{nullptr};
  torch::Tensor steps;
};
TORCH_MODULE(Net);

TEST(WeightsTest, LoadReportSortsEveryName) {
  Net net;
  net->head->weight.set_requires_grad(false);
  const TensorMap file = {{"fc.weight", torch::ones({2, 3}, torch::kDouble)},
                          {"fc.bias", torch::ones({5})},
                          {"head.weight", torch::full({1, 2}, 7.0)},
                          {"steps", torch::full({1}, 4.0)},
                          {"extra", torch::ones({1})}};
  LoadReport r = LoadStateDict(*net, file, {});
  EXPECT_EQ(r.loaded, (std::vector<std::string>{"fc.weight", "head.weight", "steps"}));
  ASSERT_EQ(r.shape_mismatch.size(), 1u);
  EXPECT_EQ(r.shape_mismatch[0], "fc.bias: file [5] vs module [2]");
  EXPECT_EQ(r.missing, (std::vector<std::string>{"head.bias"}));
  EXPECT_EQ(r.unused, (std::vector<std::string>{"extra"}));
  EXPECT_FALSE(r.complete());
  EXPECT_NE(r.Summary().find("missing: head.bias"), std::string::npos) << r.Summary();
  EXPECT_TRUE(torch::equal(net->fc->weight, torch::ones({2, 3})));  // converted from double
  EXPECT_EQ(net->fc->weight.scalar_type(), torch::kFloat);
  EXPECT_TRUE(net->fc->weight.requires_grad());
  EXPECT_FALSE(net->head->weight.requires_grad());
  EXPECT_EQ(net->steps.item<float>(), 4.0f);

  Net fresh;
  const torch::Tensor before = fresh->head->weight.clone();
  r = LoadStateDict(*fresh, file, {"head", "fc.bias"});
  EXPECT_EQ(r.loaded, (std::vector<std::string>{"fc.weight", "steps"}));
  EXPECT_TRUE(r.shape_mismatch.empty());
  EXPECT_TRUE(r.missing.empty());
  EXPECT_EQ(r.excluded, (std::vector<std::string>{"fc.bias", "head.weight"}));
  EXPECT_TRUE(r.complete());
  EXPECT_TRUE(torch::equal(fresh->head->weight, before));
}

TEST(WeightsTest, SaveWeightsLoadsBackIntoAFreshModule) {
  const std::string path = TempDir("save") + "/net.pt";
  torch::manual_seed(1);
  Net a;
  ASSERT_TRUE(SaveWeights(*a, path).ok());
  torch::manual_seed(2);
  Net b;
  absl::StatusOr<LoadReport> r = LoadWeights(*b, path, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->complete() && r->unused.empty()) << r->Summary();
  EXPECT_TRUE(torch::equal(a->fc->weight, b->fc->weight));
  EXPECT_TRUE(torch::equal(a->head->bias, b->head->bias));
}

TEST(ConverterTest, RenamesOldSpellingAndUnwraps) {
  const std::string dir = TempDir("convert");
  // Checkpoints as users have them: pre-0.13 names, a training-script wrapper with DDP prefixes,
  // an ImageNet classifier. Each tensor's value says which name it must end up under.
  ASSERT_TRUE(Python(absl::StrCat(
      "od = collections.OrderedDict\n",
      "old = od([('backbone.fpn.inner_blocks.2.weight', torch.full((1,), 1.)),\n",
      "          ('backbone.fpn.layer_blocks.0.bias', torch.full((1,), 2.)),\n",
      "          ('rpn.head.conv.weight', torch.full((1,), 3.)),\n",
      "          ('roi_heads.mask_head.mask_fcn4.bias', torch.full((1,), 4.)),\n",
      "          ('backbone.body.bn1.num_batches_tracked', torch.tensor(5)),\n",
      "          ('roi_heads.box_head.fc6.weight', torch.full((1,), 6.))])\n",
      "torch.save(old, '", dir, "/old.pth')\n",
      "wrapped = {'model': od(('module.' + k, v) for k, v in old.items()), 'epoch': 3}\n",
      "torch.save(wrapped, '", dir, "/wrapped.pth')\n",
      "torch.save(od([('conv1.weight', torch.full((1,), 7.)), ('layer1.0.conv1.weight', torch.full((1,), 8.)),\n",
      "              ('fc.weight', torch.ones(1)), ('fc.bias', torch.ones(1))]), '", dir, "/resnet.pth')\n",
      "torch.save({'a': torch.ones(1), 'b': 'text'}, '", dir, "/bad.pth')")).ok());
  const TensorMap expected_old = {{"backbone.fpn.inner_blocks.2.0.weight", torch::full({1}, 1.0)},
                                  {"backbone.fpn.layer_blocks.0.0.bias", torch::full({1}, 2.0)},
                                  {"rpn.head.conv.0.0.weight", torch::full({1}, 3.0)},
                                  {"roi_heads.mask_head.3.0.bias", torch::full({1}, 4.0)},
                                  {"roi_heads.box_head.fc6.weight", torch::full({1}, 6.0)}};
  for (const char* name : {"old", "wrapped"}) {
    absl::StatusOr<std::string> out = testing::ConvertCheckpoint(absl::StrCat(dir, "/", name, ".pth"));
    ASSERT_TRUE(out.ok()) << out.status();
    absl::StatusOr<TensorMap> t = ReadTensorFile(*out);
    ASSERT_TRUE(t.ok()) << t.status();
    ASSERT_EQ(t->size(), expected_old.size()) << name;
    for (const auto& [k, v] : expected_old) {
      ASSERT_TRUE(t->count(k)) << name << ": " << k;
      EXPECT_TRUE(torch::equal(t->at(k), v)) << name << ": " << k;
    }
  }
  absl::StatusOr<std::string> out = testing::ConvertCheckpoint(dir + "/resnet.pth");
  ASSERT_TRUE(out.ok()) << out.status();
  absl::StatusOr<TensorMap> t = ReadTensorFile(*out);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->size(), 2u);
  EXPECT_TRUE(torch::equal(t->at("backbone.body.conv1.weight"), torch::full({1}, 7.0)));
  EXPECT_TRUE(torch::equal(t->at("backbone.body.layer1.0.conv1.weight"), torch::full({1}, 8.0)));

  out = testing::ConvertCheckpoint(dir + "/bad.pth");
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(Contains(out.status(), "entry 'b' is a str")) << out.status();
  out = testing::ConvertCheckpoint(dir + "/absent.pth");
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(Contains(out.status(), "absent.pth")) << out.status();
}

}  // namespace
}  // namespace mrcnn
