#include "mrcnn/precision/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace mrcnn {
namespace {

// LibTorch 2.4 took the device type as an argument and deprecated the per-device functions, which
// Debian's 1.13 is limited to.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
void SetEnabled(c10::DeviceType t, bool on) { at::autocast::set_autocast_enabled(t, on); }
c10::ScalarType Dtype(c10::DeviceType t) { return at::autocast::get_autocast_dtype(t); }
void SetDtype(c10::DeviceType t, c10::ScalarType dtype) { at::autocast::set_autocast_dtype(t, dtype); }
bool Enabled(c10::DeviceType t) { return at::autocast::is_autocast_enabled(t); }
#else
bool IsCuda(c10::DeviceType t) { return t == c10::DeviceType::CUDA; }

void SetEnabled(c10::DeviceType t, bool on) {
  if (IsCuda(t)) {
    at::autocast::set_enabled(on);
  } else {
    at::autocast::set_cpu_enabled(on);
  }
}

c10::ScalarType Dtype(c10::DeviceType t) {
  return IsCuda(t) ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}

void SetDtype(c10::DeviceType t, c10::ScalarType dtype) {
  if (IsCuda(t)) {
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
}

bool Enabled(c10::DeviceType t) { return IsCuda(t) ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled(); }
#endif

}  // namespace

c10::ScalarType Fp32Dtype(c10::ScalarType s) {
  return s == c10::ScalarType::BFloat16 || s == c10::ScalarType::Half ? c10::ScalarType::Float : s;
}

at::Tensor ToFp32(const at::Tensor& t) {
  const c10::ScalarType s = Fp32Dtype(t.scalar_type());
  return s == t.scalar_type() ? t : t.to(s);
}

bool AutocastEnabled(c10::DeviceType device_type) { return Enabled(device_type); }

c10::ScalarType AutocastDtype(c10::DeviceType device_type) { return Dtype(device_type); }

AutocastScope::AutocastScope(c10::DeviceType device_type, bool bf16)
    : device_type_(device_type),
      bf16_(bf16),
      was_enabled_(AutocastEnabled(device_type)),
      previous_dtype_(Dtype(device_type)) {
  SetEnabled(device_type_, bf16_);
  if (bf16_) {
    SetDtype(device_type_, c10::ScalarType::BFloat16);
    // Counted like Python's torch.autocast, so the cache of cast weights is dropped when the outermost
    // scope ends (the cast copies must not outlive an optimizer step that changes the masters).
    at::autocast::increment_nesting();
  }
}

AutocastScope::~AutocastScope() {
  if (bf16_ && at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  SetDtype(device_type_, previous_dtype_);
  SetEnabled(device_type_, was_enabled_);
}

}  // namespace mrcnn
