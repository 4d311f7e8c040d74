// The Mask R-CNN model: backbone + RPN + ROI heads on one module, with training and inference modes.
//
// Submodules are `backbone`, `rpn` and `roi_heads`, so every parameter name equals torchvision's
// maskrcnn_resnet50_fpn state dict and converted torchvision checkpoints load by name
// (mrcnn/weights). The Config builds everything; CreateMaskRCNN() rejects inconsistent settings with a
// message naming the key.
//
//   absl::StatusOr<MaskRCNN> model = CreateMaskRCNN(Config::Preset("torchvision").value());
//   LoadWeights(**model, "maskrcnn_resnet50_fpn_coco.pt", {});
// Images come resized and normalised by the data side (datasets::PrepareImage in training,
// PrepareInferenceImage in evaluation and detect); the model pads them into a batch (transform.h).
//
//   (*model)->eval();
//   datasets::PreparedImage p = datasets::PrepareInferenceImage(rgb, config).value();
//   InputGeometry geometry{{p.meta.window[0], ...}, {rgb.rows, rgb.cols}};
//   std::vector<ImageDetections> dets = (*model)->Detect({datasets::ImageTensor(p.image)}, {geometry});
//   (*model)->train();
//   LossMap losses = (*model)->Losses({image}, {targets});        // "rpn_class_loss", ...
#ifndef MRCNN_MODEL_MASK_RCNN_H_
#define MRCNN_MODEL_MASK_RCNN_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "absl/status/statusor.h"
#include "mrcnn/backbone/backbone.h"
#include "mrcnn/config/config.h"
#include "mrcnn/model/transform.h"
#include "mrcnn/roi_heads/roi_heads.h"
#include "mrcnn/rpn/rpn.h"

namespace mrcnn {

// Ground truth of one image in the pixel coordinates of the model's input image.
struct InstanceTargets {
  torch::Tensor boxes;   // [G, 4] float (x1, y1, x2, y2)
  torch::Tensor labels;  // [G] int64 class ids, 1 .. NUM_CLASSES - 1
  // USE_MINI_MASK false: [G, H, W] full-image masks (bool / uint8 / float);
  // USE_MINI_MASK true:  [G, mh, mw] mini masks of `boxes` (matterport's minimize_mask).
  torch::Tensor masks;
};

// Detections of one image in the coordinates of its InputGeometry::original_size (by default, those
// of the input image).
struct ImageDetections {
  torch::Tensor boxes;       // [D, 4] float (x1, y1, x2, y2)
  torch::Tensor labels;      // [D] int64 class ids
  torch::Tensor scores;      // [D] float
  torch::Tensor mask_probs;  // [D, H, W] float mask probabilities (torchvision's "masks")
  torch::Tensor masks;       // [D, H, W] bool, mask_probs > 0.5
};

struct InferenceOutput {
  std::vector<ImageDetections> detections;  // per image
  std::vector<torch::Tensor> proposals;     // per image RPN proposals [P_i, 4], input-image pixels
  ImageBatch batch;                         // the network input
};

// Weighted losses by LOSS_WEIGHTS name: rpn_class_loss, rpn_bbox_loss, mrcnn_class_loss,
// mrcnn_bbox_loss, mrcnn_mask_loss.
using LossMap = std::map<std::string, torch::Tensor>;

struct MaskRCNNImpl : torch::nn::Module {
  // Aborts with c10::Error on a bad config; CreateMaskRCNN() returns the error instead.
  explicit MaskRCNNImpl(const Config& config);

  // The device of the weights (model->to(device) moves them): inputs and targets are moved there,
  // detections come back on the CPU.
  torch::Device Device() const;

  // Inference (eval mode; uses no_grad). images: RGB [3, H_i, W_i] float, as the data side prepared
  // them (resized, normalised), on the CPU. `geometry` (empty, or one per image) maps the detections back: boxes from
  // the window to the original size, clipped to it, masks pasted at the original size.
  InferenceOutput Infer(const std::vector<torch::Tensor>& images,
                        const std::vector<InputGeometry>& geometry = {});
  std::vector<ImageDetections> Detect(const std::vector<torch::Tensor>& images,
                                      const std::vector<InputGeometry>& geometry = {}) {
    return Infer(images, geometry).detections;
  }

  // Training (train mode): weighted losses. Sampling draws from `generator`, or from the model's own
  // generator seeded with SEED when null.
  LossMap Losses(const std::vector<torch::Tensor>& images,
                 const std::vector<InstanceTargets>& targets, at::Generator* generator = nullptr);

  // PRECISION=bf16: Infer and Losses run under bfloat16 autocast (weights stay fp32).
  bool UsesBf16() const { return config.PRECISION == Precision::kBf16; }
  // The batch [N, 3, H, W] in the memory layout the backbone runs fastest in for this precision.
  torch::Tensor NetworkInput(const torch::Tensor& images) const;

  // Sum of the weighted losses.
  static torch::Tensor TotalLoss(const LossMap& losses);

  Config config;
  TransformOptions transform;
  BackboneWithFPN backbone{nullptr};
  RegionProposalNetwork rpn{nullptr};
  RoIHeads roi_heads{nullptr};
  at::Generator generator;
};
TORCH_MODULE(MaskRCNN);

// Checks the config (Validate plus what the model needs) and builds the model with weights drawn from
// SEED. Errors name the config keys.
absl::StatusOr<MaskRCNN> CreateMaskRCNN(const Config& config);

// The device named by a --device flag: "cpu", "cuda" or "cuda:N". CUDA needs a CUDA LibTorch, a GPU,
// and a binary built with --config=cuda (the ops' CUDA kernels); the error says which is missing.
absl::StatusOr<torch::Device> ParseDevice(const std::string& name);

// The checks of CreateMaskRCNN without building anything.
absl::Status CheckModelConfig(const Config& config);

}  // namespace mrcnn

#endif  // MRCNN_MODEL_MASK_RCNN_H_
