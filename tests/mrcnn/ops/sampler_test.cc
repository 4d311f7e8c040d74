#include "mrcnn/ops/sampler.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/mrcnn/ops/reference.h"

namespace mrcnn {
namespace ops {
namespace {

at::Tensor Labels() {
  // 10 positives (label 1 or 3), 30 negatives, 5 ignored.
  at::Tensor l = at::zeros({45}, at::kLong);
  l.slice(0, 0, 5).fill_(1);
  l.slice(0, 5, 10).fill_(3);
  l.slice(0, 40, 45).fill_(-1);
  return l.index_select(0,
                        at::randperm(45, MakeGenerator(7), at::TensorOptions().dtype(at::kLong)));
}

TEST(SamplerTest, CountsAndSubsets) {
  const at::Tensor labels = Labels();
  at::Generator gen = MakeGenerator(1);
  // 16 * 0.25 = 4 positives, 12 negatives.
  SampledMasks s = BalancedPositiveNegativeSampler(16, 0.25).Sample(labels, gen);
  EXPECT_EQ(s.positive.sum().item<int64_t>(), 4);
  EXPECT_EQ(s.negative.sum().item<int64_t>(), 12);
  EXPECT_TRUE((labels.masked_select(s.positive) >= 1).all().item<bool>());
  EXPECT_TRUE((labels.masked_select(s.negative) == 0).all().item<bool>());
  // Too few positives: all 10 are taken and negatives fill the rest, up to the 30 available.
  s = BalancedPositiveNegativeSampler(64, 0.5).Sample(labels, gen);
  EXPECT_EQ(s.positive.sum().item<int64_t>(), 10);
  EXPECT_EQ(s.negative.sum().item<int64_t>(), 30);
  // int(batch * fraction) truncates: 7 * 0.33 = 2.31 -> 2.
  s = BalancedPositiveNegativeSampler(7, 0.33).Sample(labels, gen);
  EXPECT_EQ(s.positive.sum().item<int64_t>(), 2);
  EXPECT_EQ(s.negative.sum().item<int64_t>(), 5);
}

TEST(SamplerTest, SeededAndMatchesTorchRandperm) {
  const at::Tensor labels = Labels();
  const BalancedPositiveNegativeSampler sampler(16, 0.25);
  at::Generator g1 = MakeGenerator(42);
  at::Generator g2 = MakeGenerator(42);
  at::Generator g3 = MakeGenerator(43);
  const SampledMasks a = sampler.Sample(labels, g1);
  const SampledMasks b = sampler.Sample(labels, g2);
  const SampledMasks c = sampler.Sample(labels, g3);
  EXPECT_TRUE(at::equal(a.positive, b.positive));
  EXPECT_TRUE(at::equal(a.negative, b.negative));
  EXPECT_FALSE(at::equal(a.negative, c.negative));
}

TEST(SamplerTest, EqualsTorchvisionWithTheSameSeed) {
  const testing::Reference ref = testing::LoadReference("sampler");
  for (int64_t i = 0; i < ref.Int("count"); ++i) {
    const std::string p = std::to_string(i) + "/";
    at::Generator gen = MakeGenerator(static_cast<uint64_t>(ref.Int(p + "seed")));
    const SampledMasks s =
        BalancedPositiveNegativeSampler(ref.Int(p + "batch"), ref.Double(p + "fraction"))
            .Sample(ref.at(p + "labels"), gen);
    EXPECT_TRUE(at::equal(s.positive, ref.at(p + "positive"))) << "case " << i;
    EXPECT_TRUE(at::equal(s.negative, ref.at(p + "negative"))) << "case " << i;
  }
}

TEST(SamplerTest, EmptyAndBadInputs) {
  at::Generator gen = MakeGenerator(0);
  const SampledMasks s =
      BalancedPositiveNegativeSampler(8, 0.5).Sample(at::zeros({0}, at::kLong), gen);
  EXPECT_EQ(s.positive.numel(), 0);
  EXPECT_THROW(BalancedPositiveNegativeSampler(-1, 0.5), c10::Error);
  EXPECT_THROW(BalancedPositiveNegativeSampler(8, 1.5), c10::Error);
  EXPECT_THROW(BalancedPositiveNegativeSampler(8, 0.5).Sample(at::zeros({2, 2}, at::kLong), gen),
               c10::Error);
  const auto per_image = BalancedPositiveNegativeSampler(8, 0.5).Sample({Labels(), Labels()}, gen);
  EXPECT_EQ(per_image.size(), 2u);
}

}  // namespace
}  // namespace ops
}  // namespace mrcnn
