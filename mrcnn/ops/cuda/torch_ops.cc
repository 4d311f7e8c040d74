// The CUDA implementations of the ops' public API (device_kernels.h): tensors in, tensors out, on
// torch's current CUDA stream of the tensors' device. Linked into the model under --config=cuda; it
// registers itself at load time. With a CPU-only LibTorch there are no CUDA tensors to dispatch, so
// the file compiles to nothing (MRCNN_TORCH_HAS_CUDA is set by the LibTorch repository rule when
// the LibTorch folder has libtorch_cuda).
#ifdef MRCNN_TORCH_HAS_CUDA

#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "mrcnn/ops/cuda/kernels.h"
#include "mrcnn/ops/device_kernels.h"

namespace mrcnn {
namespace ops {
namespace cuda {
namespace {

void Check(cudaError_t e, const char* op) {
  TORCH_CHECK(e == cudaSuccess, op, ": CUDA error: ", cudaGetErrorString(e));
}

FpnLevels<float> Levels(const std::vector<at::Tensor>& planes, const RoiAlignArgs& args,
                        int64_t batch, int64_t channels, const char* op) {
  TORCH_CHECK(!planes.empty() && static_cast<int>(planes.size()) <= kMaxFpnLevels, op, ": ",
              planes.size(), " levels (the CUDA kernel takes 1 to ", kMaxFpnLevels, ")");
  TORCH_CHECK(args.k_max - args.k_min + 1 == static_cast<int64_t>(planes.size()), op, ": levels ",
              args.k_min, "..", args.k_max, " for ", planes.size(), " feature maps");
  TORCH_CHECK(args.scales.size() == planes.size(), op, ": ", args.scales.size(), " scales for ",
              planes.size(), " levels");
  TORCH_CHECK(batch <= std::numeric_limits<int>::max() && channels <= std::numeric_limits<int>::max(),
              op, ": batch or channels too large");
  FpnLevels<float> f{};
  f.num_levels = static_cast<int>(planes.size());
  f.k_min = static_cast<int>(args.k_min);
  f.k_max = static_cast<int>(args.k_max);
  f.batch = static_cast<int>(batch);
  f.channels = static_cast<int>(channels);
  for (size_t l = 0; l < planes.size(); ++l) {
    f.data[l] = planes[l].data_ptr<float>();
    f.height[l] = static_cast<int>(planes[l].size(2));
    f.width[l] = static_cast<int>(planes[l].size(3));
    f.scale[l] = static_cast<float>(args.scales[l]);
  }
  return f;
}

at::Tensor RoiAlignForward(at::TensorList features, const at::Tensor& rois,
                           const RoiAlignArgs& args) {
  const c10::cuda::CUDAGuard guard(features[0].device());
  std::vector<at::Tensor> planes;
  for (const at::Tensor& f : features) planes.push_back(f.contiguous());
  const at::Tensor r = rois.contiguous();
  at::Tensor output = at::empty({r.size(0), features[0].size(1), args.pooled_height,
                                 args.pooled_width},
                                features[0].options());
  if (output.numel() == 0) return output;
  const FpnLevels<float> levels =
      Levels(planes, args, features[0].size(0), features[0].size(1), "RoiAlign");
  Check(FusedRoiAlignForward(levels, r.data_ptr<float>(), r.size(0),
                             static_cast<int>(args.pooled_height),
                             static_cast<int>(args.pooled_width),
                             static_cast<int>(args.sampling_ratio), args.aligned,
                             output.data_ptr<float>(), c10::cuda::getCurrentCUDAStream().stream()),
        "RoiAlign");
  return output;
}

std::vector<at::Tensor> RoiAlignBackward(const at::Tensor& grad_output, const at::Tensor& rois,
                                         const RoiAlignArgs& args, int64_t batch, int64_t channels,
                                         const std::vector<int64_t>& heights,
                                         const std::vector<int64_t>& widths, bool deterministic) {
  const c10::cuda::CUDAGuard guard(grad_output.device());
  std::vector<at::Tensor> grads;
  for (size_t l = 0; l < heights.size(); ++l) {
    grads.push_back(at::zeros({batch, channels, heights[l], widths[l]}, grad_output.options()));
  }
  const at::Tensor go = grad_output.contiguous();
  const at::Tensor r = rois.contiguous();
  if (go.numel() == 0 || batch == 0 || channels == 0) return grads;
  const FpnLevels<float> levels = Levels(grads, args, batch, channels, "RoiAlignBackward");
  Check(FusedRoiAlignBackward(levels, r.data_ptr<float>(), r.size(0), go.data_ptr<float>(),
                              static_cast<int>(args.pooled_height),
                              static_cast<int>(args.pooled_width),
                              static_cast<int>(args.sampling_ratio), args.aligned, deterministic,
                              c10::cuda::getCurrentCUDAStream().stream()),
        "RoiAlignBackward");
  return grads;
}

at::Tensor NmsOnDevice(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold) {
  const char* op = idxs.defined() ? "BatchedNms" : "Nms";
  const c10::cuda::CUDAGuard guard(boxes.device());
  const int64_t n = boxes.size(0);
  TORCH_CHECK(n < std::numeric_limits<int>::max(), op, ": ", n, " boxes (at most 2^31 - 1)");
  const at::Tensor b = boxes.contiguous();
  const at::Tensor s = scores.contiguous();
  at::Tensor classes;
  if (idxs.defined()) classes = idxs.to(at::kInt).contiguous();
  at::Tensor keep = at::empty({n}, boxes.options().dtype(at::kLong));
  at::Tensor count = at::zeros({1}, boxes.options().dtype(at::kInt));
  Check(Nms(b.data_ptr<float>(), s.data_ptr<float>(),
            classes.defined() ? classes.data_ptr<int>() : nullptr, static_cast<int>(n),
            static_cast<float>(iou_threshold), keep.data_ptr<int64_t>(), count.data_ptr<int>(),
            c10::cuda::getCurrentCUDAStream().stream()),
        op);
  // The count decides the result's size: one device-to-host copy, as torchvision's CUDA nms.
  return keep.narrow(0, 0, count.item<int>());
}

const bool registered = [] {
  CudaOpKernels k;
  k.roi_align_forward = &RoiAlignForward;
  k.roi_align_backward = &RoiAlignBackward;
  k.nms = &NmsOnDevice;
  RegisterCudaKernels(k);
  return true;
}();

}  // namespace
}  // namespace cuda
}  // namespace ops
}  // namespace mrcnn

#endif  // MRCNN_TORCH_HAS_CUDA
