// Launch helpers shared by the .cu files of this folder (device code only; not a public header).
#ifndef MRCNN_OPS_CUDA_LAUNCH_H_
#define MRCNN_OPS_CUDA_LAUNCH_H_

#include <cstdint>

#include <cuda_runtime.h>

namespace mrcnn {
namespace ops {
namespace cuda {
namespace internal {

constexpr int kThreadsPerBlock = 256;

// Blocks for a grid-stride loop over `total` elements.
inline unsigned int BlocksFor(int64_t total) {
  const int64_t blocks = (total + kThreadsPerBlock - 1) / kThreadsPerBlock;
  const int64_t cap = int64_t(1) << 20;  // grid-stride loops cover the rest
  return static_cast<unsigned int>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

// atomicAdd on the device; a plain add when the same code is instantiated for the host.
struct AtomicAdd {
  __host__ __device__ void operator()(float* p, float v) const {
#if defined(__CUDA_ARCH__)
    atomicAdd(p, v);
#else
    *p += v;
#endif
  }
};

// NMS pieces shared by Nms and Proposals. n_device (optional) holds the number of boxes to consider
// when it is only known on the device; n is then an upper bound.
cudaError_t LaunchNmsMask(const float* boxes, const int* classes, int n, const int* n_device,
                          float iou_threshold, uint64_t* mask, cudaStream_t stream);
cudaError_t LaunchNmsReduce(const uint64_t* mask, int n, const int* n_device, const int64_t* order,
                            int64_t* keep, int* keep_count, cudaStream_t stream);
__host__ __device__ inline int NmsWords(int n) { return (n + 63) / 64; }

}  // namespace internal
}  // namespace cuda
}  // namespace ops
}  // namespace mrcnn

#endif  // MRCNN_OPS_CUDA_LAUNCH_H_
