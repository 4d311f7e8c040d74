// Model benchmarks: inference latency and one training step (forward, backward, SGD step) of the whole
// Mask R-CNN, on inputs and weights written by the peer script (model_peer.py), which times
// torchvision's maskrcnn_resnet50_fpn on the same ones and prints the ratios.
//
//   /usr/bin/python3 benchmarks/model/model_peer.py --threads 2 --rounds 4 --iterations 2
//
// Flags: --inputs=FILE (tensor file from the peer), --weights=FILE (converted torchvision weights),
// --iterations=N (timed steps after one warm-up), --profile=FILE (LibTorch's operator trace of them),
// --preset, --set as every binary (--set PRECISION=bf16 for the bf16 model),
// --bf16_inference_folding=false (bf16 inference without frozen batch norm folded into the
// convolutions, mrcnn/backbone/folded_conv.h, to time what folding saves). Each benchmark reports
// peak_rss_mb (the process's peak resident set, so run one benchmark per process with
// --benchmark_filter to attribute it), and, from one more step observed after the timed ones, the
// convolutions' share of the step and their achieved TFLOP/s (conv_tflops) against the peak of a large
// bf16 matrix product measured in the same process (matmul_bf16_tflops; matmul_fp32_tflops too).
#include <sys/resource.h>

#include <benchmark/benchmark.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/optim/sgd.h>

#include <ATen/record_function.h>

#include <chrono>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "datasets/loader.h"
#include "datasets/preprocess.h"
#include "gflags/gflags.h"
#include "mrcnn/backbone/folded_conv.h"
#include "mrcnn/config/flags.h"
#include "mrcnn/config/help.h"
#include "mrcnn/model/mask_rcnn.h"
#include "mrcnn/precision/denormal.h"
#include "mrcnn/weights/weights.h"

DEFINE_string(inputs, "", "Tensor file with infer.image and train.{image,boxes,labels,masks}.<i>.");
DEFINE_string(weights, "", "Weight file for the model (empty: the seeded initial weights).");
DEFINE_int32(iterations, 1,
             "Timed iterations per benchmark after one warm-up (the reported time is their mean; the "
             "peer script passes its --iterations).");
DEFINE_bool(flush_denormal, false,
            "Flush denormal floats to zero (at::globalContext().setFlushDenormal, torch.set_flush_denormal "
            "on the peer's side): fp32 gradients of seeded random weights reach the denormal range, which "
            "some CPUs compute many times slower.");
DEFINE_string(profile, "",
              "Write LibTorch's operator profile of the timed iterations to this file (Chrome trace "
              "format; open it in chrome://tracing or Perfetto). Select one benchmark with "
              "--benchmark_filter: each writes the file anew. Empty: no profile.");

DEFINE_bool(bf16_inference_folding, true,
            "Fold frozen batch norm into the convolutions in bf16 inference (false: the unfolded "
            "modules, as before folding existed).");

