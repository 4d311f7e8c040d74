#include "mrcnn/ops/anchors.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace mrcnn {
namespace ops {

AnchorOptions AnchorOptionsFromConfig(const Config& config) {
  AnchorOptions o;
  for (int s : config.RPN_ANCHOR_SCALES) o.sizes_per_level.push_back({static_cast<double>(s)});
  o.ratios = config.RPN_ANCHOR_RATIOS;
  o.anchor_stride = config.RPN_ANCHOR_STRIDE;
  o.convention = config.RPN_ANCHOR_CONVENTION;
  return o;
}

absl::StatusOr<AnchorGenerator> AnchorGenerator::Create(const AnchorOptions& options) {
  if (options.sizes_per_level.empty()) {
    return absl::InvalidArgumentError(
        "AnchorGenerator: sizes_per_level (RPN_ANCHOR_SCALES) is empty");
  }
  if (options.ratios.empty()) {
    return absl::InvalidArgumentError("AnchorGenerator: ratios (RPN_ANCHOR_RATIOS) is empty");
  }
  if (options.anchor_stride < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("AnchorGenerator: anchor_stride (RPN_ANCHOR_STRIDE) must be >= 1, got ",
                     options.anchor_stride));
  }
  for (double r : options.ratios) {
    if (!(r > 0) || !std::isfinite(r)) {
      return absl::InvalidArgumentError(
          absl::StrCat("AnchorGenerator: ratios must be positive and finite, got ", r));
    }
  }
  const bool torchvision = options.convention == AnchorConvention::kTorchvision;
  std::vector<at::Tensor> cell_anchors;
  for (size_t level = 0; level < options.sizes_per_level.size(); ++level) {
    const std::vector<double>& sizes = options.sizes_per_level[level];
    if (sizes.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("AnchorGenerator: level ", level, " has no anchor sizes"));
    }
    for (double s : sizes) {
      if (!(s > 0) || !std::isfinite(s)) {
        return absl::InvalidArgumentError(
            absl::StrCat("AnchorGenerator: anchor sizes must be positive and finite, got ", s,
                         " at level ", level));
      }
    }
    const int64_t a = static_cast<int64_t>(options.ratios.size() * sizes.size());
    at::Tensor base = at::empty({a, 4}, at::kFloat);
    float* pb = base.data_ptr<float>();
    int64_t k = 0;
    for (double ratio : options.ratios) {
      for (double size : sizes) {
        if (torchvision) {
          // torchvision's generate_anchors in float32: h_ratio = sqrt(r), w_ratio = 1 / h_ratio,
          // ws = w_ratio * size, anchors = round([-ws, -hs, ws, hs] / 2).
          const float h_ratio = std::sqrt(static_cast<float>(ratio));
          const float w_ratio = 1.0f / h_ratio;
          const float ws = w_ratio * static_cast<float>(size);
          const float hs = h_ratio * static_cast<float>(size);
          pb[4 * k + 0] = std::nearbyint(-ws / 2.0f);
          pb[4 * k + 1] = std::nearbyint(-hs / 2.0f);
          pb[4 * k + 2] = std::nearbyint(ws / 2.0f);
          pb[4 * k + 3] = std::nearbyint(hs / 2.0f);
        } else {
          // matterport: heights = scale / sqrt(ratio), widths = scale * sqrt(ratio), in double.
          const float half_w = static_cast<float>(0.5 * size * std::sqrt(ratio));
          const float half_h = static_cast<float>(0.5 * size / std::sqrt(ratio));
          pb[4 * k + 0] = -half_w;
          pb[4 * k + 1] = -half_h;
          pb[4 * k + 2] = half_w;
          pb[4 * k + 3] = half_h;
        }
        ++k;
      }
    }
    cell_anchors.push_back(base);
  }
  return AnchorGenerator(options, std::move(cell_anchors));
}

AnchorGenerator::AnchorGenerator(AnchorOptions options, std::vector<at::Tensor> cell_anchors)
    : options_(std::move(options)),
      cell_anchors_(std::move(cell_anchors)),
      cache_(std::make_shared<Cache>()) {}

int AnchorGenerator::NumAnchorsPerCell(int level) const {
  TORCH_CHECK(level >= 0 && level < static_cast<int>(cell_anchors_.size()),
              "AnchorGenerator::NumAnchorsPerCell: level ", level, " out of range [0, ",
              cell_anchors_.size(), ")");
  return static_cast<int>(cell_anchors_[level].size(0));
}

