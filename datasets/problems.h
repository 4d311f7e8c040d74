// ProblemLog: every problem found while reading a dataset, each naming the file, the instance and the
// reason, so that users can fix their labels.
//
// Loaders take a ProblemLog. Errors skip the bad item (an image, a label file or one instance); in strict
// mode the first error is returned as a failed absl::Status instead. Warnings mark data that was kept
// after a repair (points clipped to the image, a self-intersecting polygon rasterised as drawn) and
// never fail. Counters add up quantities such as the number of clipped points.
//
//   ProblemLog log(/*strict=*/false);
//   absl::StatusOr<Dataset> ds = LoadTutorial(options, &log);
//   std::cout << log.Report();
#ifndef DATASETS_PROBLEMS_H_
#define DATASETS_PROBLEMS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace mrcnn::datasets {

enum class Severity { kWarning, kError };

struct Problem {
  Severity severity = Severity::kError;
  std::string file;   // the label or image file the problem is in
  int instance = -1;  // index of the instance in its label file, or -1 for the whole file
  std::string reason;

  // "FILE: instance I: REASON" (the instance part only when instance >= 0).
  std::string ToString() const;
};

class ProblemLog {
 public:
  explicit ProblemLog(bool strict = false) : strict_(strict) {}

  // Records an error; the caller skips the item when the returned status is OK. In strict mode the
  // status is an InvalidArgument error carrying the problem's text, and the caller returns it.
  absl::Status Error(const std::string& file, int instance, const std::string& reason);
  // Records a warning: the item was repaired and kept.
  void Warning(const std::string& file, int instance, const std::string& reason);
  // Adds `n` to a named counter (e.g. "points clipped to the image").
  void Count(const std::string& what, long n) { counters_[what] += n; }

  bool strict() const { return strict_; }
  const std::vector<Problem>& problems() const { return problems_; }
  int num_errors() const;
  int num_warnings() const;
  const std::map<std::string, long>& counters() const { return counters_; }
  // True when some problem's text contains both `file` and `reason_part`.
  bool Has(const std::string& file, const std::string& reason_part) const;

  // Every problem, one a line, then the counters and a summary line.
  std::string Report() const;

 private:
  bool strict_;
  std::vector<Problem> problems_;
  std::map<std::string, long> counters_;
};

}  // namespace mrcnn::datasets

#endif  // DATASETS_PROBLEMS_H_