namespace {

mrcnn::TensorMap* g_inputs = nullptr;
mrcnn::Config* g_config = nullptr;

// Profiles the timed iterations when --profile is given (the warm-up stays out of the trace).
std::unique_ptr<torch::autograd::profiler::RecordProfile> MaybeProfile() {
  if (FLAGS_profile.empty()) return nullptr;
  return std::make_unique<torch::autograd::profiler::RecordProfile>(FLAGS_profile);
}

// Convolution FLOPs and time of the ops observed while a ConvMeter lives (all threads). Forward
// convolutions are aten::convolution (2 * output elements * Cin/groups * kh * kw multiply-adds);
// aten::convolution_backward computes the input and weight gradients, twice the forward's work (the
// first layer's input gradient is skipped by LibTorch, so its backward is counted high by at most one
// forward of the stem). Times are inclusive wall times of those ops.
class ConvMeter {
 public:
  ConvMeter() {
    active_ = this;
    handle_ = at::addGlobalCallback(at::RecordFunctionCallback(&ConvMeter::Start, &ConvMeter::End)
                                        .needsInputs(true)
                                        .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION}));
  }
  ~ConvMeter() {
    at::removeCallback(handle_);
    active_ = nullptr;
  }
  double flops = 0;
  double seconds = 0;

 private:
  struct Context : at::ObserverContext {
    std::chrono::steady_clock::time_point start;
  };
  static double ForwardFlops(const at::Tensor& output, const at::Tensor& weight) {
    return 2.0 * static_cast<double>(output.numel()) * static_cast<double>(weight.numel() / weight.size(0));
  }
  static std::unique_ptr<at::ObserverContext> Start(const at::RecordFunction& fn) {
    const std::string name = fn.name();
    const bool forward = name == "aten::convolution";
    if (!forward && name != "aten::convolution_backward") return nullptr;
    const auto inputs = fn.inputs();
    // convolution(input, weight, ...): output elements from the input shape are not at hand; the
    // backward's first input is grad_output (the forward's output shape), so both use an output size.
    if (forward) {
      if (inputs.size() < 8 || !inputs[0].isTensor() || !inputs[1].isTensor()) return nullptr;
      const at::Tensor& x = inputs[0].toTensor();
      const at::Tensor& w = inputs[1].toTensor();
      const auto stride = inputs[3].toIntVector(), padding = inputs[4].toIntVector(),
                 dilation = inputs[5].toIntVector();
      if (x.dim() != 4 || w.dim() != 4 || inputs[6].toBool()) return nullptr;  // 2-d, not transposed
      double out = static_cast<double>(x.size(0) * w.size(0));
      for (int d = 0; d < 2; ++d) {
        out *= (x.size(2 + d) + 2 * padding[d] - dilation[d] * (w.size(2 + d) - 1) - 1) / stride[d] + 1;
      }
      active_->pending_flops_ = 2.0 * out * static_cast<double>(w.numel() / w.size(0));
    } else {
      if (inputs.size() < 3 || !inputs[0].isTensor() || !inputs[2].isTensor()) return nullptr;
      active_->pending_flops_ = 2.0 * ForwardFlops(inputs[0].toTensor(), inputs[2].toTensor());
    }
    auto ctx = std::make_unique<Context>();
    ctx->start = std::chrono::steady_clock::now();
    return ctx;
  }
  static void End(const at::RecordFunction&, at::ObserverContext* ctx) {
    if (ctx == nullptr || active_ == nullptr) return;
    const auto start = static_cast<Context*>(ctx)->start;
    active_->seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    active_->flops += active_->pending_flops_;
  }
  static ConvMeter* active_;
  double pending_flops_ = 0;  // convolutions do not nest: set at start, added at end
  at::CallbackHandle handle_;
};
ConvMeter* ConvMeter::active_ = nullptr;

// TFLOP/s of the best of 3 products of two n x n matrices of `dtype` (the machine's practical peak).
double MatmulTflops(torch::ScalarType dtype, int64_t n) {
  const torch::Tensor a = torch::randn({n, n}).to(dtype), b = torch::randn({n, n}).to(dtype);
  torch::mm(a, b);  // warm-up: oneDNN's kernel selection, page faults
  double best = 0;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    torch::mm(a, b);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * n * n * n / s / 1e12);
  }
  return best;
}

// Adds the convolution figures of one more `step` and the matrix-product peaks to the counters.
template <typename Step>
void ReportConvolutions(benchmark::State& state, Step step, double step_seconds) {
  double conv_seconds = 0, conv_flops = 0;
  {
    ConvMeter meter;
    step();
    conv_seconds = meter.seconds;
    conv_flops = meter.flops;
  }
  state.counters["conv_share"] = step_seconds > 0 ? conv_seconds / step_seconds : 0;
  state.counters["conv_gflop"] = conv_flops / 1e9;
  state.counters["conv_tflops"] = conv_seconds > 0 ? conv_flops / conv_seconds / 1e12 : 0;
  state.counters["matmul_bf16_tflops"] = MatmulTflops(torch::kBFloat16, 2048);
  state.counters["matmul_fp32_tflops"] = MatmulTflops(torch::kFloat, 2048);
}

double PeakRssMb() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

// The process's CPU time (user, system) and minor page faults over the timed iterations, per
// iteration: a step that spends seconds in the kernel (page faults of freshly mapped memory, reclaim)
// shows it here. The peer script reports the same for torchvision.
class ResourceUse {
 public:
  ResourceUse() { getrusage(RUSAGE_SELF, &start_); }
  void Report(benchmark::State& state, int iterations) const {
    rusage now;
    getrusage(RUSAGE_SELF, &now);
    const auto secs = [](const timeval& a, const timeval& b) {
      return static_cast<double>(b.tv_sec - a.tv_sec) + static_cast<double>(b.tv_usec - a.tv_usec) / 1e6;
    };
    state.counters["user_s"] = secs(start_.ru_utime, now.ru_utime) / iterations;
    state.counters["sys_s"] = secs(start_.ru_stime, now.ru_stime) / iterations;
    state.counters["minor_faults"] = static_cast<double>(now.ru_minflt - start_.ru_minflt) / iterations;
  }

