// How this binary was built, as the experiment log's provenance records it: Bazel's compilation mode,
// the LibTorch headers' version and the CUDA runtime's version. Measured at compile time from
// defines that the BUILD file sets from the build's configuration (build_info.cc), not assumed.
#ifndef MRCNN_TRAIN_BUILD_INFO_H_
#define MRCNN_TRAIN_BUILD_INFO_H_

#include <string>

namespace mrcnn {

struct BuildInfo {
  std::string compilation_mode;  // Bazel's -c: opt, dbg or fastbuild
  std::string libtorch_version;  // TORCH_VERSION of the headers compiled against, e.g. "1.13.0"
  std::string cuda_version;      // "12.4" with --config=cuda (CUDART_VERSION); "none" otherwise
};

BuildInfo ThisBuild();

}  // namespace mrcnn

#endif  // MRCNN_TRAIN_BUILD_INFO_H_
