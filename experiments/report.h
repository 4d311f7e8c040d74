// A self-contained HTML report of one sweep (one file, inline SVG and CSS, no scripts or external
// resources): the runs table, the curves of a metric over steps (e.g. the loss), the final value of a
// metric against each swept parameter, and a parallel-coordinates view of the swept parameters and
// that metric.
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
};

absl::StatusOr<std::string> HtmlReport(Db& db, const std::string& sweep, const ReportOptions& o);

// Escapes &, <, >, " and ' for HTML text and attributes.
std::string HtmlEscape(const std::string& s);

}  // namespace experiments

#endif  // EXPERIMENTS_REPORT_H_
