// The optimizer against LibTorch's own torch::optim::SGD / AdamW and clip_grad_norm_ (independent
// implementations of the same updates), its state by name, and bad checkpoint state.
#include "mrcnn/train/optimizer.h"

#include <gtest/gtest.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include "absl/strings/match.h"

namespace mrcnn {
namespace {

// Runs `steps` updates with seeded gradients on ours and on LibTorch's optimizer; returns the largest
// parameter difference.
template <typename Reference>
double MaxDifference(const Config& c, Reference make_reference, int steps) {
  torch::manual_seed(1);
  const std::vector<torch::Tensor> init = {torch::randn({4, 3}), torch::randn({5})};
  std::vector<std::pair<std::string, torch::Tensor>> ours;
  std::vector<torch::Tensor> theirs;
  for (size_t i = 0; i < init.size(); ++i) {
    ours.emplace_back("p" + std::to_string(i), init[i].clone().requires_grad_(true));
    theirs.push_back(init[i].clone().requires_grad_(true));
  }
  Optimizer opt(c);
  auto ref = make_reference(theirs);
  for (int s = 0; s < steps; ++s) {
    for (size_t i = 0; i < init.size(); ++i) {
      const torch::Tensor g = torch::randn(init[i].sizes()) * 3;
      ours[i].second.mutable_grad() = g.clone();
      theirs[i].mutable_grad() = g.clone();
    }
    const double lr = 0.01 * (s + 1);
    opt.Step(ours, lr);
    if (c.GRADIENT_CLIP_NORM > 0) torch::nn::utils::clip_grad_norm_(theirs, c.GRADIENT_CLIP_NORM);
    for (auto& group : ref.param_groups()) group.options().set_lr(lr);
    ref.step();
  }
  double diff = 0;
  for (size_t i = 0; i < init.size(); ++i) {
    diff = std::max(diff, (ours[i].second - theirs[i]).abs().max().item<double>());
  }
  return diff;
}

TEST(OptimizerTest, SgdEqualsLibTorchSgd) {
  Config c;
  c.OPTIMIZER = OptimizerKind::kSgd;
  c.LEARNING_MOMENTUM = 0.9;
  c.WEIGHT_DECAY = 1e-2;
  for (double clip : {0.0, 1.0}) {
    c.GRADIENT_CLIP_NORM = clip;
    const double d = MaxDifference(
        c, [&](std::vector<torch::Tensor>& p) {
          return torch::optim::SGD(p, torch::optim::SGDOptions(0.01).momentum(0.9).weight_decay(1e-2));
        }, 6);
    EXPECT_LT(d, 1e-6) << "clip " << clip;
  }
}

TEST(OptimizerTest, AdamWEqualsLibTorchAdamW) {
  Config c;
  c.OPTIMIZER = OptimizerKind::kAdamW;
  c.WEIGHT_DECAY = 1e-2;
  for (double clip : {0.0, 1.0}) {
    c.GRADIENT_CLIP_NORM = clip;
    const double d = MaxDifference(
        c, [&](std::vector<torch::Tensor>& p) {
          return torch::optim::AdamW(p, torch::optim::AdamWOptions(0.01).weight_decay(1e-2));
        }, 6);
    EXPECT_LT(d, 1e-6) << "clip " << clip;
  }
}

TEST(OptimizerTest, StateRoundTripAndErrors) {
  Config c;
  c.OPTIMIZER = OptimizerKind::kAdamW;
  torch::Tensor w = torch::ones({2, 2}, torch::requires_grad());
  Optimizer opt(c);
  w.mutable_grad() = torch::full({2, 2}, 0.5);
  opt.Step({{"w", w}}, 0.1);
  opt.Step({{"w", w}}, 0.1);
  const TensorMap state = opt.State();
  ASSERT_EQ(state.size(), 3u);
  EXPECT_EQ(state.at("optimizer.step.w").item<int64_t>(), 2);

  // A restored optimizer continues exactly as the original.
  Optimizer copy(c);
  ASSERT_TRUE(copy.Restore(state, {{"w", w}}, "ckpt.pt").ok());
  torch::Tensor w2 = w.detach().clone().requires_grad_(true);
  w2.mutable_grad() = w.grad().clone();
  opt.Step({{"w", w}}, 0.1);
  copy.Step({{"w", w2}}, 0.1);
  EXPECT_TRUE(torch::equal(w.detach(), w2.detach()));

  // Frozen parameters lose their state.
  opt.Forget("w");
  EXPECT_TRUE(opt.State().empty());

  // Errors name the file and the reason.
  Config sgd = c;
  sgd.OPTIMIZER = OptimizerKind::kSgd;
  absl::Status s = Optimizer(sgd).Restore(state, {{"w", w}}, "ckpt.pt");
  EXPECT_TRUE(absl::StrContains(s.message(), "ckpt.pt") && absl::StrContains(s.message(), "OPTIMIZER is sgd")) << s;
  s = Optimizer(c).Restore(state, {{"v", w}}, "ckpt.pt");
  EXPECT_TRUE(absl::StrContains(s.message(), "does not match any model parameter")) << s;
  s = Optimizer(c).Restore(state, {{"w", torch::ones({3})}}, "ckpt.pt");
  EXPECT_TRUE(absl::StrContains(s.message(), "'w' does not match")) << s;
  TensorMap partial = state;
  partial.erase("optimizer.exp_avg_sq.w");
  s = Optimizer(c).Restore(partial, {{"w", w}}, "ckpt.pt");
  EXPECT_TRUE(absl::StrContains(s.message(), "incomplete")) << s;
  s = Optimizer(c).Restore({{"optimizer.velocity.w", torch::ones({2, 2})}}, {{"w", w}}, "ckpt.pt");
  EXPECT_TRUE(absl::StrContains(s.message(), "unknown optimizer state")) << s;
}

}  // namespace
}  // namespace mrcnn
