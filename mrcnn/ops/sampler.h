// Balanced positive/negative sampler: picks at most batch_size_per_image examples per image, with
// at most positive_fraction of them positive, uniformly at random among the candidates, as
// torchvision's BalancedPositiveNegativeSampler. Randomness comes from the generator passed in, so
// a seed fixes it.
//
//   BalancedPositiveNegativeSampler sampler(256, 0.5);
//   at::Generator gen = MakeGenerator(seed);
//   SampledMasks s = sampler.Sample(labels, gen);  // labels [N]: >= 1 positive, 0 negative, < 0
//   ignored
//   // s.positive, s.negative: bool [N]
#ifndef MRCNN_OPS_SAMPLER_H_
#define MRCNN_OPS_SAMPLER_H_

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace mrcnn {
namespace ops {

// A CPU generator seeded with `seed`.
at::Generator MakeGenerator(uint64_t seed);

struct SampledMasks {
  at::Tensor positive;  // bool [N]
  at::Tensor negative;  // bool [N]
};

class BalancedPositiveNegativeSampler {
 public:
  // Throws c10::Error unless batch_size_per_image >= 0 and 0 <= positive_fraction <= 1.
  BalancedPositiveNegativeSampler(int64_t batch_size_per_image, double positive_fraction);

  // labels [N] integer (>= 1 positive, 0 negative, negative values ignored). Takes
  // min(#positives, int(batch * fraction)) positives and min(#negatives, batch - that) negatives,
  // each a uniformly random subset (torch.randperm on `gen`, as torchvision).
  SampledMasks Sample(const at::Tensor& labels, at::Generator& gen) const;

  // One Sample per image, in order, from the same generator.
  std::vector<SampledMasks> Sample(const std::vector<at::Tensor>& labels_per_image,
                                   at::Generator& gen) const;

 private:
  int64_t batch_size_per_image_;
  double positive_fraction_;
};

}  // namespace ops
}  // namespace mrcnn

#endif  // MRCNN_OPS_SAMPLER_H_
