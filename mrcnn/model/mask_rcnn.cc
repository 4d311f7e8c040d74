#include "mrcnn/model/mask_rcnn.h"

#include <torch/cuda.h>

#include "absl/strings/str_cat.h"
#include "mrcnn/ops/device_kernels.h"
#include "mrcnn/ops/mask_ops.h"
#include "mrcnn/ops/sampler.h"
#include "mrcnn/precision/autocast.h"

namespace mrcnn {
namespace {

template <typename T>
T Unwrap(absl::StatusOr<T> v) {
  TORCH_CHECK(v.ok(), "MaskRCNN: invalid config: ", std::string(v.status().message()));
  return *std::move(v);
}

}  // namespace

absl::Status CheckModelConfig(const Config& config) {
  absl::Status s = config.Validate();
  if (!s.ok()) return s;
  if (auto o = BackboneOptionsFromConfig(config); !o.ok()) return o.status();
  if (auto o = RPNOptionsFromConfig(config); !o.ok()) return o.status();
  if (auto o = RoIHeadsOptionsFromConfig(config); !o.ok()) return o.status();
  if (auto o = TransformOptionsFromConfig(config); !o.ok()) return o.status();
  if (config.USE_MINI_MASK && (config.MINI_MASK_SHAPE.size() != 2 || config.MINI_MASK_SHAPE[0] <= 0 ||
                               config.MINI_MASK_SHAPE[1] <= 0)) {
    return absl::InvalidArgumentError("MINI_MASK_SHAPE: must be (height, width) > 0 with USE_MINI_MASK");
  }
  return absl::OkStatus();
}

absl::StatusOr<torch::Device> ParseDevice(const std::string& name) {
  if (name == "cpu") return torch::Device(torch::kCPU);
  int64_t index = -1;
  if (name != "cuda") {
    const std::string prefix = "cuda:";
    const std::string digits = name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : "";
    if (digits.empty() || digits.size() > 3 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--device: '", name, "' is not cpu, cuda or cuda:N"));
    }
    index = std::stoll(digits);
  }
  if (!ops::HaveCudaKernels()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--device=", name, ": this binary was built without the CUDA kernels; build it with "
        "--config=cuda and LIBTORCH_HOME set to a CUDA LibTorch (README: CUDA)"));
  }
  const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  if (count == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("--device=", name, ": no CUDA device is visible to this process"));
  }
  if (index >= count) {
    return absl::InvalidArgumentError(absl::StrCat("--device=", name, ": only ", count,
                                                   " CUDA device(s) are visible"));
  }
  return index < 0 ? torch::Device(torch::kCUDA) : torch::Device(torch::kCUDA, static_cast<int8_t>(index));
}

absl::StatusOr<MaskRCNN> CreateMaskRCNN(const Config& config) {
  absl::Status s = CheckModelConfig(config);
  if (!s.ok()) return s;
  return MaskRCNN(config);
}

MaskRCNNImpl::MaskRCNNImpl(const Config& c)
    : config(c), transform(Unwrap(TransformOptionsFromConfig(c))),
      generator(ops::MakeGenerator(static_cast<uint64_t>(c.SEED))) {
  // Weights are drawn from the global generator: seed it so that SEED fixes the initial model.
  torch::manual_seed(static_cast<uint64_t>(c.SEED));
  backbone = register_module("backbone", BackboneWithFPN(Unwrap(BackboneOptionsFromConfig(c))));
  rpn = register_module("rpn", RegionProposalNetwork(Unwrap(RPNOptionsFromConfig(c))));
  roi_heads = register_module("roi_heads", RoIHeads(Unwrap(RoIHeadsOptionsFromConfig(c))));
}

