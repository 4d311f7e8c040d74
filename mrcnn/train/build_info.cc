#include "mrcnn/train/build_info.h"

#include <torch/version.h>

#ifdef MRCNN_BUILT_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

#include "absl/strings/str_cat.h"

namespace mrcnn {
namespace {

// mrcnn/train/BUILD.bazel defines one of these from Bazel's compilation mode.
#if defined(MRCNN_COMPILATION_MODE_OPT)
constexpr char kCompilationMode[] = "opt";
#elif defined(MRCNN_COMPILATION_MODE_DBG)
constexpr char kCompilationMode[] = "dbg";
#elif defined(MRCNN_COMPILATION_MODE_FASTBUILD)
constexpr char kCompilationMode[] = "fastbuild";
#else
#error "mrcnn/train/BUILD.bazel defines MRCNN_COMPILATION_MODE_<MODE> from Bazel's compilation mode"
#endif

}  // namespace

BuildInfo ThisBuild() {
  BuildInfo b;
  b.compilation_mode = kCompilationMode;
  b.libtorch_version = TORCH_VERSION;
#ifdef MRCNN_BUILT_WITH_CUDA
  b.cuda_version = absl::StrCat(CUDART_VERSION / 1000, ".", (CUDART_VERSION % 1000) / 10);
#else
  b.cuda_version = "none";
#endif
  return b;
}

}  // namespace mrcnn
