#include "eval/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "eval/parallel.h"

namespace mrcnn::eval {

void DrawReplicate(uint64_t seed, int b, int num_images, int num_seeds, bool resample_seeds,
                   std::vector<int>* image_counts, std::vector<int>* seed_counts) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(b)};
  std::mt19937_64 rng(seq);
  seed_counts->assign(num_seeds, resample_seeds ? 0 : 1);
  if (resample_seeds) {
    std::uniform_int_distribution<int> pick(0, num_seeds - 1);
    for (int s = 0; s < num_seeds; ++s) ++(*seed_counts)[pick(rng)];
  }
  image_counts->assign(num_images, 0);
  if (num_images == 0) return;
  std::uniform_int_distribution<int> pick(0, num_images - 1);
  for (int i = 0; i < num_images; ++i) ++(*image_counts)[pick(rng)];
}

double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return NAN;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

namespace {

bool SameImagesAndParams(const PerImageEval& a, const PerImageEval& b) {
  return a.img_ids == b.img_ids && a.iou_type == b.iou_type && a.cat_ids == b.cat_ids &&
         a.iou_thrs == b.iou_thrs && a.rec_thrs == b.rec_thrs && a.max_dets == b.max_dets &&
         a.area_rng == b.area_rng;
}

}  // namespace

absl::StatusOr<PairedBootstrapResult> PairedBootstrap(
    const std::vector<std::vector<const ResampleAccumulator*>>& runs, const std::vector<int>& stats,
    const PairedBootstrapOptions& o) {
  if (runs.empty() || runs[0].empty()) return absl::InvalidArgumentError("no runs to compare");
  if (o.resamples < 1) {
    return absl::InvalidArgumentError(absl::StrCat("resamples must be >= 1, got ", o.resamples));
  }
  if (!(o.confidence > 0 && o.confidence < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("confidence must be in (0, 1), got ", o.confidence));
  }
  for (int j : stats) {
    if (j < 0 || j >= 12) return absl::InvalidArgumentError(absl::StrCat("stat index ", j, " is not in [0, 12)"));
  }
  const int num_arms = static_cast<int>(runs.size());
  const int num_seeds = static_cast<int>(runs[0].size());
  const int J = static_cast<int>(stats.size());
  const PerImageEval& first = runs[0][0]->results();
  for (int a = 0; a < num_arms; ++a) {
    if (static_cast<int>(runs[a].size()) != num_seeds) {
      return absl::InvalidArgumentError(absl::StrCat("arm ", a, " has ", runs[a].size(),
                                                     " seeds, the reference ", num_seeds));
    }
    for (int s = 0; s < num_seeds; ++s) {
      if (!SameImagesAndParams(first, runs[a][s]->results())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "arm ", a, ", seed ", s, " was evaluated on other images or with other parameters than "
            "arm 0, seed 0"));
      }
    }
  }
  const int num_images = static_cast<int>(first.img_ids.size());

  PairedBootstrapResult result;
  result.full.assign(num_arms, std::vector<std::vector<double>>(num_seeds, std::vector<double>(J)));
  const std::vector<int> all(num_images, 1);
  for (int a = 0; a < num_arms; ++a) {
    for (int s = 0; s < num_seeds; ++s) {
      const ResampleStats st = runs[a][s]->Accumulate(all);
      for (int j = 0; j < J; ++j) result.full[a][s][j] = st.stats[stats[j]];
    }
  }

  // replicate[b][a][j]: the replicate's mean difference; NaN where a drawn run lacks the stat.
  std::vector<double> replicate(static_cast<size_t>(o.resamples) * num_arms * J, NAN);
  ParallelFor(o.resamples, o.num_threads, [&](int b) {
    std::vector<int> counts, seed_counts;
    DrawReplicate(o.seed, b, num_images, num_seeds, o.resample_seeds && num_seeds > 1, &counts,
                  &seed_counts);
    // value[a][s][j] for the drawn seeds.
    std::vector<double> value(static_cast<size_t>(num_arms) * num_seeds * J, NAN);
    for (int s = 0; s < num_seeds; ++s) {
      if (seed_counts[s] == 0) continue;
      for (int a = 0; a < num_arms; ++a) {
        const ResampleStats st = runs[a][s]->Accumulate(counts);
        for (int j = 0; j < J; ++j) value[(static_cast<size_t>(a) * num_seeds + s) * J + j] = st.stats[stats[j]];
      }
    }
    int drawn = 0;
    for (int c : seed_counts) drawn += c;
    for (int a = 0; a < num_arms; ++a) {
      for (int j = 0; j < J; ++j) {
        double sum = 0;
        bool defined = true;
        for (int s = 0; s < num_seeds; ++s) {
          if (seed_counts[s] == 0) continue;
          const double x = value[(static_cast<size_t>(a) * num_seeds + s) * J + j];
          const double ref = value[static_cast<size_t>(s) * J + j];
          if (x < 0 || ref < 0) defined = false;  // -1: no ground truth for the stat
          sum += seed_counts[s] * (x - ref);
        }
        if (defined) replicate[(static_cast<size_t>(b) * num_arms + a) * J + j] = sum / drawn;
      }
    }
  });

  result.differences.assign(num_arms, std::vector<BootstrapDifference>(J));
  const double tail = (1 - o.confidence) / 2;
  for (int a = 0; a < num_arms; ++a) {
    for (int j = 0; j < J; ++j) {
      BootstrapDifference& d = result.differences[a][j];
      double sum = 0;
      for (int s = 0; s < num_seeds; ++s) sum += result.full[a][s][j] - result.full[0][s][j];
      d.estimate = sum / num_seeds;
      std::vector<double> values;
      for (int b = 0; b < o.resamples; ++b) {
        const double v = replicate[(static_cast<size_t>(b) * num_arms + a) * J + j];
        if (!std::isnan(v)) values.push_back(v);
      }
      d.replicates = static_cast<int>(values.size());
      if (values.empty()) {
        d.low = d.high = d.share_at_most_zero = NAN;
        d.verdict = "undefined";
        continue;
      }
      std::sort(values.begin(), values.end());
      d.low = Quantile(values, tail);
      d.high = Quantile(values, 1 - tail);
      const auto at_most_zero = std::upper_bound(values.begin(), values.end(), 0.0) - values.begin();
      d.share_at_most_zero = static_cast<double>(at_most_zero) / static_cast<double>(values.size());
      d.verdict = d.low > 0 ? "better" : d.high < 0 ? "worse" : "indistinguishable";
    }
  }
  return result;
}

}  // namespace mrcnn::eval
