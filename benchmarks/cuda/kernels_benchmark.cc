// CUDA kernels timed with CUDA events (Google Benchmark manual time): fused multi-level ROIAlign
// forward and backward over the FPN of an 800x1344 image (256 channels), NMS of 1k to 100k boxes,
// and the proposal step. Each reports the bytes it moves per second and that rate as a share of the
// card's peak memory bandwidth. Peer: torchvision_cuda_peer.py (same inputs, same run).
#include <cuda_runtime.h>  // the typed cudaMalloc overloads

#include <cstdio>
#include <vector>

#include "benchmark/benchmark.h"
#include "benchmarks/cuda/inputs.h"
#include "mrcnn/ops/cuda/kernels.h"

namespace mrcnn {
namespace {

using ops::cuda::FpnLevels;

// Peak DRAM bandwidth in bytes/s from the device's memory clock and bus width.
double PeakBandwidth() {
  int clock_khz = 0, bus_bits = 0;
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, 0);
  cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0);
  return 2.0 * clock_khz * 1e3 * bus_bits / 8.0;
}

template <typename T>
T* Upload(const std::vector<T>& v) {
  T* p = nullptr;
  cudaMalloc(&p, sizeof(T) * (v.empty() ? 1 : v.size()));
  cudaMemcpy(p, v.data(), sizeof(T) * v.size(), cudaMemcpyHostToDevice);
  return p;
}

// Times `launch` with CUDA events; sets bytes and the share of peak bandwidth.
template <typename Launch>
void TimeKernel(benchmark::State& state, double bytes_per_iteration, Launch launch) {
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  launch();  // warm-up
  cudaDeviceSynchronize();
  for (auto _ : state) {
    cudaEventRecord(start);
    launch();
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    state.SetIterationTime(ms / 1e3);
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes_per_iteration * state.iterations()));
  state.counters["pct_of_peak_bw"] = benchmark::Counter(
      bytes_per_iteration * state.iterations() / PeakBandwidth() * 100,
      benchmark::Counter::kIsRate);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
}

struct Fpn800 {
  static constexpr int kChannels = 256;
  FpnLevels<float> levels{};
  FpnLevels<float> grads{};
  double feature_bytes = 0;
  Fpn800() {
    const int heights[4] = {200, 100, 50, 25}, widths[4] = {336, 168, 84, 42};
    levels.num_levels = grads.num_levels = 4;
    levels.k_min = grads.k_min = 2;
    levels.k_max = grads.k_max = 5;
    levels.batch = grads.batch = 1;
    levels.channels = grads.channels = kChannels;
    for (int l = 0; l < 4; ++l) {
      const int64_t n = int64_t(kChannels) * heights[l] * widths[l];
      levels.data[l] = Upload(bench::Uniform(n, 10 + l));
      cudaMalloc(&grads.data[l], sizeof(float) * n);
      levels.height[l] = grads.height[l] = heights[l];
      levels.width[l] = grads.width[l] = widths[l];
      levels.scale[l] = grads.scale[l] = 1.0f / (4 << l);
      feature_bytes += 4.0 * n;
    }
  }
  ~Fpn800() {
    for (int l = 0; l < 4; ++l) {
      cudaFree(levels.data[l]);
      cudaFree(grads.data[l]);
    }
  }
};

std::vector<float> Rois(int n) {
  const std::vector<float> boxes = bench::Boxes(n, 1344, 800, 400, 7);
  std::vector<float> rois(static_cast<size_t>(n) * 5);
  for (int i = 0; i < n; ++i) {
    rois[i * 5] = 0;
    for (int k = 0; k < 4; ++k) rois[i * 5 + 1 + k] = boxes[i * 4 + k];
  }
  return rois;
}

// Bytes: the pooled output plus, per output element, the 4 neighbours of each of 2x2 samples.
double RoiAlignBytes(int rois, int pooled) {
  const double outputs = double(rois) * Fpn800::kChannels * pooled * pooled;
  return outputs * 4 + outputs * 4 * 4 * 4;
}

