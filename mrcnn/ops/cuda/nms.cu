// Bitmask NMS on the device: a [n, ceil(n / 64)] suppression mask from 64x64 tiles, then one block
// walks the boxes in score order and builds the kept list, so nothing returns to the host.
#include <cub/device/device_radix_sort.cuh>

#include "mrcnn/ops/cuda/kernels.h"
#include "mrcnn/ops/cuda/launch.h"

namespace mrcnn {
namespace ops {
namespace cuda {
namespace internal {
namespace {

constexpr int kReduceThreads = 1024;

__device__ inline int BoxCount(int n, const int* n_device) {
  if (n_device == nullptr) return n;
  const int m = *n_device;
  return m < n ? m : n;
}

// Tile (row block, column block): thread t writes the mask word of row box (row block * 64 + t).
// Tiles left of the diagonal are never read, so they are not written.
__global__ void MaskKernel(const float* boxes, const int* classes, int n, const int* n_device,
                           float iou_threshold, uint64_t* mask) {
  const int row_block = blockIdx.y;
  const int col_block = blockIdx.x;
  if (row_block > col_block) return;
  const int count = BoxCount(n, n_device);
  const int row = row_block * kNmsWordBits + threadIdx.x;
  if (row >= count) return;
  mask[static_cast<int64_t>(row) * NmsWords(n) + col_block] =
      NmsMaskWord(boxes, classes, count, row, col_block * kNmsWordBits, iou_threshold);
}

// One block. For each 64-box chunk in score order: thread 0 settles the chunk with the diagonal
// words (a box is kept unless a kept box before it suppresses it), then all threads OR the kept
// boxes' rows into the removal bits of the later chunks.
__global__ void ReduceKernel(const uint64_t* mask, int n, const int* n_device, const int64_t* order,
                             int64_t* keep, int* keep_count) {
  extern __shared__ uint64_t removed[];
  __shared__ uint64_t diagonal[kNmsWordBits];
  __shared__ uint64_t chunk_kept;
  __shared__ int kept_total;
  const int count = BoxCount(n, n_device);
  const int words = NmsWords(n);
  const int used_words = NmsWords(count);
  for (int v = threadIdx.x; v < used_words; v += blockDim.x) removed[v] = 0;
  if (threadIdx.x == 0) kept_total = 0;
  __syncthreads();
  for (int w = 0; w < used_words; ++w) {
    const int base = w * kNmsWordBits;
    const int in_chunk = count - base < kNmsWordBits ? count - base : kNmsWordBits;
    if (threadIdx.x < in_chunk) {
      diagonal[threadIdx.x] = mask[static_cast<int64_t>(base + threadIdx.x) * words + w];
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      const uint64_t valid = in_chunk == kNmsWordBits ? ~uint64_t(0) : ((uint64_t(1) << in_chunk) - 1);
      uint64_t suppressed = removed[w];
      uint64_t kept = 0;
      uint64_t candidates = valid & ~suppressed;
      int total = kept_total;
      while (candidates != 0) {
        const int b = __ffsll(static_cast<long long>(candidates)) - 1;
        kept |= uint64_t(1) << b;
        keep[total++] = order != nullptr ? order[base + b] : base + b;
        suppressed |= diagonal[b];
        // Later boxes of the chunk that are neither suppressed nor settled yet.
        candidates = valid & ~suppressed & ~((uint64_t(2) << b) - 1);
      }
      kept_total = total;
      chunk_kept = kept;
    }
    __syncthreads();
    const uint64_t kept = chunk_kept;
    if (kept != 0) {
      for (int v = w + 1 + threadIdx.x; v < used_words; v += blockDim.x) {
        uint64_t acc = 0;
        uint64_t bits = kept;
        while (bits != 0) {
          const int b = __ffsll(static_cast<long long>(bits)) - 1;
          bits &= bits - 1;
          acc |= mask[static_cast<int64_t>(base + b) * words + v];
        }
        removed[v] |= acc;
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) *keep_count = kept_total;
}

__global__ void IotaKernel(int64_t* out, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) out[i] = i;
}

__global__ void GatherKernel(const float* boxes, const int* classes, const int64_t* order, int n,
                             float* sorted_boxes, int* sorted_classes) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
    const int64_t src = order[i];
    for (int k = 0; k < 4; ++k) sorted_boxes[i * 4 + k] = boxes[src * 4 + k];
    if (classes != nullptr) sorted_classes[i] = classes[src];
  }
}

}  // namespace

cudaError_t LaunchNmsMask(const float* boxes, const int* classes, int n, const int* n_device,
                          float iou_threshold, uint64_t* mask, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  const int blocks = NmsWords(n);
  MaskKernel<<<dim3(blocks, blocks), kNmsWordBits, 0, stream>>>(boxes, classes, n, n_device,
                                                                iou_threshold, mask);
  return cudaGetLastError();
}

cudaError_t LaunchNmsReduce(const uint64_t* mask, int n, const int* n_device, const int64_t* order,
                            int64_t* keep, int* keep_count, cudaStream_t stream) {
  const size_t shared = sizeof(uint64_t) * (NmsWords(n) > 0 ? NmsWords(n) : 1);
  if (shared > 48 * 1024) {
    cudaError_t e = cudaFuncSetAttribute(ReduceKernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(shared));
    if (e != cudaSuccess) return e;
  }
  ReduceKernel<<<1, kReduceThreads, shared, stream>>>(mask, n, n_device, order, keep, keep_count);
  return cudaGetLastError();
}

}  // namespace internal

cudaError_t NmsSorted(const float* boxes, const int* classes, int n, float iou_threshold,
                      int64_t* keep, int* keep_count, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaMemsetAsync(keep_count, 0, sizeof(int), stream);
  uint64_t* mask = nullptr;
  const size_t mask_bytes = sizeof(uint64_t) * static_cast<size_t>(n) * internal::NmsWords(n);
  cudaError_t e = cudaMallocAsync(&mask, mask_bytes, stream);
  if (e != cudaSuccess) return e;
  e = internal::LaunchNmsMask(boxes, classes, n, nullptr, iou_threshold, mask, stream);
  if (e == cudaSuccess) {
    e = internal::LaunchNmsReduce(mask, n, nullptr, nullptr, keep, keep_count, stream);
  }
  cudaError_t f = cudaFreeAsync(mask, stream);
  return e != cudaSuccess ? e : f;
}

cudaError_t Nms(const float* boxes, const float* scores, const int* classes, int n,
                float iou_threshold, int64_t* keep, int* keep_count, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaMemsetAsync(keep_count, 0, sizeof(int), stream);
  // One allocation for the sort's buffers, the sorted boxes and classes, and the mask.
  size_t sort_bytes = 0;
  cudaError_t e = cub::DeviceRadixSort::SortPairsDescending(
      nullptr, sort_bytes, static_cast<const float*>(nullptr), static_cast<float*>(nullptr),
      static_cast<const int64_t*>(nullptr), static_cast<int64_t*>(nullptr), n, 0, 32, stream);
  if (e != cudaSuccess) return e;
  const size_t words = internal::NmsWords(n);
  const auto align = [](size_t x) { return (x + 255) & ~size_t(255); };
  const size_t off_keys = 0;
  const size_t off_iota = off_keys + align(sizeof(float) * n);
  const size_t off_order = off_iota + align(sizeof(int64_t) * n);
  const size_t off_boxes = off_order + align(sizeof(int64_t) * n);
  const size_t off_classes = off_boxes + align(sizeof(float) * 4 * n);
  const size_t off_mask = off_classes + align(sizeof(int) * n);
  const size_t off_sort = off_mask + align(sizeof(uint64_t) * n * words);
  char* buffer = nullptr;
  e = cudaMallocAsync(&buffer, off_sort + sort_bytes, stream);
  if (e != cudaSuccess) return e;
  auto* sorted_keys = reinterpret_cast<float*>(buffer + off_keys);
  auto* iota = reinterpret_cast<int64_t*>(buffer + off_iota);
  auto* order = reinterpret_cast<int64_t*>(buffer + off_order);
  auto* sorted_boxes = reinterpret_cast<float*>(buffer + off_boxes);
  auto* sorted_classes = reinterpret_cast<int*>(buffer + off_classes);
  auto* mask = reinterpret_cast<uint64_t*>(buffer + off_mask);
  internal::IotaKernel<<<internal::BlocksFor(n), internal::kThreadsPerBlock, 0, stream>>>(iota, n);
  e = cudaGetLastError();
  if (e == cudaSuccess) {
    e = cub::DeviceRadixSort::SortPairsDescending(buffer + off_sort, sort_bytes, scores,
                                                  sorted_keys, iota, order, n, 0, 32, stream);
  }
  if (e == cudaSuccess) {
    internal::GatherKernel<<<internal::BlocksFor(n), internal::kThreadsPerBlock, 0, stream>>>(
        boxes, classes, order, n, sorted_boxes, sorted_classes);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) {
    e = internal::LaunchNmsMask(sorted_boxes, classes != nullptr ? sorted_classes : nullptr, n,
                                nullptr, iou_threshold, mask, stream);
  }
  if (e == cudaSuccess) {
    e = internal::LaunchNmsReduce(mask, n, nullptr, order, keep, keep_count, stream);
  }
  cudaError_t f = cudaFreeAsync(buffer, stream);
  return e != cudaSuccess ? e : f;
}

}  // namespace cuda
}  // namespace ops
}  // namespace mrcnn
