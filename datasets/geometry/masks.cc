#include "datasets/geometry/masks.h"

#include <algorithm>
#include <cmath>

namespace mrcnn::geometry {

std::array<int, 4> MaskBox(const uint8_t* mask, int height, int width) {
  int x1 = width, y1 = height, x2 = -1, y2 = -1;
  for (int y = 0; y < height; ++y) {
    const uint8_t* row = mask + static_cast<int64_t>(y) * width;
    for (int x = 0; x < width; ++x) {
      if (row[x]) {
        x1 = std::min(x1, x);
        x2 = std::max(x2, x);
        y1 = std::min(y1, y);
        y2 = std::max(y2, y);
      }
    }
  }
  if (x2 < 0) return {0, 0, 0, 0};
  return {x1, y1, x2 + 1, y2 + 1};
}

std::array<int64_t, 4> RoundBox(const std::array<double, 4>& box) {
  std::array<int64_t, 4> out;
  for (int k = 0; k < 4; ++k) out[k] = static_cast<int64_t>(std::nearbyint(box[k]));
  return out;
}

std::vector<float> ResizeBilinear(const float* in, int in_h, int in_w, int out_h, int out_w) {
  struct Tap {
    int i0, i1;
    float w0, w1;
  };
  const auto taps = [](int n, int o) {
    std::vector<Tap> t(o);
    const double scale = static_cast<double>(n) / o;
    for (int d = 0; d < o; ++d) {
      const double src = std::max(0.0, (d + 0.5) * scale - 0.5);
      const int a = std::min(static_cast<int>(src), n - 1);
      const float l = static_cast<float>(std::min(src - a, 1.0));
      t[d] = {a, std::min(a + 1, n - 1), 1.0f - l, l};
    }
    return t;
  };
  std::vector<float> out(static_cast<size_t>(out_h) * out_w);
  if (in_h <= 0 || in_w <= 0) return out;
  const std::vector<Tap> ty = taps(in_h, out_h), tx = taps(in_w, out_w);
  for (int y = 0; y < out_h; ++y) {
    const float* r0 = in + static_cast<int64_t>(ty[y].i0) * in_w;
    const float* r1 = in + static_cast<int64_t>(ty[y].i1) * in_w;
    for (int x = 0; x < out_w; ++x) {
      const Tap& t = tx[x];
      const float top = r0[t.i0] * t.w0 + r0[t.i1] * t.w1;
      const float bottom = r1[t.i0] * t.w0 + r1[t.i1] * t.w1;
      out[static_cast<size_t>(y) * out_w + x] = top * ty[y].w0 + bottom * ty[y].w1;
    }
  }
  return out;
}

std::vector<uint8_t> MinimizeMask(const uint8_t* mask, int height, int width, const std::array<double, 4>& box,
                                  int mini_height, int mini_width) {
  std::vector<uint8_t> out(static_cast<size_t>(std::max(0, mini_height)) * std::max(0, mini_width), 0);
  const std::array<int64_t, 4> b = RoundBox(box);
  const int64_t bw = b[2] - b[0], bh = b[3] - b[1];
  if (bw <= 0 || bh <= 0 || mini_height <= 0 || mini_width <= 0) return out;
  // The crop covers the whole box; parts outside the image are zero.
  std::vector<float> crop(static_cast<size_t>(bh * bw), 0.0f);
  for (int64_t y = std::max<int64_t>(b[1], 0); y < std::min<int64_t>(b[3], height); ++y) {
    for (int64_t x = std::max<int64_t>(b[0], 0); x < std::min<int64_t>(b[2], width); ++x) {
      crop[(y - b[1]) * bw + (x - b[0])] = mask[y * width + x] ? 1.0f : 0.0f;
    }
  }
  const std::vector<float> small =
      ResizeBilinear(crop.data(), static_cast<int>(bh), static_cast<int>(bw), mini_height, mini_width);
  // np.around rounds 0.5 to 0: strictly above one half is set.
  for (size_t i = 0; i < small.size(); ++i) out[i] = small[i] > 0.5f;
  return out;
}

std::vector<uint8_t> ExpandMask(const uint8_t* mini, int mini_height, int mini_width,
                                const std::array<double, 4>& box, int height, int width) {
  std::vector<uint8_t> out(static_cast<size_t>(std::max(0, height)) * std::max(0, width), 0);
  const std::array<int64_t, 4> b = RoundBox(box);
  const int64_t bw = b[2] - b[0], bh = b[3] - b[1];
  if (bw <= 0 || bh <= 0 || mini_height <= 0 || mini_width <= 0) return out;
  const int64_t y0 = std::max<int64_t>(b[1], 0), y1 = std::min<int64_t>(b[3], height);
  const int64_t x0 = std::max<int64_t>(b[0], 0), x1 = std::min<int64_t>(b[2], width);
  if (y1 <= y0 || x1 <= x0) return out;
  std::vector<float> f(static_cast<size_t>(mini_height) * mini_width);
  for (size_t i = 0; i < f.size(); ++i) f[i] = mini[i] ? 1.0f : 0.0f;
  const std::vector<float> big =
      ResizeBilinear(f.data(), mini_height, mini_width, static_cast<int>(bh), static_cast<int>(bw));
  for (int64_t y = y0; y < y1; ++y) {
    for (int64_t x = x0; x < x1; ++x) out[y * width + x] = big[(y - b[1]) * bw + (x - b[0])] > 0.5f;
  }
  return out;
}

}  // namespace mrcnn::geometry
