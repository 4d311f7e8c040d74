#include "mrcnn/ops/matcher.h"

#include <vector>

namespace mrcnn {
namespace ops {

constexpr int64_t Matcher::kBelowLowThreshold;
constexpr int64_t Matcher::kBetweenThresholds;

Matcher::Matcher(double high_threshold, double low_threshold, bool allow_low_quality_matches)
    : high_(high_threshold), low_(low_threshold), allow_low_quality_(allow_low_quality_matches) {
  TORCH_CHECK(low_threshold <= high_threshold, "Matcher: low_threshold (", low_threshold,
              ") must not exceed high_threshold (", high_threshold, ")");
}

at::Tensor Matcher::operator()(const at::Tensor& match_quality) const {
  TORCH_CHECK(match_quality.defined() && match_quality.dim() == 2,
              "Matcher: match_quality must be [G, P] (gt x predictions), got shape ",
              match_quality.defined() ? match_quality.sizes() : at::IntArrayRef{});
  TORCH_CHECK(at::isFloatingType(match_quality.scalar_type()),
              "Matcher: match_quality must be floating, got ", match_quality.scalar_type());
  const at::Tensor q = match_quality.detach().contiguous().cpu();
  const int64_t g = q.size(0);
  const int64_t p = q.size(1);
  at::Tensor matches = at::full({p}, kBelowLowThreshold, at::kLong);
  if (g == 0 || p == 0) return matches.to(match_quality.device());
  int64_t* pm = matches.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "Matcher", [&] {
    // Thresholds compared in the input's dtype, as torch compares a tensor with a Python float.
    const scalar_t low = static_cast<scalar_t>(low_);
    const scalar_t high = static_cast<scalar_t>(high_);
    const scalar_t* pq = q.data_ptr<scalar_t>();
    // Best gt per prediction (first index on ties, as torch.max(dim=0)).
    std::vector<int64_t> best(p, 0);
    std::vector<scalar_t> best_val(pq, pq + p);
    for (int64_t i = 1; i < g; ++i) {
      const scalar_t* row = pq + i * p;
      for (int64_t j = 0; j < p; ++j) {
        if (row[j] > best_val[j]) {
          best_val[j] = row[j];
          best[j] = i;
        }
      }
    }
    for (int64_t j = 0; j < p; ++j) {
      const scalar_t v = best_val[j];
      if (v < low) {
        pm[j] = kBelowLowThreshold;
      } else if (v < high) {
        pm[j] = kBetweenThresholds;
      } else {
        pm[j] = best[j];
      }
    }
    if (allow_low_quality_) {
      // Each gt's best predictions (all ties) keep their own best gt, whatever its quality.
      for (int64_t i = 0; i < g; ++i) {
        const scalar_t* row = pq + i * p;
        scalar_t highest = row[0];
        for (int64_t j = 1; j < p; ++j) {
          if (row[j] > highest) highest = row[j];
        }
        for (int64_t j = 0; j < p; ++j) {
          if (row[j] == highest) pm[j] = best[j];
        }
      }
    }
  });
  return matches.to(match_quality.device());
}

}  // namespace ops
}  // namespace mrcnn
