#include "mrcnn/train/layers.h"

#include <regex>

#include <torch/nn/modules/batchnorm.h>

#include "absl/strings/str_cat.h"

namespace mrcnn {
namespace {

constexpr char kHeads[] = R"((backbone\.fpn\..*)|(rpn\..*)|(roi_heads\..*))";

}  // namespace

std::string LayerRegex(const std::string& layers) {
  const std::string heads = kHeads;
  if (layers == "heads") return heads;
  if (layers == "all") return ".*";
  if (layers == "3+") return R"((backbone\.body\.layer[234]\..*)|)" + heads;
  if (layers == "4+") return R"((backbone\.body\.layer[34]\..*)|)" + heads;
  if (layers == "5+") return R"((backbone\.body\.layer4\..*)|)" + heads;
  return layers;
}

absl::StatusOr<LayerSelection> MatchLayers(const torch::nn::Module& module, const std::string& layers) {
  LayerSelection s;
  s.regex = LayerRegex(layers);
  std::regex re;
  try {
    re = std::regex(s.regex);
  } catch (const std::regex_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("layers '", layers, "': not a preset (heads, all, 3+, 4+, 5+) and not a valid "
                     "regular expression: ", e.what()));
  }
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    (std::regex_match(item.key(), re) ? s.trainable : s.frozen).push_back(item.key());
  }
  if (s.trainable.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "layers '", layers, "' selects no parameter (names look like backbone.body.layer4.0.conv1.weight, "
        "rpn.head.conv.0.0.weight, roi_heads.box_head.fc6.weight)"));
  }
  return s;
}

absl::StatusOr<LayerSelection> SelectLayers(torch::nn::Module& module, const std::string& layers) {
  absl::StatusOr<LayerSelection> s = MatchLayers(module, layers);
  if (!s.ok()) return s.status();
  std::regex re(s->regex);
  for (auto& item : module.named_parameters(/*recurse=*/true)) {
    item.value().set_requires_grad(std::regex_match(item.key(), re));
  }
  return s;
}

int SetFrozenBatchNormEval(torch::nn::Module& module) {
  int switched = 0;
  for (const auto& m : module.modules(/*include_self=*/true)) {
    auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.get());
    if (bn == nullptr) continue;
    bool any_trainable = false;
    for (const auto& p : bn->parameters()) any_trainable = any_trainable || p.requires_grad();
    if (!any_trainable) {
      bn->eval();
      ++switched;
    }
  }
  return switched;
}

}  // namespace mrcnn
