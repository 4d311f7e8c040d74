// Paired bootstrap over validation images, with seeds as replicates: is arm A's AP really above the
// reference arm's, or is the difference noise?
//
// Every run (one arm, one seed) was evaluated on the same images and kept its per-image matching
// results (eval/per_image.h). One bootstrap replicate draws a multiset of the images (as many draws as
// images, with replacement) and, when there are several seeds, a multiset of the seeds (as many as
// there are, with replacement); every arm is accumulated on the same image multiset, and the
// replicate's difference is the mean over the drawn seeds of (arm - reference) on that seed. Seeds and
// images are both resampled, so the interval covers seed-to-seed noise as well as the choice of
// validation images. Replicate b draws from its own generator (std::mt19937_64 seeded with (seed, b)),
// so results do not depend on the thread count.
//
//   PairedBootstrapOptions o;  o.resamples = 1000;  o.seed = 1;  o.num_threads = 2;
//   // runs[a][s]: arm a (0 is the reference), seed s; the same seeds in every arm.
//   PairedBootstrapResult r = PairedBootstrap(runs, {0, 1}, o).value();   // AP and AP50
//   r.differences[1][0].low, .high, .share_at_most_zero, .verdict
#ifndef EVAL_BOOTSTRAP_H_
#define EVAL_BOOTSTRAP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/per_image.h"

namespace mrcnn::eval {

struct PairedBootstrapOptions {
  int resamples = 1000;         // B
  uint64_t seed = 0;
  int num_threads = 1;          // replicates are spread over threads
  double confidence = 0.95;     // the interval's coverage (percentile interval)
  bool resample_seeds = true;   // false: images only, each replicate averages over every seed
};

// One arm against the reference for one of the 12 stats (higher is better for all of them).
struct BootstrapDifference {
  double estimate = 0;   // mean over seeds of (arm - reference) on every image once
  double low = 0, high = 0;  // percentile interval of the replicates' differences
  double share_at_most_zero = 0;  // share of replicates with a difference <= 0
  int replicates = 0;    // replicates where both arms had the stat (not -1) on every drawn seed
  std::string verdict;   // "better", "worse" or "indistinguishable" at the interval's confidence
};

struct PairedBootstrapResult {
  // [arm][j] for stats[j]; arm 0 (the reference) compared with itself.
  std::vector<std::vector<BootstrapDifference>> differences;
  // [arm][seed][j]: each run's stat on every image once.
  std::vector<std::vector<std::vector<double>>> full;
};

// runs[a][s]: arm a, seed s (arm 0 is the reference; every arm has the same number of seeds, paired
// by position). Every run must cover the same images with the same parameters; otherwise an error
// names the first run (arm, seed) that differs. stats: indices into the 12 summary numbers.
absl::StatusOr<PairedBootstrapResult> PairedBootstrap(
    const std::vector<std::vector<const ResampleAccumulator*>>& runs, const std::vector<int>& stats,
    const PairedBootstrapOptions& options);

// The image multiset and seed multiset of replicate b: counts per image and per seed.
void DrawReplicate(uint64_t seed, int b, int num_images, int num_seeds, bool resample_seeds,
                   std::vector<int>* image_counts, std::vector<int>* seed_counts);

// numpy.quantile(values, q) with its default linear interpolation; `values` sorted ascending.
double Quantile(const std::vector<double>& sorted, double q);

}  // namespace mrcnn::eval

#endif  // EVAL_BOOTSTRAP_H_
