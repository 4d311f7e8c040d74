// Reports over the experiment log: sweeps and runs, config diffs with derived values, one-axis
// ablation tables that check the runs are comparable, mean +- std over seeds, the best run by a
// metric, and export as a text table, CSV or JSON.
//
//   ExperimentLog log = ExperimentLog::Open(path, {Db::kReadOnly}).value();
//   AblationOptions a;  a.axis = "RPN_ANCHOR_STRIDE";  a.metric = "segm_AP";
//   Table t = Ablation(log.db(), a).value();
//   std::cout << FormatTable(t, "table");
//
// A run's value for a metric is the last value its current attempt logged ("last"), or the best one
// ("best", by the metric's goal); only FINISHED runs enter ablations, seed statistics and "best".
#ifndef EXPERIMENTS_COMPARE_H_
#define EXPERIMENTS_COMPARE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "experiments/scheduler.h"
#include "experiments/sqlite.h"
#include "mrcnn/config/config.h"
#include "nlohmann/json.hpp"

namespace experiments {

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<SqlValue>> rows;
  std::vector<std::string> notes;  // printed under text tables; a "notes" array in JSON
};

// "table" (aligned text), "csv" (RFC 4180) or "json" (an array of objects, numbers kept numbers).
absl::StatusOr<std::string> FormatTable(const Table& t, const std::string& format);

absl::StatusOr<Table> ListSweeps(Db& db);

// Runs of one sweep (empty: all) with their swept params and the given metrics.
absl::StatusOr<Table> ListRuns(Db& db, const std::string& sweep,
                               const std::vector<std::string>& metrics, const std::string& value);

// Every column of the `runs` view for one sweep (empty: all), for export.
absl::StatusOr<Table> ExportRuns(Db& db, const std::string& sweep);

// Config keys and derived values that differ between two runs (all of them when `all`).
absl::StatusOr<Table> DiffRuns(Db& db, int64_t a, int64_t b, bool all);

// Values that follow from a config: feature map sizes and anchors per level and in total for the
// network input (placed as matterport's generate_pyramid_anchors places them: every
// RPN_ANCHOR_STRIDE-th feature cell, one anchor per ratio), proposals kept before and after NMS in
// training and inference, and the positive ROIs per image at most.
nlohmann::json DerivedValues(const mrcnn::Config& c);

struct AblationOptions {
  std::string axis;                                       // the config key varied
  std::vector<std::string> sweeps;                        // empty: every sweep
  std::vector<std::pair<std::string, std::string>> fix;   // KEY=VALUE filters
  std::string metric = "segm_AP";
  std::string value = "last";                             // "last" or "best"
};

// Bootstrap intervals for an ablation (`compare ablate --ci`): every arm (axis value) against the
// reference arm (the first value), on the per-image results each run logged with its last COCO
// evaluation (eval/bootstrap.h: paired over images, seeds as replicates).
struct AblationCiOptions {
  // Metrics: <bbox|segm>_<one of CocoStatNames()>.
  std::vector<std::string> metrics = {"segm_AP", "segm_AP50", "bbox_AP", "bbox_AP50"};
  int resamples = 1000;
  uint64_t seed = 0;
  int threads = 2;
  bool resample_seeds = true;  // false: images only, every replicate averages over all seeds
};

// One row per (arm, metric): the arm's value, the reference, n paired seeds, reference and arm means
// over seeds, the difference, its 95% interval, the share of replicates <= 0, the verdict (better,
// worse, indistinguishable), the reference's seed-to-seed std (the noise floor) and the ablation's
// check. Refused, naming the runs: two runs with the same axis value and seed, seeds that are not
// paired across arms, runs without per-image results (logged before schema version 4, or by a trial
// that does not keep them), and runs evaluated on other images or another dataset.
absl::StatusOr<Table> AblationCi(Db& db, const AblationOptions& options, const AblationCiOptions& ci);

// The sweep's final tables of intervals: for each swept key, one AblationCi per combination of the
// other swept keys' values (held fixed). `title` names the axis and the fixed values; a slice that
// cannot be compared (one arm, no per-image results) has its reason in `table`'s status.
struct SweepCi {
  std::string title;
  absl::StatusOr<Table> table;
};
absl::StatusOr<std::vector<SweepCi>> SweepCiTables(Db& db, const std::string& sweep,
                                                   const std::vector<std::string>& swept_keys,
                                                   const AblationCiOptions& ci);

// One row per value of the axis: n runs, mean, sample std, min, max of the metric, and a check
// column that names everything (other config keys, dataset hash, build, git commit) in which the
// row's runs differ from the first row's first run; "ok" when nothing does.
absl::StatusOr<Table> Ablation(Db& db, const AblationOptions& options);

// One row per config point of a sweep: its swept params, n seeds, mean and sample std of the metric.
absl::StatusOr<Table> SeedStats(Db& db, const std::string& sweep, const std::string& metric,
                                const std::string& value);

// The best FINISHED run by a metric (its goal from the log: min for losses, max otherwise), with its
// swept params; `top` rows. For a sweep run under a scheduler: RungRanking (rung first, then metric).
absl::StatusOr<Table> BestRuns(Db& db, const std::string& sweep, const std::string& metric,
                               const std::string& value, int top);

// A sweep run under a scheduler (scheduler.h): its scheduler, as stored with its spec; none for a
// sweep without one. NotFound when there is no such sweep.
absl::StatusOr<std::optional<SchedulerSpec>> SchedulerOf(Db& db, const std::string& sweep);

// What a scheduled sweep's trials trained, against every trial trained to max_epochs.
struct SweepBudget {
  std::string scheduler;  // "asha on segm_AP, eta 2"
  int max_epochs = 0;
  int64_t trials = 0, epochs = 0, full_epochs = 0, steps = 0, full_steps = 0;
  std::string Text() const;  // "budget: 40 of 128 epochs (31.3%), ..."
};
absl::StatusOr<std::optional<SweepBudget>> BudgetOf(Db& db, const std::string& sweep);

// The runs of a scheduled sweep ranked by `metric` at the highest rung each reached: trials that
// reached more epochs first, then by the metric's goal. Columns: rank, trial_id, status, rung, epochs,
// SEED, the swept keys, "<metric>@rung", `metrics` (last values), error; notes say how it ranks and
// the budget spent. `top` <= 0: every trial.
absl::StatusOr<Table> RungRanking(Db& db, const std::string& sweep, const std::string& metric,
                                  const std::vector<std::string>& metrics, int top);

// Mean and sample standard deviation (n - 1; 0 for a single value).
std::pair<double, double> MeanStd(const std::vector<double>& v);

}  // namespace experiments

#endif  // EXPERIMENTS_COMPARE_H_
