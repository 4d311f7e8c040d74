// The provenance a trial logs is how the binary was built: the compilation mode from Bazel's -c (this
// test is compiled in the same configuration, and Bazel's opt alone defines NDEBUG), the LibTorch
// headers' version, and the CUDA runtime's version only with --config=cuda.
#include "mrcnn/train/build_info.h"

#include <torch/version.h>

#include <regex>

#include "gtest/gtest.h"

namespace mrcnn {
namespace {

TEST(BuildInfoTest, CompilationModeIsBazels) {
  const BuildInfo b = ThisBuild();
#if defined(TEST_COMPILATION_MODE_OPT)
  EXPECT_EQ(b.compilation_mode, "opt");
#elif defined(TEST_COMPILATION_MODE_DBG)
  EXPECT_EQ(b.compilation_mode, "dbg");
#else
  EXPECT_EQ(b.compilation_mode, "fastbuild");
#endif
#ifdef NDEBUG
  EXPECT_EQ(b.compilation_mode, "opt");
#else
  EXPECT_NE(b.compilation_mode, "opt");
#endif
}

TEST(BuildInfoTest, LibTorchVersionIsTheHeaders) {
  const BuildInfo b = ThisBuild();
  EXPECT_EQ(b.libtorch_version, TORCH_VERSION);
  EXPECT_TRUE(std::regex_match(b.libtorch_version, std::regex(R"(\d+\.\d+\.\d+.*)"))) << b.libtorch_version;
}

TEST(BuildInfoTest, CudaVersionOnlyInCudaBuilds) {
  const BuildInfo b = ThisBuild();
#ifdef TEST_CUDA_BUILD
  EXPECT_TRUE(std::regex_match(b.cuda_version, std::regex(R"(\d+\.\d+)"))) << b.cuda_version;
#else
  EXPECT_EQ(b.cuda_version, "none");
#endif
}

}  // namespace
}  // namespace mrcnn
