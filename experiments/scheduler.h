// Budget-aware search: a sweep's "scheduler" runs trials rung by rung and decides, from the metric
// each trial reports at the end of a rung, which trials continue (are promoted from their rung
// checkpoint) and which stop for good (are pruned).
//
//   "scheduler": {"type": "asha", "metric": "segm_AP", "mode": "max",
//                 "min_epochs": 1, "max_epochs": 8, "eta": 2}
//
// Rungs are the epochs min_epochs * eta^k below max_epochs, then max_epochs: 1, 2, 4, 8 above. A trial
// trains to its rung's epoch, writes its checkpoint and stops (PAUSED); a promoted trial resumes from
// that checkpoint, so no finished epoch is trained again.
// - asha: asynchronous successive halving (Li et al., 2020). Whenever a worker is free it promotes the
//   best paused trial that is in the top floor(n / eta) of the n results its rung has so far, looking
//   at the highest rung first; when none is promotable it starts a new trial. No worker waits for a
//   rung to fill. A rung is closed once no trial can still reach it; then its paused trials outside
//   the top floor(n / eta) are PRUNED.
// - hyperband: asynchronous Hyperband, i.e. several ASHA brackets side by side. Bracket s (0 .. s_max,
//   s_max = floor(log_eta(max_epochs / min_epochs))) starts its trials at min_epochs * eta^s; the
//   trials are dealt to the brackets in turn by their position in the sweep.
// - median: the median stopping rule. At the end of each rung a trial continues at once if its value
//   is at least as good as the median of the values its rung has so far (itself included); else it is
//   PRUNED. The first `min_samples` trials of a rung always continue.
//
// Decisions depend only on what the log holds (results, earlier decisions, the trials' order), so a
// coordinator that is restarted makes the same decisions.
#ifndef EXPERIMENTS_SCHEDULER_H_
#define EXPERIMENTS_SCHEDULER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace experiments {

struct SchedulerSpec {
  enum class Type { kAsha, kHyperband, kMedian };
  Type type = Type::kAsha;
  std::string metric = "segm_AP";
  std::string mode = "max";  // "max" or "min"
  int min_epochs = 1;
  int max_epochs = 8;
  int eta = 2;
  int min_samples = 3;  // median only

  std::string TypeName() const;
  int NumBrackets() const;  // hyperband: s_max + 1; asha and median: 1
  // Rung epochs of bracket `bracket`, increasing, the last one max_epochs.
  std::vector<int> Rungs(int bracket) const;
  // True when `a` is strictly better than `b` under `mode`.
  bool Better(double a, double b) const;
};

// Parses a spec's "scheduler" object. `source` names the spec in errors; `reported` lists the metrics
// the trials report at the end of every epoch (an empty set accepts any metric). Errors name the key:
// "scheduler.eta: must be an integer >= 2, got 1".
absl::StatusOr<SchedulerSpec> ParseScheduler(const nlohmann::json& j, const std::string& source,
                                             const std::set<std::string>& reported);

// One trial as the scheduler sees it.
struct ScheduledTrial {
  int64_t id = 0;
  int64_t ordinal = 0;       // position in the sweep; ties and brackets go by it
  std::string status;        // the log's status (QUEUED, RUNNING, PAUSED, ...)
  bool can_run = false;      // QUEUED, KILLED, or FAILED with retries left
  int target_rung = 0;       // the rung it runs, or will run, to
  std::map<int, double> results;              // rung index -> metric value at that rung's epoch
  std::map<int, std::string> decisions;       // rung index -> "promoted" / "pruned" / "final"
};

int BracketOf(const SchedulerSpec& spec, int64_t ordinal);

// ASHA / Hyperband: the paused trial to promote now, or none. Rungs are visited from the highest
// epoch down; within a rung the best value wins (ties: lower ordinal).
struct Promotion {
  int64_t trial_id = 0;
  int from_rung = 0;
};
std::optional<Promotion> PickPromotion(const SchedulerSpec& spec,
                                       const std::vector<ScheduledTrial>& trials);

// ASHA / Hyperband: paused trials on closed rungs that can no longer be promoted, to be PRUNED.
std::vector<Promotion> ClosedRungPrunes(const SchedulerSpec& spec,
                                        const std::vector<ScheduledTrial>& trials);

// Median rule: whether the trial that just reported `value` at rung `rung` of its bracket continues.
// `trials` holds the result being decided already.
bool MedianContinues(const SchedulerSpec& spec, const std::vector<ScheduledTrial>& trials,
                     int64_t trial_id, int rung);

}  // namespace experiments

#endif  // EXPERIMENTS_SCHEDULER_H_