std::vector<at::Tensor> AnchorGenerator::Anchors(
    const std::vector<std::pair<int64_t, int64_t>>& feature_sizes,
    const std::vector<int64_t>& strides) const {
  std::vector<std::pair<int64_t, int64_t>> hw;
  for (int64_t s : strides) hw.emplace_back(s, s);
  return Anchors(feature_sizes, hw);
}

std::vector<at::Tensor> AnchorGenerator::Anchors(
    const std::vector<std::pair<int64_t, int64_t>>& feature_sizes,
    const std::vector<std::pair<int64_t, int64_t>>& strides) const {
  const size_t levels = cell_anchors_.size();
  TORCH_CHECK(feature_sizes.size() == levels, "AnchorGenerator::Anchors: got ",
              feature_sizes.size(), " feature sizes for ", levels, " anchor levels");
  TORCH_CHECK(strides.size() == levels, "AnchorGenerator::Anchors: got ", strides.size(),
              " strides for ", levels, " anchor levels");
  std::vector<int64_t> key;
  for (size_t l = 0; l < levels; ++l) {
    TORCH_CHECK(feature_sizes[l].first >= 0 && feature_sizes[l].second >= 0,
                "AnchorGenerator::Anchors: feature size of level ", l,
                " must be non-negative, got ", feature_sizes[l].first, "x",
                feature_sizes[l].second);
    TORCH_CHECK(strides[l].first > 0 && strides[l].second > 0,
                "AnchorGenerator::Anchors: stride of level ", l, " must be positive, got ",
                strides[l].first, "x", strides[l].second);
    key.insert(key.end(), {feature_sizes[l].first, feature_sizes[l].second, strides[l].first,
                           strides[l].second});
  }
  {
    std::lock_guard<std::mutex> lock(cache_->mu);
    auto it = cache_->entries.find(key);
    if (it != cache_->entries.end()) return it->second;
  }
  const int64_t step = options_.anchor_stride;
  std::vector<at::Tensor> out;
  for (size_t l = 0; l < levels; ++l) {
    const int64_t rows = (feature_sizes[l].first + step - 1) / step;
    const int64_t cols = (feature_sizes[l].second + step - 1) / step;
    const int64_t a = cell_anchors_[l].size(0);
    at::Tensor anchors = at::empty({rows * cols * a, 4}, at::kFloat);
    const float* base = cell_anchors_[l].data_ptr<float>();
    float* p = anchors.data_ptr<float>();
    for (int64_t i = 0; i < rows; ++i) {
      // Cell centres at k * stride (torchvision's shifts), in exact float arithmetic for integers.
      const float sy = static_cast<float>(i * step * strides[l].first);
      for (int64_t j = 0; j < cols; ++j) {
        const float sx = static_cast<float>(j * step * strides[l].second);
        for (int64_t k = 0; k < a; ++k) {
          p[0] = sx + base[4 * k + 0];
          p[1] = sy + base[4 * k + 1];
          p[2] = sx + base[4 * k + 2];
          p[3] = sy + base[4 * k + 3];
          p += 4;
        }
      }
    }
    out.push_back(anchors);
  }
  std::lock_guard<std::mutex> lock(cache_->mu);
  cache_->entries.emplace(key, out);
  return out;
}

std::vector<std::pair<int64_t, int64_t>> AnchorGenerator::InferStrides(
    std::pair<int64_t, int64_t> image_size,
    const std::vector<std::pair<int64_t, int64_t>>& feature_sizes) {
  std::vector<std::pair<int64_t, int64_t>> strides;
  for (const auto& f : feature_sizes) {
    TORCH_CHECK(f.first > 0 && f.second > 0,
                "AnchorGenerator::InferStrides: feature sizes must be positive, got ", f.first, "x",
                f.second);
    strides.emplace_back(image_size.first / f.first, image_size.second / f.second);
  }
  return strides;
}

size_t AnchorGenerator::CacheSize() const {
  std::lock_guard<std::mutex> lock(cache_->mu);
  return cache_->entries.size();
}

at::Tensor SubsampleToAnchorStride(const at::Tensor& head_output, int anchor_stride) {
  TORCH_CHECK(head_output.defined() && head_output.dim() == 4,
              "SubsampleToAnchorStride: head_output must be [N, C, H, W], got shape ",
              head_output.defined() ? head_output.sizes() : at::IntArrayRef{});
  TORCH_CHECK(anchor_stride >= 1, "SubsampleToAnchorStride: anchor_stride must be >= 1, got ",
              anchor_stride);
  if (anchor_stride == 1) return head_output;
  return head_output.slice(2, 0, head_output.size(2), anchor_stride)
      .slice(3, 0, head_output.size(3), anchor_stride);
}

}  // namespace ops
}  // namespace mrcnn
