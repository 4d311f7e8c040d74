#include "mrcnn/ops/nms.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "mrcnn/ops/box_math.h"
#include "mrcnn/ops/device_kernels.h"

namespace mrcnn {
namespace ops {
namespace {

void CheckInputs(const at::Tensor& boxes, const at::Tensor& scores, const char* fn) {
  TORCH_CHECK(boxes.defined() && scores.defined(), fn, ": boxes and scores must be defined");
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, fn,
              ": boxes must be [N, 4] (x1, y1, x2, y2), got shape ", boxes.sizes());
  TORCH_CHECK(scores.dim() == 1, fn, ": scores must be [N], got shape ", scores.sizes());
  TORCH_CHECK(boxes.size(0) == scores.size(0), fn, ": boxes has ", boxes.size(0),
              " rows but scores has ", scores.size(0));
  TORCH_CHECK(at::isFloatingType(boxes.scalar_type()), fn, ": boxes must be floating, got ",
              boxes.scalar_type());
  TORCH_CHECK(boxes.scalar_type() == scores.scalar_type(), fn,
              ": boxes and scores must have the same dtype, got ", boxes.scalar_type(), " and ",
              scores.scalar_type());
  TORCH_CHECK(boxes.device() == scores.device(), fn,
              ": boxes and scores must be on the same device, got ", boxes.device(), " and ",
              scores.device());
  TORCH_CHECK(boxes.device().is_cpu() || boxes.device().is_cuda(), fn,
              ": CPU or CUDA tensors only, got ", boxes.device());
  TORCH_CHECK(boxes.device().is_cpu() || boxes.scalar_type() == at::kFloat, fn,
              ": the CUDA kernel takes float32 boxes, got ", boxes.scalar_type());
}

// Greedy NMS over boxes already in visiting order (decreasing score). Coordinates are copied into
// structure-of-arrays form so the inner loop over the remaining boxes is branch-free and
// vectorises; `order` maps positions back to input indices. The threshold in T such that, for every
// T value v, v > result exactly when (double)v > threshold: torchvision compares its T overlap with
// the double threshold, and a comparison in T vectorises.
template <typename T>
T ThresholdIn(double threshold) {
  T t = static_cast<T>(threshold);
  if (static_cast<double>(t) > threshold)
    t = std::nextafter(t, -std::numeric_limits<T>::infinity());
  return t;
}

template <typename T>
std::vector<int64_t> NmsSorted(const T* boxes, const std::vector<int64_t>& order,
                               double iou_threshold) {
  const T threshold = ThresholdIn<T>(iou_threshold);
  const int64_t n = static_cast<int64_t>(order.size());
  std::vector<T> x1(n), y1(n), x2(n), y2(n), area(n);
  for (int64_t p = 0; p < n; ++p) {
    const T* b = boxes + 4 * order[p];
    x1[p] = b[0];
    y1[p] = b[1];
    x2[p] = b[2];
    y2[p] = b[3];
    area[p] = math::BoxArea(b[0], b[1], b[2], b[3]);
  }
  // int32 flags (the width of a float lane) so the compiler vectorises the loop over j.
  std::vector<int32_t> suppressed(n, 0);
  std::vector<int64_t> keep;
  const T* __restrict__ px1 = x1.data();
  const T* __restrict__ py1 = y1.data();
  const T* __restrict__ px2 = x2.data();
  const T* __restrict__ py2 = y2.data();
  const T* __restrict__ parea = area.data();
  int32_t* __restrict__ sup = suppressed.data();
  for (int64_t i = 0; i < n; ++i) {
    if (sup[i]) continue;
    keep.push_back(order[i]);
    const T ix1 = px1[i], iy1 = py1[i], ix2 = px2[i], iy2 = py2[i], iarea = parea[i];
    for (int64_t j = i + 1; j < n; ++j) {
      const T ovr =
          math::BoxIoU(ix1, iy1, ix2, iy2, iarea, px1[j], py1[j], px2[j], py2[j], parea[j]);
      sup[j] |= static_cast<int32_t>(ovr > threshold);
    }
  }
  return keep;
}

// `subset` sorted by decreasing score, equal scores in their given order (torchvision's stable
// sort). NaN sorts first, as in torch.sort(descending=True), which also keeps the comparison a
// strict weak order.
template <typename T>
std::vector<int64_t> StableOrder(const T* scores, const std::vector<int64_t>& subset) {
  std::vector<int64_t> order = subset;
  std::stable_sort(order.begin(), order.end(), [scores](int64_t a, int64_t b) {
    const T sa = scores[a];
    const T sb = scores[b];
    if (std::isnan(sb)) return false;
    return std::isnan(sa) || sa > sb;
  });
  return order;
}

at::Tensor ToTensor(const std::vector<int64_t>& v) {
  at::Tensor out = at::empty({static_cast<int64_t>(v.size())}, at::kLong);
  std::copy(v.begin(), v.end(), out.data_ptr<int64_t>());
  return out;
}

}  // namespace

at::Tensor Nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  CheckInputs(boxes, scores, "Nms");
  if (boxes.is_cuda()) return CudaKernels("Nms").nms(boxes, scores, at::Tensor(), iou_threshold);
  const at::Tensor b = boxes.contiguous();
  const at::Tensor s = scores.contiguous();
  std::vector<int64_t> keep;
  AT_DISPATCH_FLOATING_TYPES(b.scalar_type(), "Nms", [&] {
    std::vector<int64_t> all(b.size(0));
    std::iota(all.begin(), all.end(), 0);
    const std::vector<int64_t> order = StableOrder(s.data_ptr<scalar_t>(), all);
    keep = NmsSorted(b.data_ptr<scalar_t>(), order, iou_threshold);
  });
  return ToTensor(keep);
}

