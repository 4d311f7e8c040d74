// The RPN proposal step in a few launches: top-k per level (or over all anchors) by a segmented sort,
// decode + clip + size/score test per candidate, a stable sort of the candidates by score with the
// rejected ones last, NMS per level (or global) on the device, and the best post_nms_top_n.
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_reduce.cuh>
#include <cub/device/device_segmented_radix_sort.cuh>

#include <vector>

#include "mrcnn/ops/cuda/kernels.h"
#include "mrcnn/ops/cuda/launch.h"

namespace mrcnn {
namespace ops {
namespace cuda {
namespace {

using internal::BlocksFor;
using internal::kThreadsPerBlock;

// Where the candidates of each segment come from: candidate c in [cand_begin[s], cand_begin[s+1])
// is the (c - cand_begin[s])-th best anchor of segment s, found at sorted_begin[s] + rank.
struct Segments {
  int64_t cand_begin[kMaxFpnLevels + 1];
  int64_t sorted_begin[kMaxFpnLevels];
  int count;
};

__global__ void IotaKernel(int64_t* out, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    out[i] = i;
  }
}

__global__ void DecodeKernel(Segments segments, const int64_t* sorted_anchor, const float* objectness,
                             const float* deltas, const float* anchors, ProposalParams params,
                             int image_height, int image_width, float* cand_boxes,
                             float* cand_scores, float* sort_keys, int* cand_level, int* valid) {
  const int64_t total = segments.cand_begin[segments.count];
  for (int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; c < total;
       c += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    int s = 0;
    while (c >= segments.cand_begin[s + 1]) ++s;
    const int64_t a = sorted_anchor[segments.sorted_begin[s] + (c - segments.cand_begin[s])];
    float probability;
    const bool ok = DecodeProposal(deltas + a * 4, anchors + a * 4, objectness[a], params.weights,
                                   params.bbox_xform_clip, image_height, image_width,
                                   params.min_size, params.score_threshold, cand_boxes + c * 4,
                                   &probability);
    cand_scores[c] = probability;
    // Rejected candidates sort after every accepted one (probabilities are >= 0).
    sort_keys[c] = ok ? probability : -1.0f;
    cand_level[c] = s;
    valid[c] = ok ? 1 : 0;
  }
}

__global__ void GatherSortedKernel(const int64_t* order, int64_t n, const float* cand_boxes,
                                   const int* cand_level, float* boxes, int* levels) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t src = order[i];
    for (int k = 0; k < 4; ++k) boxes[i * 4 + k] = cand_boxes[src * 4 + k];
    levels[i] = cand_level[src];
  }
}

__global__ void OutputKernel(const int64_t* keep, const int* keep_count, int post_nms_top_n,
                             const int64_t* order, const float* sorted_boxes,
                             const float* cand_scores, float* boxes, float* scores, int* count) {
  const int kept = *keep_count < post_nms_top_n ? *keep_count : post_nms_top_n;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < kept; i += blockDim.x * gridDim.x) {
    const int64_t p = keep[i];  // position in score order
    for (int k = 0; k < 4; ++k) boxes[i * 4 + k] = sorted_boxes[p * 4 + k];
    scores[i] = cand_scores[order[p]];
  }
  if (blockIdx.x == 0 && threadIdx.x == 0) *count = kept;
}

// A bump allocator over one device allocation.
class Arena {
 public:
  template <typename T>
  T* Take(size_t count) {
    const size_t offset = size_;
    size_ += (sizeof(T) * count + 255) & ~size_t(255);
    return reinterpret_cast<T*>(base_ + offset);
  }
  void Bind(char* base) {
    base_ = base;
    size_ = 0;
  }
  size_t size() const { return size_; }