InferenceOutput MaskRCNNImpl::Infer(const std::vector<torch::Tensor>& images,
                                    const std::vector<InputGeometry>& geometry) {
  TORCH_CHECK(!is_training(), "MaskRCNN::Infer: call eval() first (the model is in training mode)");
  TORCH_CHECK(geometry.empty() || geometry.size() == images.size(), "MaskRCNN::Infer: ", images.size(),
              " images but ", geometry.size(), " geometries");
  torch::NoGradGuard no_grad;
  InferenceOutput out;
  const torch::Device device = Device();
  out.batch = BatchImages(images, transform);
  out.batch.images = out.batch.images.to(device);
  RPNOutput proposals;
  RoIHeadsOutput heads;
  {
    // PRECISION=bf16: the stages cast to fp32 where they must (decoding, NMS, ROIAlign, softmax).
    AutocastScope precision(device.type(), UsesBf16());
    const std::vector<torch::Tensor> features = backbone->forward(NetworkInput(out.batch.images));
    proposals = rpn->forward(features, out.batch.image_sizes, out.batch.padded_size());
    heads = roi_heads->forward(features, proposals.proposals, out.batch.image_sizes);
  }
  for (const torch::Tensor& p : proposals.proposals) out.proposals.push_back(p.cpu());
  for (size_t i = 0; i < images.size(); ++i) {
    const Detections& d = heads.detections[i];
    const ImageSize input = out.batch.image_sizes[i];
    InputGeometry g;
    if (!geometry.empty()) g = geometry[i];
    if (g.window[2] <= g.window[0] || g.window[3] <= g.window[1]) g.window = {0, 0, input.first, input.second};
    if (g.original_size.first <= 0 || g.original_size.second <= 0) {
      g.original_size = {g.window[2] - g.window[0], g.window[3] - g.window[1]};
    }
    const ImageSize window_size = {g.window[2] - g.window[0], g.window[3] - g.window[1]};
    ImageDetections r;
    // matterport's unmold_detections: clip to the window, shift to its origin, scale to the original.
    torch::Tensor boxes = d.boxes;
    if (g.window != std::array<int64_t, 4>{0, 0, input.first, input.second}) {
      const auto x = [&](int k) { return boxes.select(1, k); };
      boxes = torch::stack({x(0).clamp(g.window[1], g.window[3]) - g.window[1],
                            x(1).clamp(g.window[0], g.window[2]) - g.window[0],
                            x(2).clamp(g.window[1], g.window[3]) - g.window[1],
                            x(3).clamp(g.window[0], g.window[2]) - g.window[0]},
                           1);
    }
    r.boxes = window_size == g.original_size ? boxes : ResizeBoxes(boxes, window_size, g.original_size);
    r.labels = d.labels;
    r.scores = d.scores;
    r.mask_probs = ops::PasteMasksInImage(d.masks, r.boxes, g.original_size.first, g.original_size.second)
                       .squeeze(1);
    // Detections leave on the CPU, where their consumers (evaluation, drawing, JSON) read them.
    r.boxes = r.boxes.cpu();
    r.labels = r.labels.cpu();
    r.scores = r.scores.cpu();
    r.mask_probs = r.mask_probs.cpu();
    r.masks = r.mask_probs > 0.5;
    out.detections.push_back(r);
  }
  return out;
}