at::Tensor BatchedNms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                      double iou_threshold) {
  CheckInputs(boxes, scores, "BatchedNms");
  TORCH_CHECK(idxs.defined() && idxs.dim() == 1 && idxs.size(0) == boxes.size(0),
              "BatchedNms: idxs must be [N] with N = ", boxes.size(0), ", got shape ",
              idxs.defined() ? idxs.sizes() : at::IntArrayRef{});
  TORCH_CHECK(!at::isFloatingType(idxs.scalar_type()) && idxs.scalar_type() != at::kBool,
              "BatchedNms: idxs must be an integer tensor, got ", idxs.scalar_type());
  if (boxes.is_cuda()) {
    TORCH_CHECK(idxs.device() == boxes.device(), "BatchedNms: idxs must be on the boxes' device ",
                boxes.device(), ", got ", idxs.device());
    return CudaKernels("BatchedNms").nms(boxes, scores, idxs, iou_threshold);
  }
  const at::Tensor b = boxes.contiguous();
  const at::Tensor s = scores.contiguous();
  const at::Tensor c = idxs.to(at::kLong).contiguous();
  const int64_t n = b.size(0);
  const int64_t* pc = c.data_ptr<int64_t>();
  std::vector<int64_t> keep;
  AT_DISPATCH_FLOATING_TYPES(b.scalar_type(), "BatchedNms", [&] {
    const scalar_t* ps = s.data_ptr<scalar_t>();
    // Visiting order of all boxes; splitting it by category keeps each category's order stable.
    std::vector<int64_t> all(n);
    std::iota(all.begin(), all.end(), 0);
    const std::vector<int64_t> order = StableOrder(ps, all);
    std::vector<int64_t> categories(pc, pc + n);
    std::sort(categories.begin(), categories.end());
    categories.erase(std::unique(categories.begin(), categories.end()), categories.end());
    std::vector<std::vector<int64_t>> per_category(categories.size());
    for (int64_t i : order) {
      const size_t k =
          std::lower_bound(categories.begin(), categories.end(), pc[i]) - categories.begin();
      per_category[k].push_back(i);
    }
    for (const std::vector<int64_t>& cat_order : per_category) {
      const std::vector<int64_t> kept = NmsSorted(b.data_ptr<scalar_t>(), cat_order, iou_threshold);
      keep.insert(keep.end(), kept.begin(), kept.end());
    }
    // Merge: decreasing score, equal scores by index (torchvision sorts the kept indices stably).
    std::sort(keep.begin(), keep.end());
    keep = StableOrder(ps, keep);
  });
  return ToTensor(keep);
}

}  // namespace ops
}  // namespace mrcnn
