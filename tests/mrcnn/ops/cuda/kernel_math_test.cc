// Runs the CUDA kernels' per-thread code (kernel_math.h) over whole grids on the CPU and compares
// with the CPU ops, which are themselves checked against torchvision. This is how the GPU's
// arithmetic is tested on machines without a GPU.
#include "mrcnn/ops/cuda/kernel_math.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
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

// A 2-image FPN (P2..P5 of a 512x448 padded batch) and boxes of every size, some outside the image.
struct Fpn {
  std::vector<at::Tensor> features;  // [2, C, H_l, W_l]
  std::vector<at::Tensor> boxes;     // per image [K_i, 4]
  std::vector<std::pair<int64_t, int64_t>> image_sizes;
  LevelScales scales;
};

Fpn MakeFpn(int64_t channels, int64_t boxes_per_image, uint64_t seed) {
  at::manual_seed(seed);
  Fpn f;
  const int64_t height = 512, width = 448;
  for (int64_t stride : {4, 8, 16, 32}) {
    f.features.push_back(at::randn({2, channels, height / stride, width / stride}));
  }
  f.image_sizes = {{500, 440}, {480, 400}};
  for (int i = 0; i < 2; ++i) {
    const at::Tensor xy = at::rand({boxes_per_image, 2}) * 520 - 30;
    const at::Tensor wh = at::exp(at::rand({boxes_per_image, 2}) * 6.5) + 0.2;  // 1 .. 700 px
    f.boxes.push_back(at::cat({xy, xy + wh}, 1));
  }
  f.boxes[0][0] = at::tensor({10.f, 10.f, 10.f, 10.f});     // zero area
  f.boxes[0][1] = at::tensor({50.f, 60.f, 40.f, 30.f});     // inverted
  f.boxes[1][0] = at::tensor({-500.f, -500.f, -450.f, -450.f});  // far outside
  f.scales = InferLevelScales(f.features, f.image_sizes);
  return f;
}

FpnLevels<float> View(const std::vector<at::Tensor>& maps, const LevelScales& scales) {
  FpnLevels<float> v{};
  v.num_levels = static_cast<int>(maps.size());
  v.k_min = static_cast<int>(scales.k_min);
  v.k_max = static_cast<int>(scales.k_max);
  v.batch = static_cast<int>(maps[0].size(0));
  v.channels = static_cast<int>(maps[0].size(1));
  for (size_t l = 0; l < maps.size(); ++l) {
    v.data[l] = maps[l].data_ptr<float>();
    v.height[l] = static_cast<int>(maps[l].size(2));
    v.width[l] = static_cast<int>(maps[l].size(3));
    v.scale[l] = static_cast<float>(scales.scales[l]);
  }
  return v;
}

struct RoiCase {
  int pooled;
  int sampling_ratio;
  bool aligned;
};

class FusedRoiAlignTest : public ::testing::TestWithParam<RoiCase> {};

TEST_P(FusedRoiAlignTest, ForwardEqualsMultiScaleRoiAlign) {
  const RoiCase tc = GetParam();
  Fpn f = MakeFpn(3, 60, 1);
  const at::Tensor expected = MultiScaleRoiAlign(f.features, f.boxes, f.image_sizes, tc.pooled,
                                                 tc.pooled, tc.sampling_ratio, tc.aligned);
  const at::Tensor rois = BoxesToRois(f.boxes).contiguous();
  const FpnLevels<float> levels = View(f.features, f.scales);
  at::Tensor actual = at::empty_like(expected);
  float* out = actual.data_ptr<float>();
  for (int64_t i = 0; i < actual.numel(); ++i) {
    out[i] = FusedRoiAlignForwardElement(levels, rois.data_ptr<float>(), i, tc.pooled, tc.pooled,
                                         tc.sampling_ratio, tc.aligned);
  }
  EXPECT_LE((actual - expected).abs().max().item<float>(), 1e-5);
}

