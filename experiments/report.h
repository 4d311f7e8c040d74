// A self-contained HTML report of one sweep (one file, inline SVG and CSS, no scripts or external
// resources): the spec (pretty-printed), the runs table (each row's tooltip is the run's config), the
// curves of a metric over steps (e.g. the loss; smoothed, raw values faint), the report's metric over
// steps per config point with its band over seeds, a forest plot of each arm's difference from the
// reference with its bootstrap interval (grid sweeps with per-image results; compare.h's
// SweepCiTables), the final value against each swept parameter (categorical axes for values that are
// not numbers), parallel coordinates coloured by the metric, for random searches a parameter
// importance view, and the per-class AP table.
//
//   std::string html = HtmlReport(log.db(), "default", {"segm_AP", "loss"}).value();
#ifndef EXPERIMENTS_REPORT_H_
#define EXPERIMENTS_REPORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "experiments/sqlite.h"

namespace experiments {

struct ReportOptions {
  std::string metric = "segm_AP";  // plotted against the parameters and in parallel coordinates
  std::string curve = "loss";      // plotted over steps, one line per run (current attempt)
  // TensorBoard's smoothing of the curve: a debiased exponential moving average with this weight
  // (0: none); the raw values are drawn faint beneath.
  double smoothing = 0.6;
  // The forest plot's bootstrap (its metric is `metric`, which must be a COCO metric).
  int resamples = 1000;
  uint64_t ci_seed = 0;
  int threads = 2;
};

absl::StatusOr<std::string> HtmlReport(Db& db, const std::string& sweep, const ReportOptions& o);

// Escapes &, <, >, " and ' for HTML text and attributes.
std::string HtmlEscape(const std::string& s);

}  // namespace experiments

#endif  // EXPERIMENTS_REPORT_H_
