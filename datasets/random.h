// Seeded random numbers that give the same values on every platform and standard library (the
// std:: distributions do not promise that): SplitMix64 for seeding, xoshiro256** for the stream.
//
//   Rng rng(DeriveSeed(seed, "shapes", index));
//   int side = rng.UniformInt(20, 40);   // inclusive
#ifndef DATASETS_RANDOM_H_
#define DATASETS_RANDOM_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mrcnn::datasets {

// Mixes a seed with a purpose and an index into an independent seed.
uint64_t DeriveSeed(uint64_t seed, const std::string& purpose, uint64_t index = 0);

class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  // Uniform integer in [lo, hi] (inclusive), without modulo bias.
  int64_t UniformInt(int64_t lo, int64_t hi);
  // Uniform double in [0, 1).
  double Uniform();
  template <typename T>
  void Shuffle(std::vector<T>* v) {
    for (int64_t i = static_cast<int64_t>(v->size()) - 1; i > 0; --i) {
      std::swap((*v)[i], (*v)[UniformInt(0, i)]);
    }
  }

 private:
  uint64_t s_[4];
};

}  // namespace mrcnn::datasets

#endif  // DATASETS_RANDOM_H_