TEST_P(FusedRoiAlignTest, BackwardEqualsAutogradOfMultiScaleRoiAlign) {
  const RoiCase tc = GetParam();
  Fpn f = MakeFpn(2, 40, 2);
  std::vector<at::Tensor> inputs;
  for (const at::Tensor& t : f.features) inputs.push_back(t.clone().set_requires_grad(true));
  const at::Tensor out = MultiScaleRoiAlign(inputs, f.boxes, f.image_sizes, tc.pooled, tc.pooled,
                                            tc.sampling_ratio, tc.aligned);
  const at::Tensor grad_output = at::randn(out.sizes());
  out.backward(grad_output);

  const at::Tensor rois = BoxesToRois(f.boxes).contiguous();
  // The atomic kernel's element code, run serially (atomicAdd becomes +=).
  std::vector<at::Tensor> grads_atomic, grads_planes;
  for (const at::Tensor& t : f.features) {
    grads_atomic.push_back(at::zeros_like(t));
    grads_planes.push_back(at::zeros_like(t));
  }
  const FpnLevels<float> view_atomic = View(grads_atomic, f.scales);
  const auto add = [](float* p, float v) { *p += v; };
  for (int64_t i = 0; i < grad_output.numel(); ++i) {
    FusedRoiAlignBackwardElement(view_atomic, rois.data_ptr<float>(), grad_output.data_ptr<float>(),
                                 i, tc.pooled, tc.pooled, tc.sampling_ratio, tc.aligned, add);
  }
  // The deterministic kernel: one call per gradient plane.
  const FpnLevels<float> view_planes = View(grads_planes, f.scales);
  for (int l = 0; l < view_planes.num_levels; ++l) {
    for (int b = 0; b < view_planes.batch; ++b) {
      for (int c = 0; c < view_planes.channels; ++c) {
        FusedRoiAlignBackwardPlane(view_planes, rois.data_ptr<float>(), rois.size(0),
                                   grad_output.data_ptr<float>(), l, b, c, tc.pooled, tc.pooled,
                                   tc.sampling_ratio, tc.aligned);
      }
    }
  }
  for (size_t l = 0; l < inputs.size(); ++l) {
    const at::Tensor expected = inputs[l].grad();
    EXPECT_LE((grads_atomic[l] - expected).abs().max().item<float>(), 1e-4) << "level " << l;
    EXPECT_LE((grads_planes[l] - expected).abs().max().item<float>(), 1e-4) << "level " << l;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, FusedRoiAlignTest,
                         ::testing::Values(RoiCase{7, 2, false}, RoiCase{14, 2, false},
                                           RoiCase{7, 0, false}, RoiCase{7, 2, true},
                                           RoiCase{5, -1, true}),
                         [](const ::testing::TestParamInfo<RoiCase>& info) {
                           const RoiCase& c = info.param;
                           return "pooled" + std::to_string(c.pooled) + "_sampling" +
                                  (c.sampling_ratio < 0 ? "Neg" : "") +
                                  std::to_string(std::abs(c.sampling_ratio)) +
                                  (c.aligned ? "_aligned" : "_legacy");
                         });

TEST(MapFpnLevelTest, EqualsLevelMapper) {
  at::manual_seed(3);
  const at::Tensor xy = at::rand({2000, 2}) * 100;
  const at::Tensor wh = at::exp(at::rand({2000, 2}) * 8) - 1;  // 0 .. 3000 px, some tiny
  const at::Tensor boxes = at::cat({xy, xy + wh}, 1);
  // Exact level boundaries: sqrt(area) = 112, 224, 448.
  const at::Tensor edges = at::tensor({0.f, 0.f, 112.f, 112.f, 0.f, 0.f, 224.f, 224.f, 0.f, 0.f,
                                       448.f, 448.f, 0.f, 0.f, 0.f, 0.f})
                               .view({4, 4});
  const at::Tensor all = at::cat({boxes, edges});
  const LevelMapper mapper(2, 5);
  const at::Tensor expected = mapper(all);
  const float* b = all.data_ptr<float>();
  for (int64_t i = 0; i < all.size(0); ++i) {
    EXPECT_EQ(MapFpnLevel(b[i * 4], b[i * 4 + 1], b[i * 4 + 2], b[i * 4 + 3], 2, 5),
              expected[i].item<int64_t>())
        << "box " << i;
  }
}

// The kernel's mask words, reduced as the device does (a box is kept unless an earlier kept box's
// word marks it), against the CPU NMS.
std::vector<int64_t> EmulatedNms(const at::Tensor& boxes, const at::Tensor& scores,
                                 const at::Tensor* classes, float threshold) {
  const at::Tensor order = std::get<1>(scores.sort(/*stable=*/true, 0, /*descending=*/true));
  const at::Tensor sorted = boxes.index_select(0, order).contiguous();
  at::Tensor sorted_classes;
  if (classes != nullptr) sorted_classes = classes->index_select(0, order).to(at::kInt).contiguous();
  const int n = static_cast<int>(boxes.size(0));
  const int words = (n + 63) / 64;
  std::vector<uint64_t> mask(static_cast<size_t>(n) * words, 0);
  for (int row = 0; row < n; ++row) {
    for (int w = row / 64; w < words; ++w) {
      mask[static_cast<size_t>(row) * words + w] =
          NmsMaskWord(sorted.data_ptr<float>(),
                      classes != nullptr ? sorted_classes.data_ptr<int>() : nullptr, n, row,
                      w * 64, threshold);
    }
  }
  std::vector<uint64_t> removed(words, 0);
  std::vector<int64_t> keep;
  for (int i = 0; i < n; ++i) {
    if (removed[i / 64] >> (i % 64) & 1) continue;
    keep.push_back(order[i].item<int64_t>());
    for (int w = i / 64; w < words; ++w) removed[w] |= mask[static_cast<size_t>(i) * words + w];
  }
  return keep;
}

std::vector<int64_t> ToVector(const at::Tensor& t) {
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}

TEST(NmsMaskWordTest, EmulatedNmsEqualsCpuNms) {
  at::manual_seed(4);
  for (int n : {0, 1, 63, 64, 65, 700}) {
    const at::Tensor xy = at::rand({n, 2}) * 200;
    const at::Tensor boxes = at::cat({xy, xy + at::rand({n, 2}) * 60 + 1}, 1);
    // Quantised scores make many ties, which must keep their input order.
    const at::Tensor scores = at::floor(at::rand({n}) * 20) / 20;
    for (float threshold : {0.3f, 0.5f, 0.7f}) {
      EXPECT_EQ(EmulatedNms(boxes, scores, nullptr, threshold), ToVector(Nms(boxes, scores, threshold)))
          << "n=" << n << " threshold=" << threshold;
      const at::Tensor classes = at::randint(0, 4, {n}, at::kLong);
      EXPECT_EQ(EmulatedNms(boxes, scores, &classes, threshold),
                ToVector(BatchedNms(boxes, scores, classes, threshold)))
          << "batched n=" << n << " threshold=" << threshold;
    }
  }
}

TEST(DecodeProposalTest, EqualsBoxCoderClipAndSizeTest) {
  at::manual_seed(5);
  const int64_t n = 500;
  const at::Tensor xy = at::rand({n, 2}) * 300 - 20;
  const at::Tensor anchors = at::cat({xy, xy + at::rand({n, 2}) * 100 + 0.5}, 1);
  at::Tensor deltas = at::randn({n, 4});
  deltas.select(1, 2).mul_(3);  // some dw, dh beyond the clip
  deltas.select(1, 3).mul_(3);
  const at::Tensor logits = at::randn({n}) * 3;
  const float weights[4] = {1.f, 2.f, 5.f, 5.f};
  const float clip = static_cast<float>(std::log(1000.0 / 16.0));
  const int height = 240, width = 320;
  const float min_size = 4.f, score_threshold = 0.3f;

  const BoxCoder coder({1.0, 2.0, 5.0, 5.0});
  const at::Tensor decoded = ClipBoxesToImage(coder.Decode(deltas, anchors).view({-1, 4}), height, width);
  const at::Tensor probs = at::sigmoid(logits);
  std::vector<bool> expected_valid(n, false);
  const at::Tensor big = RemoveSmallBoxes(decoded, min_size);
  for (int64_t i = 0; i < big.numel(); ++i) expected_valid[big[i].item<int64_t>()] = true;

  for (int64_t i = 0; i < n; ++i) {
    float box[4], probability;
    const bool valid = DecodeProposal(deltas[i].data_ptr<float>(), anchors[i].data_ptr<float>(),
                                      logits[i].item<float>(), weights, clip, height, width,
                                      min_size, score_threshold, box, &probability);
    for (int k = 0; k < 4; ++k) {
      const float e = decoded[i][k].item<float>();
      EXPECT_NEAR(box[k], e, 1e-5 * std::max(1.f, std::fabs(e))) << i;
    }
    EXPECT_NEAR(probability, probs[i].item<float>(), 1e-6) << i;
    EXPECT_EQ(valid, expected_valid[i] && probs[i].item<float>() >= score_threshold) << i;
  }
}

}  // namespace
}  // namespace cuda
}  // namespace ops
}  // namespace mrcnn
