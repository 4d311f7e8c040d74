// Frozen batch norm folded into the convolution before it, for bf16 inference.
//
// A convolution followed by FrozenBatchNorm2d computes conv(x, W) * s + t per output channel
// (s = weight / sqrt(running_var + eps), t = bias - running_mean * s), which equals conv(x, W * s) + t
// (plus b * s for a convolution bias b). Under PRECISION=bf16 inference, ConvNormFolding runs that one
// convolution with W * s computed in fp32 and cast to bf16 once, and t as its bias. The weights are
// kept channels-last, the layout ATen hands them to oneDNN in for a channels-last input, so autocast's
// per-call fp32 -> bf16 cast of the weights, ATen's copy of them into channels-last, and the norm's two
// elementwise passes are gone. oneDNN still reorders the weights into its blocked layout on every call
// (README, "Prepacked weights: tried, not kept").
//
// It folds only when all of these hold: the norm is a FrozenBatchNorm2d in eval mode, grad mode is
// off, the input is on the CPU, CPU autocast to bf16 is on (MaskRCNN::Infer's AutocastScope), and
// SetBf16InferenceFolding has not turned folding off. Otherwise (fp32, training, trainable
// BatchNorm2d, CUDA) it runs norm(conv(x)), the unfolded modules, unchanged.
//
// The folded tensors are cached and rebuilt when an input of them changes: the key holds the storage,
// data pointer and version counter of the convolution's weight (and bias) and of the norm's four
// buffers, and the weight's dtype and device. Every in-place write bumps the version (loading weights
// with copy_, an optimiser step); model->to(device or dtype) and set_ swap the storage.
//
//   ConvNormFolding fold;  // one per (conv, norm) pair; not a registered module
//   // norm: the AnyModule after conv; x: [N, Cin, H, W] -> y: [N, Cout, H', W']
//   torch::Tensor y = fold.Forward(*conv, norm, x);
#ifndef MRCNN_BACKBONE_FOLDED_CONV_H_
#define MRCNN_BACKBONE_FOLDED_CONV_H_

#include <cstdint>
#include <mutex>
#include <vector>

#include <c10/core/StorageImpl.h>
#include <c10/util/intrusive_ptr.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/conv.h>
#include <torch/types.h>

namespace mrcnn {

// Process-wide switch for the folding above (default on). Off: bf16 inference runs the unfolded
// convolution and norm, as training does; for tests and benchmarks that compare the two.
void SetBf16InferenceFolding(bool enabled);
bool Bf16InferenceFolding();

class ConvNormFolding {
 public:
  // norm.forward(conv(x)), through the folded convolution when the conditions above hold. `norm` is
  // the module that follows `conv` (MakeBatchNorm's FrozenBatchNorm2d or torch::nn::BatchNorm2d).
  torch::Tensor Forward(torch::nn::Conv2dImpl& conv, torch::nn::AnyModule& norm, const torch::Tensor& x);

  // Whether Forward would fold for this norm and input right now.
  static bool Folds(const torch::nn::Conv2dImpl& conv, const torch::nn::Module& norm,
                    const torch::Tensor& x);

  // How many times the folded tensors were (re)built; for tests of the cache.
  int64_t builds() const { return builds_; }

 private:
  // What the folded tensors were computed from: for each input tensor its storage (held weakly, so a
  // new storage can never be taken for the old one at a reused address), data pointer and version;
  // and the weight's dtype and device.
  struct Source {
    c10::weak_intrusive_ptr<c10::StorageImpl> storage;
    const void* data;
    int64_t version;
  };
  struct Key {
    std::vector<Source> tensors;
    c10::ScalarType dtype = c10::ScalarType::Undefined;
    c10::Device device = c10::Device(c10::DeviceType::CPU);
  };
  static std::vector<const torch::Tensor*> SourcesOf(const torch::nn::Conv2dImpl& conv,
                                                     const torch::nn::Module& norm);
  static Key KeyOf(const torch::nn::Conv2dImpl& conv, const torch::nn::Module& norm);
  bool CacheMatches(const torch::nn::Conv2dImpl& conv, const torch::nn::Module& norm) const;
  void Build(const torch::nn::Conv2dImpl& conv, const torch::nn::Module& norm);

  std::mutex mutex_;  // Forward may be called from several threads on one model
  Key key_;
  torch::Tensor weight_;  // [Cout, Cin / groups, kh, kw] bf16, channels-last: W * s
  torch::Tensor bias_;    // [Cout] bf16: t (+ b * s)
  int64_t builds_ = 0;
};

}  // namespace mrcnn

#endif  // MRCNN_BACKBONE_FOLDED_CONV_H_