void BM_FusedRoiAlignForward(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0)), pooled = static_cast<int>(state.range(1));
  Fpn800 fpn;
  float* rois = Upload(Rois(n));
  float* out = nullptr;
  cudaMalloc(&out, sizeof(float) * n * Fpn800::kChannels * pooled * pooled);
  TimeKernel(state, RoiAlignBytes(n, pooled), [&] {
    ops::cuda::FusedRoiAlignForward(fpn.levels, rois, n, pooled, pooled, 2, false, out, nullptr);
  });
  cudaFree(rois);
  cudaFree(out);
}

void BM_FusedRoiAlignBackward(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0)), pooled = static_cast<int>(state.range(1));
  const bool deterministic = state.range(2) != 0;
  Fpn800 fpn;
  float* rois = Upload(Rois(n));
  float* grad = Upload(bench::Uniform(int64_t(n) * Fpn800::kChannels * pooled * pooled, 3));
  // Backward also clears every gradient map.
  TimeKernel(state, RoiAlignBytes(n, pooled) + fpn.feature_bytes, [&] {
    ops::cuda::FusedRoiAlignBackward(fpn.grads, rois, n, grad, pooled, pooled, 2, false,
                                     deterministic, nullptr);
  });
  cudaFree(rois);
  cudaFree(grad);
}

void BM_Nms(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  float* boxes = Upload(bench::Boxes(n, 1344, 800, 200, 11));
  float* scores = Upload(bench::Uniform(n, 12));
  int64_t* keep = nullptr;
  int* count = nullptr;
  cudaMalloc(&keep, sizeof(int64_t) * n);
  cudaMalloc(&count, sizeof(int));
  const double words = (n + 63) / 64;
  // Boxes and scores in, the mask written and read back once, the kept indices out.
  const double bytes = n * 20.0 + 2.0 * n * words * 8 / 2 + n * 8.0;
  TimeKernel(state, bytes, [&] {
    ops::cuda::Nms(boxes, scores, nullptr, n, 0.5f, keep, count, nullptr);
  });
  cudaFree(boxes);
  cudaFree(scores);
  cudaFree(keep);
  cudaFree(count);
}

void BM_Proposals(benchmark::State& state) {
  // 3 anchors per cell on P2..P6 of an 800x1344 image.
  const int cells[5] = {200 * 336, 100 * 168, 50 * 84, 25 * 42, 13 * 21};
  std::vector<int64_t> begin = {0};
  for (int c : cells) begin.push_back(begin.back() + 3 * c);
  const int a = static_cast<int>(begin.back());
  float* logits = Upload(bench::Uniform(a, 21));
  std::vector<float> d = bench::Uniform(int64_t(a) * 4, 22);
  for (float& x : d) x = (x - 0.5f) * 0.4f;
  float* deltas = Upload(d);
  float* anchors = Upload(bench::Boxes(a, 1344, 800, 300, 23));
  ops::cuda::ProposalParams p;
  p.pre_nms_top_n = 1000;
  p.post_nms_top_n = 1000;
  p.per_level = state.range(0) != 0;
  float *boxes = nullptr, *scores = nullptr;
  int* count = nullptr;
  cudaMalloc(&boxes, sizeof(float) * 4 * p.post_nms_top_n);
  cudaMalloc(&scores, sizeof(float) * p.post_nms_top_n);
  cudaMalloc(&count, sizeof(int));
  TimeKernel(state, a * 36.0, [&] {
    ops::cuda::Proposals(logits, deltas, anchors, begin.data(), 5, 800, 1344, p, boxes, scores,
                         count, nullptr);
  });
  for (void* ptr : {static_cast<void*>(logits), static_cast<void*>(deltas),
                    static_cast<void*>(anchors), static_cast<void*>(boxes),
                    static_cast<void*>(scores), static_cast<void*>(count)}) {
    cudaFree(ptr);
  }
}

BENCHMARK(BM_FusedRoiAlignForward)
    ->ArgsProduct({{512, 1000}, {7, 14}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FusedRoiAlignBackward)
    ->ArgsProduct({{512, 1000}, {7, 14}, {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Nms)->Arg(1000)->Arg(5000)->Arg(20000)->Arg(100000)->UseManualTime()->Unit(
    benchmark::kMicrosecond);
BENCHMARK(BM_Proposals)->Arg(1)->Arg(0)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace mrcnn

int main(int argc, char** argv) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "kernels_benchmark: no CUDA device; nothing to time\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
