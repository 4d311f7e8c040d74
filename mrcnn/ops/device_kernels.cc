#include "mrcnn/ops/device_kernels.h"

#include <c10/util/Exception.h>

namespace mrcnn {
namespace ops {
namespace {

CudaOpKernels& Registry() {
  static CudaOpKernels kernels;
  return kernels;
}

}  // namespace

void RegisterCudaKernels(const CudaOpKernels& kernels) { Registry() = kernels; }

bool HaveCudaKernels() { return Registry().roi_align_forward != nullptr; }

const CudaOpKernels& CudaKernels(const char* op) {
  TORCH_CHECK(HaveCudaKernels(), op,
              ": got CUDA tensors, but this binary has no CUDA kernels; build it with "
              "--config=cuda and LIBTORCH_HOME set to a CUDA LibTorch (README: CUDA)");
  return Registry();
}

}  // namespace ops
}  // namespace mrcnn