 private:
  char* base_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

cudaError_t Proposals(const float* objectness, const float* deltas, const float* anchors,
                      const int64_t* level_begin, int num_levels, int image_height, int image_width,
                      const ProposalParams& params, float* boxes, float* scores, int* count,
                      cudaStream_t stream) {
  if (num_levels < 1 || num_levels > kMaxFpnLevels || params.pre_nms_top_n <= 0 ||
      params.post_nms_top_n <= 0 || image_height <= 0 || image_width <= 0) {
    return cudaErrorInvalidValue;
  }
  for (int l = 0; l < num_levels; ++l) {
    if (level_begin[l + 1] < level_begin[l]) return cudaErrorInvalidValue;
  }
  const int64_t num_anchors = level_begin[num_levels];
  if (num_anchors == 0) return cudaMemsetAsync(count, 0, sizeof(int), stream);
  if (num_anchors > INT32_MAX) return cudaErrorInvalidValue;

  // Segments: the levels (torchvision) or all anchors at once (matterport).
  Segments seg{};
  std::vector<int64_t> offsets;
  if (params.per_level) {
    seg.count = num_levels;
    offsets.assign(level_begin, level_begin + num_levels + 1);
  } else {
    seg.count = 1;
    offsets = {0, num_anchors};
  }
  seg.cand_begin[0] = 0;
  for (int s = 0; s < seg.count; ++s) {
    const int64_t size = offsets[s + 1] - offsets[s];
    seg.sorted_begin[s] = offsets[s];
    seg.cand_begin[s + 1] = seg.cand_begin[s] + (size < params.pre_nms_top_n ? size : params.pre_nms_top_n);
  }
  const int64_t num_cand = seg.cand_begin[seg.count];
  const int n = static_cast<int>(num_cand);

  // Temporary storage sizes for the three cub calls.
  size_t seg_sort_bytes = 0, cand_sort_bytes = 0, sum_bytes = 0;
  cudaError_t e = cub::DeviceSegmentedRadixSort::SortPairsDescending(
      nullptr, seg_sort_bytes, static_cast<const float*>(nullptr), static_cast<float*>(nullptr),
      static_cast<const int64_t*>(nullptr), static_cast<int64_t*>(nullptr),
      static_cast<int>(num_anchors), seg.count, static_cast<const int64_t*>(nullptr),
      static_cast<const int64_t*>(nullptr), 0, 32, stream);
  if (e != cudaSuccess) return e;
  e = cub::DeviceRadixSort::SortPairsDescending(
      nullptr, cand_sort_bytes, static_cast<const float*>(nullptr), static_cast<float*>(nullptr),
      static_cast<const int64_t*>(nullptr), static_cast<int64_t*>(nullptr), n, 0, 32, stream);
  if (e != cudaSuccess) return e;
  e = cub::DeviceReduce::Sum(nullptr, sum_bytes, static_cast<const int*>(nullptr),
                             static_cast<int*>(nullptr), n, stream);
  if (e != cudaSuccess) return e;

  Arena arena;
  const auto layout = [&](Arena* a, auto&& use) {
    auto* offsets_dev = a->Take<int64_t>(seg.count + 1);
    auto* sorted_keys = a->Take<float>(num_anchors);
    auto* anchor_iota = a->Take<int64_t>(num_anchors);
    auto* sorted_anchor = a->Take<int64_t>(num_anchors);
    auto* cand_boxes = a->Take<float>(num_cand * 4);
    auto* cand_scores = a->Take<float>(num_cand);
    auto* sort_keys = a->Take<float>(num_cand);
    auto* sorted_cand_keys = a->Take<float>(num_cand);
    auto* cand_level = a->Take<int>(num_cand);
    auto* valid = a->Take<int>(num_cand);
    auto* num_valid = a->Take<int>(1);
    auto* cand_iota = a->Take<int64_t>(num_cand);
    auto* order = a->Take<int64_t>(num_cand);
    auto* sorted_boxes = a->Take<float>(num_cand * 4);
    auto* sorted_levels = a->Take<int>(num_cand);
    auto* mask = a->Take<uint64_t>(num_cand * internal::NmsWords(n));
    auto* keep = a->Take<int64_t>(num_cand);
    auto* keep_count = a->Take<int>(1);
    auto* temp = a->Take<char>(std::max(seg_sort_bytes, std::max(cand_sort_bytes, sum_bytes)));
    return use(offsets_dev, sorted_keys, anchor_iota, sorted_anchor, cand_boxes, cand_scores,
               sort_keys, sorted_cand_keys, cand_level, valid, num_valid, cand_iota, order,
               sorted_boxes, sorted_levels, mask, keep, keep_count, temp);
  };
  layout(&arena, [](auto&&...) { return 0; });  // measure
  char* buffer = nullptr;
  e = cudaMallocAsync(&buffer, arena.size(), stream);
  if (e != cudaSuccess) return e;
  arena.Bind(buffer);
  e = layout(&arena, [&](int64_t* offsets_dev, float* sorted_keys, int64_t* anchor_iota,
                         int64_t* sorted_anchor, float* cand_boxes, float* cand_scores,
                         float* sort_keys, float* sorted_cand_keys, int* cand_level, int* valid,
                         int* num_valid, int64_t* cand_iota, int64_t* order, float* sorted_boxes,
                         int* sorted_levels, uint64_t* mask, int64_t* keep, int* keep_count,
                         char* temp) -> cudaError_t {
    cudaError_t r = cudaMemcpyAsync(offsets_dev, offsets.data(), sizeof(int64_t) * (seg.count + 1),
                                    cudaMemcpyHostToDevice, stream);
    if (r != cudaSuccess) return r;
    IotaKernel<<<BlocksFor(num_anchors), kThreadsPerBlock, 0, stream>>>(anchor_iota, num_anchors);
    size_t bytes = seg_sort_bytes;
    r = cub::DeviceSegmentedRadixSort::SortPairsDescending(
        temp, bytes, objectness, sorted_keys, anchor_iota, sorted_anchor,
        static_cast<int>(num_anchors), seg.count, offsets_dev, offsets_dev + 1, 0, 32, stream);
    if (r != cudaSuccess) return r;
    DecodeKernel<<<BlocksFor(num_cand), kThreadsPerBlock, 0, stream>>>(
        seg, sorted_anchor, objectness, deltas, anchors, params, image_height, image_width,
        cand_boxes, cand_scores, sort_keys, cand_level, valid);
    bytes = sum_bytes;
    r = cub::DeviceReduce::Sum(temp, bytes, valid, num_valid, n, stream);
    if (r != cudaSuccess) return r;
    IotaKernel<<<BlocksFor(num_cand), kThreadsPerBlock, 0, stream>>>(cand_iota, num_cand);
    bytes = cand_sort_bytes;
    r = cub::DeviceRadixSort::SortPairsDescending(temp, bytes, sort_keys, sorted_cand_keys,
                                                  cand_iota, order, n, 0, 32, stream);
    if (r != cudaSuccess) return r;
    GatherSortedKernel<<<BlocksFor(num_cand), kThreadsPerBlock, 0, stream>>>(
        order, num_cand, cand_boxes, cand_level, sorted_boxes, sorted_levels);
    r = internal::LaunchNmsMask(sorted_boxes, params.per_level ? sorted_levels : nullptr, n,
                                num_valid, params.nms_threshold, mask, stream);
    if (r != cudaSuccess) return r;
    r = internal::LaunchNmsReduce(mask, n, num_valid, nullptr, keep, keep_count, stream);
    if (r != cudaSuccess) return r;
    OutputKernel<<<BlocksFor(params.post_nms_top_n), kThreadsPerBlock, 0, stream>>>(
        keep, keep_count, params.post_nms_top_n, order, sorted_boxes, cand_scores, boxes, scores,
        count);
    return cudaGetLastError();
  });
  cudaError_t f = cudaFreeAsync(buffer, stream);
  return e != cudaSuccess ? e : f;
}

}  // namespace cuda
}  // namespace ops
}  // namespace mrcnn
