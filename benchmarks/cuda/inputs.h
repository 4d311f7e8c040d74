// Benchmark inputs made by a small LCG that torchvision_cuda_peer.py repeats exactly, so the kernels
// and torchvision's ops are timed on the same boxes. Feature values do not change the timings and are
// filled with the same generator.
#ifndef BENCHMARKS_CUDA_INPUTS_H_
#define BENCHMARKS_CUDA_INPUTS_H_

#include <cstdint>
#include <vector>

namespace mrcnn {
namespace bench {

class Lcg {
 public:
  explicit Lcg(uint64_t seed) : state_(seed) {}
  // Uniform in [0, 1) with 24 bits, identical in the Python peer.
  float Next() {
    state_ = (state_ * 6364136223846793005ULL + 1442695040888963407ULL);
    return static_cast<float>(state_ >> 40) / 16777216.0f;
  }

 private:
  uint64_t state_;
};

// [n, 4] boxes (x1, y1, x2, y2) inside a width x height image, sides 8 .. 8 + max_side.
inline std::vector<float> Boxes(int n, float width, float height, float max_side, uint64_t seed) {
  Lcg g(seed);
  std::vector<float> b(static_cast<size_t>(n) * 4);
  for (int i = 0; i < n; ++i) {
    const float x = g.Next() * width, y = g.Next() * height;
    const float w = 8 + g.Next() * max_side, h = 8 + g.Next() * max_side;
    b[i * 4 + 0] = x;
    b[i * 4 + 1] = y;
    b[i * 4 + 2] = x + w;
    b[i * 4 + 3] = y + h;
  }
  return b;
}

inline std::vector<float> Uniform(int64_t n, uint64_t seed) {
  Lcg g(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = g.Next();
  return v;
}

}  // namespace bench
}  // namespace mrcnn

#endif  // BENCHMARKS_CUDA_INPUTS_H_
