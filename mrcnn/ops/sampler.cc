#include "mrcnn/ops/sampler.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

namespace mrcnn {
namespace ops {

at::Generator MakeGenerator(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

BalancedPositiveNegativeSampler::BalancedPositiveNegativeSampler(int64_t batch_size_per_image,
                                                                 double positive_fraction)
    : batch_size_per_image_(batch_size_per_image), positive_fraction_(positive_fraction) {
  TORCH_CHECK(batch_size_per_image >= 0,
              "BalancedPositiveNegativeSampler: batch_size_per_image must be >= 0, got ",
              batch_size_per_image);
  TORCH_CHECK(positive_fraction >= 0 && positive_fraction <= 1,
              "BalancedPositiveNegativeSampler: positive_fraction must be in [0, 1], got ",
              positive_fraction);
}

SampledMasks BalancedPositiveNegativeSampler::Sample(const at::Tensor& labels,
                                                     at::Generator& gen) const {
  TORCH_CHECK(labels.defined() && labels.dim() == 1,
              "BalancedPositiveNegativeSampler: labels must be [N], got shape ",
              labels.defined() ? labels.sizes() : at::IntArrayRef{});
  TORCH_CHECK(labels.scalar_type() != at::kBool,
              "BalancedPositiveNegativeSampler: labels must be numeric, got bool");
  const at::Tensor l = labels.detach().cpu();
  const at::Tensor positive = at::nonzero(l >= 1).view({-1});
  const at::Tensor negative = at::nonzero(l == 0).view({-1});
  // torchvision: num_pos = int(batch * fraction), truncated toward zero.
  int64_t num_pos =
      static_cast<int64_t>(static_cast<double>(batch_size_per_image_) * positive_fraction_);
  num_pos = std::min(positive.numel(), num_pos);
  const int64_t num_neg = std::min(negative.numel(), batch_size_per_image_ - num_pos);
  const at::Tensor perm_pos =
      at::randperm(positive.numel(), gen, at::TensorOptions().dtype(at::kLong))
          .slice(0, 0, num_pos);
  const at::Tensor perm_neg =
      at::randperm(negative.numel(), gen, at::TensorOptions().dtype(at::kLong))
          .slice(0, 0, num_neg);
  SampledMasks out;
  out.positive = at::zeros({l.size(0)}, at::kBool);
  out.negative = at::zeros({l.size(0)}, at::kBool);
  out.positive.index_fill_(0, positive.index_select(0, perm_pos), true);
  out.negative.index_fill_(0, negative.index_select(0, perm_neg), true);
  out.positive = out.positive.to(labels.device());
  out.negative = out.negative.to(labels.device());
  return out;
}

std::vector<SampledMasks> BalancedPositiveNegativeSampler::Sample(
    const std::vector<at::Tensor>& labels_per_image, at::Generator& gen) const {
  std::vector<SampledMasks> out;
  out.reserve(labels_per_image.size());
  for (const at::Tensor& labels : labels_per_image) out.push_back(Sample(labels, gen));
  return out;
}

}  // namespace ops
}  // namespace mrcnn