LossMap MaskRCNNImpl::Losses(const std::vector<torch::Tensor>& images,
                             const std::vector<InstanceTargets>& targets, at::Generator* gen) {
  TORCH_CHECK(is_training(), "MaskRCNN::Losses: call train() first (the model is in eval mode)");
  TORCH_CHECK(images.size() == targets.size(), "MaskRCNN::Losses: ", images.size(), " images but ",
              targets.size(), " targets");
  at::Generator& g = gen != nullptr ? *gen : generator;
  const torch::Device device = Device();
  ImageBatch batch = BatchImages(images, transform);
  batch.images = batch.images.to(device);
  std::vector<torch::Tensor> gt_boxes;
  std::vector<RoITargets> roi_targets;
  for (size_t i = 0; i < targets.size(); ++i) {
    const InstanceTargets& t = targets[i];
    TORCH_CHECK(t.boxes.dim() == 2 && t.boxes.size(1) == 4, "MaskRCNN::Losses: boxes of image ", i,
                " must be [G, 4], got ", t.boxes.sizes());
    const int64_t g_count = t.boxes.size(0);
    TORCH_CHECK(t.labels.dim() == 1 && t.labels.size(0) == g_count, "MaskRCNN::Losses: labels of image ",
                i, " must be [", g_count, "], got ", t.labels.sizes());
    TORCH_CHECK(g_count == 0 || (t.labels.min().item<int64_t>() >= 1 &&
                                 t.labels.max().item<int64_t>() < config.NUM_CLASSES),
                "MaskRCNN::Losses: labels of image ", i, " must be in 1..", config.NUM_CLASSES - 1);
    TORCH_CHECK(t.masks.dim() == 3 && t.masks.size(0) == g_count, "MaskRCNN::Losses: masks of image ",
                i, " must be [", g_count, ", H, W], got ", t.masks.sizes());
    if (config.USE_MINI_MASK) {
      TORCH_CHECK(t.masks.size(1) == config.MINI_MASK_SHAPE[0] && t.masks.size(2) == config.MINI_MASK_SHAPE[1],
                  "MaskRCNN::Losses: USE_MINI_MASK needs masks of MINI_MASK_SHAPE (",
                  config.MINI_MASK_SHAPE[0], ", ", config.MINI_MASK_SHAPE[1], ") for image ", i,
                  ", got ", t.masks.sizes());
    } else {
      TORCH_CHECK(t.masks.size(1) == batch.image_sizes[i].first && t.masks.size(2) == batch.image_sizes[i].second,
                  "MaskRCNN::Losses: full masks of image ", i, " must match the image size ",
                  batch.image_sizes[i].first, "x", batch.image_sizes[i].second, ", got ", t.masks.sizes());
    }
    RoITargets rt;
    rt.boxes = t.boxes.to(device, torch::kFloat);
    rt.labels = t.labels.to(device, torch::kLong);
    rt.masks = t.masks.to(device);
    gt_boxes.push_back(rt.boxes);
    roi_targets.push_back(rt);
  }
  RPNOutput proposals;
  RoIHeadsOutput heads;
  {
    // PRECISION=bf16: forward in bf16 where autocast casts; the losses are computed in fp32 inside the
    // stages, and backward (outside this scope) returns fp32 gradients to the fp32 weights.
    AutocastScope precision(device.type(), UsesBf16());
    const std::vector<torch::Tensor> features = backbone->forward(NetworkInput(batch.images));
    proposals = rpn->forward(features, batch.image_sizes, batch.padded_size(), &gt_boxes, &g);
    heads = roi_heads->forward(features, proposals.proposals, batch.image_sizes, &roi_targets, &g);
  }
  const auto weight = [&](const std::string& name) {
    auto it = config.LOSS_WEIGHTS.find(name);
    return it == config.LOSS_WEIGHTS.end() ? 1.0 : it->second;
  };
  LossMap losses;
  losses["rpn_class_loss"] = proposals.loss_objectness * weight("rpn_class_loss");
  losses["rpn_bbox_loss"] = proposals.loss_box * weight("rpn_bbox_loss");
  losses["mrcnn_class_loss"] = heads.loss_classifier * weight("mrcnn_class_loss");
  losses["mrcnn_bbox_loss"] = heads.loss_box_reg * weight("mrcnn_bbox_loss");
  losses["mrcnn_mask_loss"] = heads.loss_mask * weight("mrcnn_mask_loss");
  return losses;
}

torch::Tensor MaskRCNNImpl::NetworkInput(const torch::Tensor& images) const {
  // bf16: channels-last activations through the backbone and FPN. oneDNN's convolutions work in NHWC
  // directly, where NCHW tensors cost a reorder into its blocked layout and back around every
  // convolution (ONEDNN_VERBOSE: as much time as the convolutions themselves). fp32 keeps NCHW, the
  // layout of the exact torchvision parity.
  return UsesBf16() && images.device().is_cpu() ? images.contiguous(torch::MemoryFormat::ChannelsLast)
                                                : images;
}

torch::Device MaskRCNNImpl::Device() const {
  const std::vector<torch::Tensor> params = parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

torch::Tensor MaskRCNNImpl::TotalLoss(const LossMap& losses) {
  TORCH_CHECK(!losses.empty(), "MaskRCNN::TotalLoss: no losses");
  torch::Tensor total;
  for (const auto& [name, l] : losses) total = total.defined() ? total + l : l;
  return total;
}

}  // namespace mrcnn