 private:
  rusage start_;
};

mrcnn::MaskRCNN LoadModel() {
  absl::StatusOr<mrcnn::MaskRCNN> model = mrcnn::CreateMaskRCNN(*g_config);
  TORCH_CHECK(model.ok(), std::string(model.status().message()));
  if (!FLAGS_weights.empty()) {
    absl::StatusOr<mrcnn::LoadReport> r = mrcnn::LoadWeights(**model, FLAGS_weights, {});
    TORCH_CHECK(r.ok() && r->complete(), "cannot load ", FLAGS_weights);
  }
  return *model;
}

// An RGB [3, H, W] uint8 tensor as an H x W x 3 cv::Mat (sharing `hwc`'s memory).
cv::Mat RgbMat(const torch::Tensor& image, torch::Tensor* hwc) {
  *hwc = image.permute({1, 2, 0}).contiguous();
  return cv::Mat(static_cast<int>(hwc->size(0)), static_cast<int>(hwc->size(1)), CV_8UC3, hwc->data_ptr());
}

// What detect does with one decoded image: the data side's inference resize, then the model. The
// resize is timed with the model, as torchvision's transform is part of its model.
int64_t Detect(mrcnn::MaskRCNN& model, const cv::Mat& rgb) {
  const mrcnn::datasets::PreparedImage p = mrcnn::datasets::PrepareInferenceImage(rgb, *g_config).value();
  const auto& w = p.meta.window;
  const mrcnn::InputGeometry g{{w[0], w[1], w[2], w[3]}, {rgb.rows, rgb.cols}};
  return model->Detect({mrcnn::datasets::ImageTensor(p.image)}, {g})[0].boxes.size(0);
}

// The training inputs prepared by the data side: images by ResizeForModel, masks by ApplyResizeToMask
// (nearest), boxes by the per-axis ratio as torchvision's transform does.
void ResizeTrainInputs(const std::vector<cv::Mat>& rgbs, const std::vector<mrcnn::InstanceTargets>& in,
                       std::vector<torch::Tensor>* images, std::vector<mrcnn::InstanceTargets>* out) {
  images->clear();
  out->clear();
  for (size_t i = 0; i < rgbs.size(); ++i) {
    const cv::Mat& rgb = rgbs[i];
    mrcnn::datasets::Rng rng(0);
    const mrcnn::datasets::ResizeGeometry g = mrcnn::datasets::ComputeResize(rgb.rows, rgb.cols, *g_config, &rng).value();
    mrcnn::datasets::ImageMeta meta;
    images->push_back(mrcnn::datasets::ImageTensor(
        mrcnn::datasets::ResizeForModel(rgb, rgb.rows, rgb.cols, *g_config, &rng, &meta).value()));
    const torch::Tensor masks = in[i].masks.to(torch::kUInt8).contiguous();
    torch::Tensor resized = torch::empty({masks.size(0), g.out_height, g.out_width}, torch::kUInt8);
    for (int64_t k = 0; k < masks.size(0); ++k) {
      const cv::Mat m(static_cast<int>(masks.size(1)), static_cast<int>(masks.size(2)), CV_8UC1, masks[k].data_ptr());
      const cv::Mat r = mrcnn::datasets::ApplyResizeToMask(m, g);
      std::memcpy(resized[k].data_ptr(), r.clone().data, static_cast<size_t>(g.out_height) * g.out_width);
    }
    out->push_back({mrcnn::ResizeBoxes(in[i].boxes, {rgb.rows, rgb.cols}, {g.out_height, g.out_width}),
                    in[i].labels, resized});
  }
}

void BM_Inference(benchmark::State& state) {
  mrcnn::MaskRCNN model = LoadModel();
  model->eval();
  torch::Tensor hwc;
  const cv::Mat rgb = RgbMat(g_inputs->at("infer.image"), &hwc);
  int64_t detections = Detect(model, rgb);  // warm-up: anchor cache, allocator
  double seconds = 0;
  {
    const auto profile = MaybeProfile();
    const ResourceUse use;
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) {
      detections = Detect(model, rgb);
    }
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / FLAGS_iterations;
    use.Report(state, FLAGS_iterations);
  }
  state.counters["detections"] = detections;
  ReportConvolutions(state, [&] { Detect(model, rgb); }, seconds);
  state.counters["peak_rss_mb"] = PeakRssMb();
}

