#include "mrcnn/backbone/folded_conv.h"

#include <atomic>
#include <utility>
#include <variant>
#include <vector>

#include <c10/util/variant.h>
#include <torch/nn/functional/conv.h>

#include "mrcnn/backbone/batch_norm.h"
#include "mrcnn/precision/autocast.h"

namespace mrcnn {
namespace {

std::atomic<bool> g_folding{true};

// The alternative T of a conv option, or null: LibTorch 1.13's options are c10::variant, 2.x's
// std::variant; the argument's type picks the get_if that applies.
template <typename T, typename Variant>
const T* Alternative(const Variant& v) {
  using c10::get_if;
  using std::get_if;
  return get_if<T>(&v);
}

// The convolution's zero padding, or null when it pads otherwise ("same", "valid", reflect, ...).
const torch::ExpandingArray<2>* ZeroPadding(const torch::nn::Conv2dImpl& conv) {
  if (!Alternative<torch::enumtype::kZeros>(conv.options.padding_mode())) return nullptr;
  return Alternative<torch::ExpandingArray<2>>(conv.options.padding());
}

}  // namespace

void SetBf16InferenceFolding(bool enabled) { g_folding.store(enabled); }
bool Bf16InferenceFolding() { return g_folding.load(); }

bool ConvNormFolding::Folds(const torch::nn::Conv2dImpl& conv, const torch::nn::Module& norm,
                            const torch::Tensor& x) {
  return Bf16InferenceFolding() && !norm.is_training() && !conv.is_training() &&
         !at::GradMode::is_enabled() && dynamic_cast<const FrozenBatchNorm2dImpl*>(&norm) != nullptr &&
         x.device().is_cpu() && conv.weight.device().is_cpu() && AutocastEnabled(c10::DeviceType::CPU) &&
         AutocastDtype(c10::DeviceType::CPU) == at::kBFloat16 && ZeroPadding(conv) != nullptr;
}

std::vector<const torch::Tensor*> ConvNormFolding::SourcesOf(const torch::nn::Conv2dImpl& conv,
                                                             const torch::nn::Module& norm) {
  const auto& bn = dynamic_cast<const FrozenBatchNorm2dImpl&>(norm);
  std::vector<const torch::Tensor*> sources;
  for (const torch::Tensor* t : {&conv.weight, &conv.bias, &bn.weight, &bn.bias, &bn.running_mean,
                                 &bn.running_var}) {
    if (t->defined()) sources.push_back(t);
  }
  return sources;
}

ConvNormFolding::Key ConvNormFolding::KeyOf(const torch::nn::Conv2dImpl& conv,
                                            const torch::nn::Module& norm) {
  Key key;
  for (const torch::Tensor* t : SourcesOf(conv, norm)) {
    key.tensors.push_back({t->storage().getWeakStorageImpl(), t->data_ptr(), t->_version()});
  }
  key.dtype = conv.weight.scalar_type();
  key.device = conv.weight.device();
  return key;
}

bool ConvNormFolding::CacheMatches(const torch::nn::Conv2dImpl& conv,
                                   const torch::nn::Module& norm) const {
  if (!weight_.defined() || key_.dtype != conv.weight.scalar_type() ||
      key_.device != conv.weight.device()) {
    return false;
  }
  const std::vector<const torch::Tensor*> sources = SourcesOf(conv, norm);
  if (sources.size() != key_.tensors.size()) return false;
  for (size_t i = 0; i < sources.size(); ++i) {
    const Source& s = key_.tensors[i];
    if (s.storage.lock().get() != sources[i]->storage().unsafeGetStorageImpl() ||
        s.data != sources[i]->data_ptr() || s.version != sources[i]->_version()) {
      return false;
    }
  }
  return true;
}

void ConvNormFolding::Build(const torch::nn::Conv2dImpl& conv, const torch::nn::Module& norm) {
  const auto& bn = dynamic_cast<const FrozenBatchNorm2dImpl&>(norm);
  // In the weights' dtype (fp32; elementwise ops, which autocast leaves alone), rounded to bf16 once.
  const auto [scale, shift] = bn.ScaleAndShift();
  weight_ = (conv.weight * scale.reshape({-1, 1, 1, 1}))
                .to(torch::kBFloat16)
                .contiguous(torch::MemoryFormat::ChannelsLast);
  bias_ = (conv.bias.defined() ? conv.bias * scale + shift : shift).to(torch::kBFloat16);
  ++builds_;
}

torch::Tensor ConvNormFolding::Forward(torch::nn::Conv2dImpl& conv, torch::nn::AnyModule& norm_module,
                                       const torch::Tensor& x) {
  const torch::nn::Module& norm = *norm_module.ptr();
  if (!Folds(conv, norm, x)) return norm_module.forward(conv.forward(x));
  torch::Tensor weight, bias;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!CacheMatches(conv, norm)) {
      Build(conv, norm);
      key_ = KeyOf(conv, norm);
    }
    weight = weight_;
    bias = bias_;
  }
  const torch::ExpandingArray<2>& padding = *ZeroPadding(conv);
  // Autocast casts x to bf16 (the stem gets the fp32 images); weight and bias are bf16 already.
  return torch::conv2d(x, weight, bias, *conv.options.stride(), *padding, *conv.options.dilation(),
                       conv.options.groups());
}

}  // namespace mrcnn
