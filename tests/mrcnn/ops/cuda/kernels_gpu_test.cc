// Runs the CUDA kernels on a GPU and compares them with the CPU ops (which are checked against
// torchvision). Built with --config=cuda; on a machine without a GPU every test reports SKIPPED.
#include "mrcnn/ops/cuda/kernels.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <torch/torch.h>

#include "gtest/gtest.h"
#include "mrcnn/ops/boxes.h"
#include "mrcnn/ops/nms.h"
#include "mrcnn/ops/roi_align.h"

namespace mrcnn {
namespace ops {
namespace cuda {
namespace {

bool HaveGpu() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

#define SKIP_WITHOUT_GPU() \
  if (!HaveGpu()) GTEST_SKIP() << "no CUDA device: GPU test skipped"

#define CUDA_OK(expr) ASSERT_EQ((expr), cudaSuccess) << cudaGetErrorString(expr)

// Device copy of a CPU tensor, freed with the object.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    if (cudaMalloc(&ptr_, bytes > 0 ? bytes : 1) != cudaSuccess) ptr_ = nullptr;
  }
  explicit DeviceBuffer(const at::Tensor& t) : DeviceBuffer(t.numel() * t.element_size()) {
    const at::Tensor c = t.contiguous();
    if (ptr_ != nullptr && bytes_ > 0) cudaMemcpy(ptr_, c.data_ptr(), bytes_, cudaMemcpyHostToDevice);
  }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <typename T>
  T* get() const {
    return static_cast<T*>(ptr_);
  }
  at::Tensor ToCpu(at::IntArrayRef sizes, at::ScalarType type) const {
    at::Tensor out = at::empty(sizes, type);
    cudaMemcpy(out.data_ptr(), ptr_, out.numel() * out.element_size(), cudaMemcpyDeviceToHost);
    return out;
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_;
};

struct Fpn {
  std::vector<at::Tensor> features;
  std::vector<at::Tensor> boxes;
  std::vector<std::pair<int64_t, int64_t>> image_sizes;
  LevelScales scales;
};

Fpn MakeFpn(int64_t channels, int64_t boxes_per_image, uint64_t seed) {
  at::manual_seed(seed);
  Fpn f;
  for (int64_t stride : {4, 8, 16, 32}) f.features.push_back(at::randn({2, channels, 512 / stride, 448 / stride}));
  f.image_sizes = {{500, 440}, {480, 400}};
  for (int i = 0; i < 2; ++i) {
    const at::Tensor xy = at::rand({boxes_per_image, 2}) * 520 - 30;
    f.boxes.push_back(at::cat({xy, xy + at::exp(at::rand({boxes_per_image, 2}) * 6.5) + 0.2}, 1));
  }
  f.scales = InferLevelScales(f.features, f.image_sizes);
  return f;
}

FpnLevels<float> View(const std::vector<std::unique_ptr<DeviceBuffer>>& maps,
                      const std::vector<at::Tensor>& like, const LevelScales& scales) {
  FpnLevels<float> v{};
  v.num_levels = static_cast<int>(maps.size());
  v.k_min = static_cast<int>(scales.k_min);
  v.k_max = static_cast<int>(scales.k_max);
  v.batch = static_cast<int>(like[0].size(0));
  v.channels = static_cast<int>(like[0].size(1));
  for (size_t l = 0; l < maps.size(); ++l) {
    v.data[l] = maps[l]->get<float>();
    v.height[l] = static_cast<int>(like[l].size(2));
    v.width[l] = static_cast<int>(like[l].size(3));
    v.scale[l] = static_cast<float>(scales.scales[l]);
  }
  return v;
}

TEST(FusedRoiAlignGpuTest, ForwardAndBackwardMatchCpu) {
  SKIP_WITHOUT_GPU();
  for (bool aligned : {false, true}) {
    Fpn f = MakeFpn(8, 300, 1);
    std::vector<at::Tensor> inputs;
    for (const at::Tensor& t : f.features) inputs.push_back(t.clone().set_requires_grad(true));
    const at::Tensor expected = MultiScaleRoiAlign(inputs, f.boxes, f.image_sizes, 7, 7, 2, aligned);
    const at::Tensor grad_output = at::randn(expected.sizes());
    expected.backward(grad_output);

    std::vector<std::unique_ptr<DeviceBuffer>> feats, grads;
    for (const at::Tensor& t : f.features) {
      feats.push_back(std::make_unique<DeviceBuffer>(t));
      grads.push_back(std::make_unique<DeviceBuffer>(t.numel() * sizeof(float)));
    }
    const at::Tensor rois = BoxesToRois(f.boxes);
    DeviceBuffer rois_d(rois), out_d(expected.numel() * sizeof(float)), grad_out_d(grad_output);
    CUDA_OK(FusedRoiAlignForward(View(feats, f.features, f.scales), rois_d.get<float>(), rois.size(0),
                                 7, 7, 2, aligned, out_d.get<float>(), nullptr));
    CUDA_OK(cudaDeviceSynchronize());
    const at::Tensor actual = out_d.ToCpu(expected.sizes(), at::kFloat);
    // float32 on both; nvcc contracts multiply-adds into FMAs, so the last bits differ: within 1e-5
    // of the largest output.
    EXPECT_LE((actual - expected.detach()).abs().max().item<float>(),
              1e-5 * expected.detach().abs().max().item<float>());

    for (bool deterministic : {false, true}) {
      CUDA_OK(FusedRoiAlignBackward(View(grads, f.features, f.scales), rois_d.get<float>(),
                                    rois.size(0), grad_out_d.get<float>(), 7, 7, 2, aligned,
                                    deterministic, nullptr));
      CUDA_OK(cudaDeviceSynchronize());
      for (size_t l = 0; l < inputs.size(); ++l) {
        const at::Tensor g = grads[l]->ToCpu(f.features[l].sizes(), at::kFloat);
        EXPECT_LE((g - inputs[l].grad()).abs().max().item<float>(), 1e-4)
            << "level " << l << " deterministic " << deterministic;
      }
    }
    // The deterministic mode gives the same bits twice.
    std::vector<at::Tensor> first;
    for (int run = 0; run < 2; ++run) {
      CUDA_OK(FusedRoiAlignBackward(View(grads, f.features, f.scales), rois_d.get<float>(),
                                    rois.size(0), grad_out_d.get<float>(), 7, 7, 2, aligned, true,
                                    nullptr));
      CUDA_OK(cudaDeviceSynchronize());
      for (size_t l = 0; l < grads.size(); ++l) {
        const at::Tensor g = grads[l]->ToCpu(f.features[l].sizes(), at::kFloat);
        if (run == 0) {
          first.push_back(g);
        } else {
          EXPECT_TRUE(at::equal(g, first[l])) << "level " << l;
        }
      }
    }
  }
}

std::vector<int64_t> RunGpuNms(const at::Tensor& boxes, const at::Tensor& scores,
                               const at::Tensor* classes, float threshold) {
  const int n = static_cast<int>(boxes.size(0));
  DeviceBuffer b(boxes), s(scores), keep(sizeof(int64_t) * std::max(n, 1)), count(sizeof(int));
  at::Tensor classes_int = classes != nullptr ? classes->to(at::kInt) : at::Tensor();
  DeviceBuffer c(classes != nullptr ? classes_int : at::empty({0}, at::kInt));
  EXPECT_EQ(Nms(b.get<float>(), s.get<float>(), classes != nullptr ? c.get<int>() : nullptr, n,
                threshold, keep.get<int64_t>(), count.get<int>(), nullptr),
            cudaSuccess);
  cudaDeviceSynchronize();
  const int kept = count.ToCpu({1}, at::kInt).item<int>();
  const at::Tensor k = keep.ToCpu({std::max(n, 1)}, at::kLong);
  return std::vector<int64_t>(k.data_ptr<int64_t>(), k.data_ptr<int64_t>() + kept);
}

std::vector<int64_t> ToVector(const at::Tensor& t) {
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}

TEST(NmsGpuTest, KeepsTheSameIndicesAsCpu) {
  SKIP_WITHOUT_GPU();
  at::manual_seed(2);
  for (int n : {0, 1, 64, 65, 1000, 5000, 20000}) {
    const at::Tensor xy = at::rand({n, 2}) * 1000;
    const at::Tensor boxes = at::cat({xy, xy + at::rand({n, 2}) * 120 + 1}, 1);
    const at::Tensor scores = at::floor(at::rand({n}) * 50) / 50;  // ties keep input order
    const at::Tensor classes = at::randint(0, 5, {n}, at::kLong);
    EXPECT_EQ(RunGpuNms(boxes, scores, nullptr, 0.5f), ToVector(ops::Nms(boxes, scores, 0.5))) << n;
    EXPECT_EQ(RunGpuNms(boxes, scores, &classes, 0.5f),
              ToVector(BatchedNms(boxes, scores, classes, 0.5)))
        << n;
  }
}

TEST(NmsGpuTest, HugeCoordinatesDoNotMixClasses) {
  SKIP_WITHOUT_GPU();
  // Two identical boxes of different classes far out: both must survive.
  const at::Tensor boxes = at::tensor({1e7f, 1e7f, 1e7f + 50, 1e7f + 50, 1e7f, 1e7f, 1e7f + 50, 1e7f + 50}).view({2, 4});
  const at::Tensor scores = at::tensor({0.9f, 0.8f});
  const at::Tensor classes = at::tensor({int64_t(0), int64_t(1)});
  EXPECT_EQ(RunGpuNms(boxes, scores, &classes, 0.5f), (std::vector<int64_t>{0, 1}));
}

// The proposal step composed from the CPU ops, as torchvision's RegionProposalNetwork filters.
std::pair<at::Tensor, at::Tensor> CpuProposals(const at::Tensor& logits, const at::Tensor& deltas,
                                               const at::Tensor& anchors,
                                               const std::vector<int64_t>& level_begin, int height,
                                               int width, const ProposalParams& p) {
  std::vector<at::Tensor> boxes, scores, levels;
  const int segments = p.per_level ? static_cast<int>(level_begin.size()) - 1 : 1;
  for (int s = 0; s < segments; ++s) {
    const int64_t begin = p.per_level ? level_begin[s] : 0;
    const int64_t end = p.per_level ? level_begin[s + 1] : level_begin.back();
    const at::Tensor seg = logits.slice(0, begin, end);
    const at::Tensor order =
        std::get<1>(seg.sort(true, 0, true)).slice(0, 0, std::min<int64_t>(p.pre_nms_top_n, end - begin)) + begin;
    const BoxCoder coder({p.weights[0], p.weights[1], p.weights[2], p.weights[3]});
    at::Tensor b = ClipBoxesToImage(
        coder.Decode(deltas.index_select(0, order), anchors.index_select(0, order)).view({-1, 4}),
        height, width);
    at::Tensor sc = at::sigmoid(logits.index_select(0, order));
    at::Tensor keep = RemoveSmallBoxes(b, p.min_size);
    b = b.index_select(0, keep);
    sc = sc.index_select(0, keep);
    keep = at::nonzero(sc >= p.score_threshold).view(-1);
    boxes.push_back(b.index_select(0, keep));
    scores.push_back(sc.index_select(0, keep));
    levels.push_back(at::full({keep.numel()}, s, at::kLong));
  }
  at::Tensor b = at::cat(boxes), sc = at::cat(scores), lv = at::cat(levels);
  at::Tensor keep = p.per_level ? BatchedNms(b, sc, lv, p.nms_threshold) : ops::Nms(b, sc, p.nms_threshold);
  keep = keep.slice(0, 0, p.post_nms_top_n);
  return {b.index_select(0, keep), sc.index_select(0, keep)};
}

TEST(ProposalsGpuTest, MatchesCpuComposition) {
  SKIP_WITHOUT_GPU();
  at::manual_seed(3);
  const std::vector<int64_t> level_begin = {0, 3000, 3750, 3950, 4000};
  const int64_t a = level_begin.back();
  const at::Tensor xy = at::rand({a, 2}) * 600;
  const at::Tensor anchors = at::cat({xy, xy + at::rand({a, 2}) * 200 + 2}, 1);
  const at::Tensor deltas = at::randn({a, 4}) * 0.3;
  const at::Tensor logits = at::randn({a}) * 2;
  for (bool per_level : {true, false}) {
    ProposalParams p;
    p.pre_nms_top_n = 500;
    p.post_nms_top_n = 300;
    p.min_size = 2.0f;
    p.score_threshold = 0.1f;
    p.per_level = per_level;
    const auto [expected_boxes, expected_scores] =
        CpuProposals(logits, deltas, anchors, level_begin, 480, 640, p);
    DeviceBuffer l(logits), d(deltas), an(anchors), boxes(sizeof(float) * 4 * p.post_nms_top_n),
        scores(sizeof(float) * p.post_nms_top_n), count(sizeof(int));
    CUDA_OK(Proposals(l.get<float>(), d.get<float>(), an.get<float>(), level_begin.data(), 4, 480,
                      640, p, boxes.get<float>(), scores.get<float>(), count.get<int>(), nullptr));
    CUDA_OK(cudaDeviceSynchronize());
    const int n = count.ToCpu({1}, at::kInt).item<int>();
    ASSERT_EQ(n, expected_boxes.size(0)) << "per_level " << per_level;
    const at::Tensor b = boxes.ToCpu({p.post_nms_top_n, 4}, at::kFloat).slice(0, 0, n);
    const at::Tensor s = scores.ToCpu({p.post_nms_top_n}, at::kFloat).slice(0, 0, n);
    EXPECT_LE((b - expected_boxes).abs().max().item<float>(), 1e-3);
    EXPECT_LE((s - expected_scores).abs().max().item<float>(), 1e-6);
  }
}

TEST(KernelArgumentsGpuTest, BadArgumentsReturnInvalidValue) {
  SKIP_WITHOUT_GPU();
  FpnLevels<float> none{};
  EXPECT_EQ(FusedRoiAlignForward(none, nullptr, 1, 7, 7, 2, false, nullptr, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(Nms(nullptr, nullptr, nullptr, -1, 0.5f, nullptr, nullptr, nullptr), cudaErrorInvalidValue);
  ProposalParams p;
  p.post_nms_top_n = 0;
  const int64_t begin[2] = {0, 10};
  EXPECT_EQ(Proposals(nullptr, nullptr, nullptr, begin, 1, 10, 10, p, nullptr, nullptr, nullptr, nullptr),
            cudaErrorInvalidValue);
}

}  // namespace
}  // namespace cuda
}  // namespace ops
}  // namespace mrcnn
