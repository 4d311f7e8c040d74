// Google Benchmark of the detection ops: NMS (1k, 5k, 20k boxes), ROIAlign forward + backward over
// the FPN levels of an 800x1088 image (256 channels; 512 and 1000 ROIs; 7x7 and 14x14), and anchor
// generation. Its peer, ops_peer.py, runs this binary and times torchvision on the same inputs.
//
//   bazel run //benchmarks:ops_benchmark -- --threads=2 [--inputs=FILE.pt] [--benchmark_filter=Nms]
//
// --inputs names a torch.save'd dict written by ops_peer.py; without it the inputs are drawn here
// with the same recipe (seeded), so the binary also runs on its own. "Time" is wall-clock time per
// iteration; "CPU" is the process's CPU time over all threads.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "mrcnn/ops/anchors.h"
#include "mrcnn/ops/nms.h"
#include "mrcnn/ops/roi_align.h"

namespace {

std::map<std::string, at::Tensor>& Inputs() {
  static std::map<std::string, at::Tensor> inputs;
  return inputs;
}

// Random boxes in an 800x1088 image, sides log-uniform in [lo, hi] pixels.
at::Tensor RandomBoxes(int64_t n, double lo, double hi, at::Generator& gen) {
  const at::Tensor ctr = at::rand({n, 2}, gen) * at::tensor({1088.f, 800.f});
  const at::Tensor side = at::exp(at::rand({n, 2}, gen) * std::log(hi / lo)) * lo;
  return at::cat({ctr - side / 2, ctr + side / 2}, 1);
}

void MakeInputs() {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(0);
  auto& in = Inputs();
  for (int64_t n : {1000, 5000, 20000}) {
    in["nms/" + std::to_string(n) + "/boxes"] = RandomBoxes(n, 8, 256, gen);
    in["nms/" + std::to_string(n) + "/scores"] = at::rand({n}, gen);
  }
  for (int l = 2; l <= 5; ++l) {
    in["fpn/" + std::to_string(l)] = at::randn({1, 256, 800 >> l, 1088 >> l}, gen);
  }
  for (int64_t n : {512, 1000}) in["rois/" + std::to_string(n)] = RandomBoxes(n, 16, 600, gen);
}

void LoadInputs(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "ops_benchmark: cannot open --inputs file %s\n", path.c_str());
    std::exit(2);
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  for (const auto& item : torch::jit::pickle_load(bytes).toGenericDict()) {
    Inputs()[item.key().toStringRef()] = item.value().toTensor();
  }
}

void BM_Nms(benchmark::State& state) {
  const std::string p = "nms/" + std::to_string(state.range(0)) + "/";
  const at::Tensor boxes = Inputs().at(p + "boxes");
  const at::Tensor scores = Inputs().at(p + "scores");
  int64_t kept = 0;
  for (auto _ : state) {
    const at::Tensor keep = mrcnn::ops::Nms(boxes, scores, 0.7);
    kept = keep.numel();
    benchmark::DoNotOptimize(keep.data_ptr());
  }
  state.counters["kept"] = static_cast<double>(kept);
}
BENCHMARK(BM_Nms)
    ->Arg(1000)
    ->Arg(5000)
    ->Arg(20000)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

// Forward and backward of MultiScaleRoiAlign over P2..P5 (sampling ratio 2, aligned = false, as
// torchvision's box and mask heads).
void BM_RoiAlignFpn(benchmark::State& state) {
  const int64_t rois = state.range(0);
  const int64_t size = state.range(1);
  std::vector<at::Tensor> features;
  for (int l = 2; l <= 5; ++l) {
    features.push_back(Inputs().at("fpn/" + std::to_string(l)).clone().requires_grad_(true));
  }
  const std::vector<at::Tensor> boxes = {Inputs().at("rois/" + std::to_string(rois))};
  const std::vector<std::pair<int64_t, int64_t>> image_sizes = {{800, 1088}};
  const at::Tensor grad = at::ones({rois, 256, size, size});
  for (auto _ : state) {
    const at::Tensor out =
        mrcnn::ops::MultiScaleRoiAlign(features, boxes, image_sizes, size, size, 2);
    const auto grads = torch::autograd::grad({out}, features, {grad});
    benchmark::DoNotOptimize(grads[0].data_ptr());
  }
}
BENCHMARK(BM_RoiAlignFpn)
    ->Args({512, 7})
    ->Args({512, 14})
    ->Args({1000, 7})
    ->Args({1000, 14})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

// Forward only, for the split of the time.
void BM_RoiAlignFpnForward(benchmark::State& state) {
  const int64_t rois = state.range(0);
  const int64_t size = state.range(1);
  std::vector<at::Tensor> features;
  for (int l = 2; l <= 5; ++l) features.push_back(Inputs().at("fpn/" + std::to_string(l)));
  const std::vector<at::Tensor> boxes = {Inputs().at("rois/" + std::to_string(rois))};
  for (auto _ : state) {
    const at::Tensor out =
        mrcnn::ops::MultiScaleRoiAlign(features, boxes, {{800, 1088}}, size, size, 2);
    benchmark::DoNotOptimize(out.data_ptr());
  }
}
BENCHMARK(BM_RoiAlignFpnForward)
    ->Args({512, 7})
    ->Args({1000, 14})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

mrcnn::ops::AnchorOptions FpnAnchorOptions() {
  mrcnn::ops::AnchorOptions opt;
  opt.sizes_per_level = {{32}, {64}, {128}, {256}, {512}};
  opt.ratios = {0.5, 1.0, 2.0};
  opt.convention = mrcnn::AnchorConvention::kTorchvision;
  return opt;
}

const std::vector<std::pair<int64_t, int64_t>> kFpnSizes = {
    {200, 272}, {100, 136}, {50, 68}, {25, 34}, {13, 17}};

// Anchors of an 800x1088 image over P2..P6, computed from scratch (a new generator each time).
void BM_AnchorsUncached(benchmark::State& state) {
  for (auto _ : state) {
    const auto gen = mrcnn::ops::AnchorGenerator::Create(FpnAnchorOptions()).value();
    const auto anchors =
        gen.Anchors(kFpnSizes, mrcnn::ops::AnchorGenerator::InferStrides({800, 1088}, kFpnSizes));
    benchmark::DoNotOptimize(anchors[0].data_ptr());
  }
}
BENCHMARK(BM_AnchorsUncached)
    ->Unit(benchmark::kMicrosecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

// The same from the cache, as every training step after the first sees it.
void BM_AnchorsCached(benchmark::State& state) {
  const auto gen = mrcnn::ops::AnchorGenerator::Create(FpnAnchorOptions()).value();
  const auto strides = mrcnn::ops::AnchorGenerator::InferStrides({800, 1088}, kFpnSizes);
  for (auto _ : state) {
    const auto anchors = gen.Anchors(kFpnSizes, strides);
    benchmark::DoNotOptimize(anchors[0].data_ptr());
  }
}
BENCHMARK(BM_AnchorsCached)->Unit(benchmark::kMicrosecond)->MeasureProcessCPUTime()->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  std::string inputs;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--threads=", 0) == 0) {
      threads = std::atoi(a.c_str() + 10);
    } else if (a.rfind("--inputs=", 0) == 0) {
      inputs = a.substr(9);
    } else {
      rest.push_back(argv[i]);
    }
  }
  at::set_num_threads(threads);
  if (inputs.empty()) {
    MakeInputs();
  } else {
    LoadInputs(inputs);
  }
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  benchmark::AddCustomContext("threads", std::to_string(at::get_num_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
