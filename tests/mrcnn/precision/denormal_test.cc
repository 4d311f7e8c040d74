// SetFlushDenormal: a product in the denormal range is kept by default and is zero once flushed, in
// LibTorch's own kernels (on its worker threads too) and in plain C++ on this thread.
#include "mrcnn/precision/denormal.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cfloat>

namespace mrcnn {
namespace {

// FLT_MIN is the smallest normal float; a quarter of it is denormal.
float SmallProduct(float scale) {
  volatile float x = FLT_MIN;
  return x * scale;
}

TEST(SetFlushDenormal, DenormalsKeptByDefaultAndZeroWhenFlushed) {
  ASSERT_TRUE(SetFlushDenormal(false).ok());
  EXPECT_GT(SmallProduct(0.25f), 0.0f);
  const torch::Tensor big = torch::full({1 << 16}, FLT_MIN);  // large enough to be split over threads
  EXPECT_GT((big * 0.25f).min().item<float>(), 0.0f);

  ASSERT_TRUE(SetFlushDenormal(true).ok());
  EXPECT_EQ(SmallProduct(0.25f), 0.0f);
  EXPECT_EQ((big * 0.25f).max().item<float>(), 0.0f);
  // Normal numbers are untouched.
  EXPECT_EQ(SmallProduct(4.0f), FLT_MIN * 4.0f);

  ASSERT_TRUE(SetFlushDenormal(false).ok());
  EXPECT_GT(SmallProduct(0.25f), 0.0f);
}

}  // namespace
}  // namespace mrcnn
