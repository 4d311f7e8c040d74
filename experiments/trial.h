// The trial side of the experiment log: what a training binary started by the sweep coordinator
// calls to report progress, metrics, COCO results, checkpoints and its provenance.
//
// The coordinator starts the trial binary as
//   TRIAL --config=DIR/config.json --seed=S --trial_dir=DIR --db=LOG --trial_id=ID --attempt=A --threads=T
//         [--stop_at_epoch=E] [--resume=CHECKPOINT]
// with OMP_NUM_THREADS=T. Under a scheduler (scheduler.h) the trial trains only up to epoch E (its
// learning-rate schedule still spans the whole budget), and an attempt that continues an earlier one
// starts from the checkpoint the earlier one logged. Before a sweep is created the coordinator also runs
//   TRIAL --check_args [--KEY=VALUE from the spec's "trainer"]
// which must exit 0 when those flags are usable and otherwise say why (and exit non-zero), without
// training. The trial reads its config, trains, and logs:
//
//   absl::StatusOr<TrialArgs> args = ParseTrialArgs(argc, argv);
//   absl::StatusOr<TrialLog> log = TrialLog::Open(*args);
//   log->SetTotalSteps(2000);
//   log->SetBuild({"opt", TORCH_VERSION, "none"});
//   log->SetDataset("shapes", dataset_hash);
//   log->LogMetric("loss", step, epoch, loss);          // progress bars read these rows
//   log->LogCoco(step, epoch, coco);                     // also logged as metrics bbox_AP, segm_AP50, ...
//                                                        // with per-image results: a side file
//   log->LogCheckpoint(step, "last", path);
//
// The trial never sets its own status: the coordinator decides FINISHED / FAILED / KILLED from the exit
// status. Every write checks that this attempt is still the trial's current, running attempt, so a
// process left over from a lost coordinator cannot write into a newer attempt.
#ifndef EXPERIMENTS_TRIAL_H_
#define EXPERIMENTS_TRIAL_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eval/coco_eval.h"
#include "experiments/log.h"

namespace experiments {

// The command line a trial binary receives.
struct TrialArgs {
  std::string config_path;  // the effective config as JSON (mrcnn::Config::FromJson)
  int64_t seed = 0;
  std::string trial_dir;  // where the trial writes checkpoints and its log
  std::string db_path;
  int64_t trial_id = 0;
  int attempt = 0;
  int threads = 1;
  int stop_at_epoch = 0;  // > 0: stop after this epoch, its checkpoint written and logged
  std::string resume;     // non-empty: continue from this checkpoint (logged by an earlier attempt)

  std::vector<std::string> ToArgs() const;  // without argv[0]
};

// Parses the flags above ("--flag=value" form; all but stop_at_epoch and resume required); unknown
// flags are errors.
absl::StatusOr<TrialArgs> ParseTrialArgs(const std::vector<std::string>& args);
absl::StatusOr<TrialArgs> ParseTrialArgs(int argc, char** argv);

// The metrics the trainer (//mrcnn:train) logs with an epoch, so that a scheduler can read them at the
// end of a rung: the step losses and learning rate, epoch_<loss>, val_<loss> (with validation steps),
// train_seconds, and with COCO evaluation bbox_* and segm_* (CocoStatNames()).
std::set<std::string> EpochMetricNames(bool coco_eval, bool validation);

struct BuildInfo {
  std::string compilation_mode;  // Bazel's: opt, dbg, fastbuild
  std::string libtorch_version;
  std::string cuda_version;  // "none" for CPU builds
};

// One IoU type's COCOeval.summarize() numbers (order: CocoStatNames()) and per-class AP.
struct CocoStats {
  std::array<double, 12> stats{};
  struct ClassAp {
    int64_t class_id;
    std::string class_name;
    double ap;
  };
  std::vector<ClassAp> per_class;
  // The evaluation's per-image matching results (EvalOptions::keep_per_image), for bootstrap
  // intervals: LogCoco writes them to a file in the trial's folder and records it in coco_per_image.
  std::shared_ptr<const mrcnn::eval::PerImageEval> per_image;
};

struct CocoResult {
  std::string split = "val";
  std::optional<CocoStats> bbox;
  std::optional<CocoStats> segm;
};

struct MetricPoint {
  std::string key;
  double value;
  std::string goal;  // "min" / "max"; empty: DefaultGoal(key)
};

class TrialLog {
 public:
  static absl::StatusOr<TrialLog> Open(const TrialArgs& args);
  static absl::StatusOr<TrialLog> Open(const std::string& db_path, int64_t trial_id, int attempt);

  int64_t trial_id() const { return trial_id_; }
  int attempt() const { return attempt_; }

  absl::Status SetTotalSteps(int64_t steps);
  absl::Status SetBuild(const BuildInfo& build);
  absl::Status SetDataset(const std::string& name, const std::string& content_hash);

  absl::Status LogMetric(const std::string& key, int64_t step, std::optional<int64_t> epoch,
                         double value, const std::string& goal = "");
  // Several metrics of one step in one transaction.
  absl::Status LogMetrics(int64_t step, std::optional<int64_t> epoch,
                          const std::vector<MetricPoint>& points);
  // Per-image results (CocoStats::per_image) go to <trial_dir>/coco_per_image/
  // attempt<A>_step<S>_<bbox|segm>.pie (trial_dir as the coordinator recorded it; without one, a
  // folder per_image/trial_<id> beside the log), referenced from coco_per_image.
  absl::Status LogCoco(int64_t step, std::optional<int64_t> epoch, const CocoResult& result);
  absl::Status LogCheckpoint(int64_t step, const std::string& tag, const std::string& path);

 private:
  TrialLog(ExperimentLog log, int64_t trial_id, int attempt)
      : log_(std::move(log)), trial_id_(trial_id), attempt_(attempt) {}
  // Fails unless trial_id_ is RUNNING in attempt_; called inside each write transaction.
  absl::Status CheckCurrent(Db& db);
  absl::Status UpdateTrial(const std::string& assignments, const std::vector<SqlValue>& values);
  // Where this trial's per-image results go (created if missing).
  absl::StatusOr<std::string> PerImageDir();

  ExperimentLog log_;
  int64_t trial_id_;
  int attempt_;
};

}  // namespace experiments

#endif  // EXPERIMENTS_TRIAL_H_