void BM_TrainStep(benchmark::State& state) {
  mrcnn::MaskRCNN model = LoadModel();
  model->train();
  std::vector<torch::Tensor> images, hwcs;
  std::vector<cv::Mat> rgbs;
  std::vector<mrcnn::InstanceTargets> raw, targets;
  for (int i = 0; g_inputs->count(absl::StrCat("train.image.", i)); ++i) {
    hwcs.emplace_back();
    rgbs.push_back(RgbMat(g_inputs->at(absl::StrCat("train.image.", i)), &hwcs.back()));
    raw.push_back({g_inputs->at(absl::StrCat("train.boxes.", i)), g_inputs->at(absl::StrCat("train.labels.", i)),
                   g_inputs->at(absl::StrCat("train.masks.", i))});
  }
  std::vector<torch::Tensor> params;
  for (auto& p : model->parameters()) {
    if (p.requires_grad()) params.push_back(p);
  }
  // The peer's SGD settings. A small rate: the seeded random weights diverge at the presets' rates (the
  // loss is NaN after one step at 0.02), and a step on NaN weights times other work.
  torch::optim::SGD sgd(params, torch::optim::SGDOptions(1e-5).momentum(0.9).weight_decay(1e-4));
  double loss = 0;
  const auto step = [&]() {
    sgd.zero_grad();
    ResizeTrainInputs(rgbs, raw, &images, &targets);  // torchvision resizes inside its step too
    torch::Tensor total = mrcnn::MaskRCNNImpl::TotalLoss(model->Losses(images, targets));
    total.backward();
    sgd.step();
    return total.item<double>();
  };
  loss = step();  // warm-up
  double seconds = 0;
  {
    const auto profile = MaybeProfile();
    const ResourceUse use;
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) {
      loss = step();
    }
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / FLAGS_iterations;
    use.Report(state, FLAGS_iterations);
  }
  state.counters["loss"] = loss;
  ReportConvolutions(state, step, seconds);
  state.counters["peak_rss_mb"] = PeakRssMb();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> sets = mrcnn::ExtractRepeatedFlag("set", &argc, &argv);
  benchmark::Initialize(&argc, argv);
  gflags::SetUsageMessage(
      "Times the whole Mask R-CNN: inference and one training step, on the peer script's inputs.\n"
      "Usage: model_benchmark --inputs=FILE [--weights=FILE] [--iterations=N] [--flush_denormal] "
      "[--profile=FILE] [--bf16_inference_folding=false] [--preset=NAME] [--set KEY=VALUE ...] "
      "[--benchmark_filter=REGEX]");
  mrcnn::ParseFlags(&argc, &argv);
  if (FLAGS_iterations < 1) {
    std::cerr << "model_benchmark: --iterations must be >= 1, got " << FLAGS_iterations << "\n";
    return 1;
  }
  absl::StatusOr<mrcnn::Config> config = mrcnn::ConfigFromFlags(sets);
  if (!config.ok()) {
    std::cerr << "model_benchmark: " << config.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<mrcnn::TensorMap> inputs = mrcnn::ReadTensorFile(FLAGS_inputs);
  if (!inputs.ok()) {
    std::cerr << "model_benchmark: " << inputs.status().message() << "\n";
    return 1;
  }
  if (!FLAGS_profile.empty()) {
    // LibTorch writes the trace when the timed steps end and stays silent when it cannot; find out now.
    std::ofstream probe(FLAGS_profile);
    if (!probe) {
      std::cerr << "model_benchmark: cannot write --profile file " << FLAGS_profile << ": "
                << std::strerror(errno) << "\n";
      return 1;
    }
  }
  if (absl::Status s = mrcnn::SetFlushDenormal(FLAGS_flush_denormal); !s.ok()) {
    std::cerr << "model_benchmark: " << s.message() << "\n";
    return 1;
  }
  mrcnn::SetBf16InferenceFolding(FLAGS_bf16_inference_folding);
  g_config = new mrcnn::Config(*config);
  g_inputs = new mrcnn::TensorMap(*std::move(inputs));
  for (const auto& [name, function] : {std::pair{"BM_Inference", &BM_Inference},
                                       std::pair{"BM_TrainStep", &BM_TrainStep}}) {
    benchmark::RegisterBenchmark(name, function)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(FLAGS_iterations)
        ->UseRealTime()
        ->MeasureProcessCPUTime();
  }
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
