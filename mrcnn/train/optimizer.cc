#include "mrcnn/train/optimizer.h"

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace mrcnn {
namespace {

constexpr char kPrefix[] = "optimizer.";
constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;

}  // namespace

Optimizer::Optimizer(const Config& config)
    : kind_(config.OPTIMIZER),
      momentum_(config.LEARNING_MOMENTUM),
      weight_decay_(config.WEIGHT_DECAY),
      clip_norm_(config.GRADIENT_CLIP_NORM) {}

bool Optimizer::IsStateKey(const std::string& key) { return absl::StartsWith(key, kPrefix); }

void Optimizer::Step(const std::vector<std::pair<std::string, torch::Tensor>>& params, double lr) {
  torch::NoGradGuard no_grad;
  std::vector<std::pair<const std::string*, torch::Tensor>> with_grad;
  for (const auto& [name, p] : params) {
    if (p.grad().defined()) with_grad.emplace_back(&name, p);
  }
  if (clip_norm_ > 0 && !with_grad.empty()) {
    std::vector<torch::Tensor> norms;
    for (auto& [n, p] : with_grad) norms.push_back(p.grad().norm().to(torch::kFloat64));
    const double norm = torch::stack(norms).norm().item<double>();
    const double coef = clip_norm_ / (norm + 1e-6);
    if (coef < 1) {
      for (auto& [n, p] : with_grad) p.mutable_grad().mul_(coef);
    }
  }
  for (auto& [name, p] : with_grad) {
    Slots& s = state_[*name];
    const torch::Tensor g = p.grad();
    if (kind_ == OptimizerKind::kAdamW) {
      ++s.steps;
      if (!s.exp_avg.defined()) {
        s.exp_avg = torch::zeros_like(p);
        s.exp_avg_sq = torch::zeros_like(p);
      }
      p.mul_(1 - lr * weight_decay_);
      s.exp_avg.mul_(kBeta1).add_(g, 1 - kBeta1);
      s.exp_avg_sq.mul_(kBeta2).addcmul_(g, g, 1 - kBeta2);
      const double bias1 = 1 - std::pow(kBeta1, static_cast<double>(s.steps));
      const double bias2 = 1 - std::pow(kBeta2, static_cast<double>(s.steps));
      const torch::Tensor denom = (s.exp_avg_sq.sqrt() / std::sqrt(bias2)).add_(kEps);
      p.addcdiv_(s.exp_avg, denom, -lr / bias1);
      continue;
    }
    torch::Tensor d = weight_decay_ != 0 ? g.add(p, weight_decay_) : g;
    if (momentum_ != 0) {
      if (!s.momentum.defined()) {
        s.momentum = d.clone();
      } else {
        s.momentum.mul_(momentum_).add_(d);
      }
      d = s.momentum;
    }
    p.add_(d, -lr);
  }
}

TensorMap Optimizer::State() const {
  TensorMap t;
  for (const auto& [name, s] : state_) {
    if (s.momentum.defined()) t[absl::StrCat(kPrefix, "momentum.", name)] = s.momentum.detach().clone();
    if (s.exp_avg.defined()) {
      t[absl::StrCat(kPrefix, "exp_avg.", name)] = s.exp_avg.detach().clone();
      t[absl::StrCat(kPrefix, "exp_avg_sq.", name)] = s.exp_avg_sq.detach().clone();
      t[absl::StrCat(kPrefix, "step.", name)] = torch::tensor(s.steps, torch::kInt64);
    }
  }
  return t;
}

absl::Status Optimizer::Restore(const TensorMap& state, const std::map<std::string, torch::Tensor>& params,
                                const std::string& source) {
  std::map<std::string, Slots> restored;
  for (const auto& [key, value] : state) {
    if (!IsStateKey(key)) continue;
    const std::string rest = key.substr(sizeof(kPrefix) - 1);
    const size_t dot = rest.find('.');
    const std::string slot = rest.substr(0, dot);
    const std::string name = dot == std::string::npos ? "" : rest.substr(dot + 1);
    const bool sgd_slot = slot == "momentum";
    const bool adamw_slot = slot == "exp_avg" || slot == "exp_avg_sq" || slot == "step";
    if (!sgd_slot && !adamw_slot) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": unknown optimizer state '", key, "'"));
    }
    if ((kind_ == OptimizerKind::kAdamW) != adamw_slot) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": the checkpoint holds ", adamw_slot ? "adamw" : "sgd", " optimizer state ('", key,
          "') but OPTIMIZER is ", EnumName(kind_), "; resume with the run's own OPTIMIZER, or start from its weights with --weights"));
    }
    auto it = params.find(name);
    Slots& s = restored[name];
    if (slot == "step") {
      if (it == params.end() || value.numel() != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": optimizer state '", key, "' does not match any model parameter"));
      }
      s.steps = value.to(torch::kInt64).item<int64_t>();
      continue;
    }
    if (it == params.end() || !it->second.sizes().equals(value.sizes())) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": optimizer state for '", name, "' does not match any model parameter"));
    }
    // On the parameter's device: a checkpoint (always CPU tensors) may resume on a GPU.
    const torch::Tensor v = value.to(it->second.device(), it->second.scalar_type()).clone();
    (slot == "momentum" ? s.momentum : slot == "exp_avg" ? s.exp_avg : s.exp_avg_sq) = v;
  }
  for (const auto& [name, s] : restored) {
    if (kind_ == OptimizerKind::kAdamW && (!s.exp_avg.defined() || !s.exp_avg_sq.defined() || s.steps <= 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": adamw optimizer state of '", name, "' is incomplete (needs exp_avg, exp_avg_sq and step)"));
    }
  }
  state_ = std::move(restored);
  return absl::OkStatus();
}

}  // namespace mrcnn
