// Mixed precision: an RAII scope that runs LibTorch's autocast in bfloat16 over the model's forward.
//
// Inside an enabled scope, autocast casts the inputs of convolutions, linear layers and matrix products
// to bfloat16 (oneDNN then runs them on AMX or AVX512-BF16 kernels where the CPU has them); weights stay
// fp32 masters and the gradients flow back to them in fp32. Ops outside autocast's lists run in the dtype
// they receive, so the model casts to float at the points that must stay fp32 (README: Mixed precision).
// A disabled scope turns autocast off, so an fp32 model stays exact even inside someone else's scope.
// The previous state (enabled flag and dtype) comes back when the scope ends.
//
//   {
//     AutocastScope scope(torch::kCPU, /*bf16=*/config.PRECISION == Precision::kBf16);
//     features = backbone->forward(images);  // bf16 convolutions
//   }
#ifndef MRCNN_PRECISION_AUTOCAST_H_
#define MRCNN_PRECISION_AUTOCAST_H_

#include <ATen/core/Tensor.h>
#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

namespace mrcnn {

class AutocastScope {
 public:
  // device_type: where the model runs (kCPU or kCUDA); bf16: autocast to bfloat16 on, else off.
  AutocastScope(c10::DeviceType device_type, bool bf16);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType device_type_;
  bool bf16_;
  bool was_enabled_;
  c10::ScalarType previous_dtype_;
};

// `t` in fp32 when it is bf16 or fp16 (an autocast op's output), else `t` itself: marks where a step
// that must stay fp32 takes its inputs. Differentiable.
at::Tensor ToFp32(const at::Tensor& t);
// The dtype ToFp32 gives a tensor of dtype `s`.
c10::ScalarType Fp32Dtype(c10::ScalarType s);

// Whether autocast is on for `device_type` right now, and the dtype it casts to there (the same on
// LibTorch 1.13 and 2.x, whose autocast functions differ).
bool AutocastEnabled(c10::DeviceType device_type);
c10::ScalarType AutocastDtype(c10::DeviceType device_type);

}  // namespace mrcnn

#endif  // MRCNN_PRECISION_AUTOCAST_H_
