// The trial side of the experiment log: what a training binary started by the sweep coordinator
// calls to report progress, metrics, COCO results, checkpoints and its provenance.
//
// The coordinator starts the trial binary as
//   TRIAL --config=DIR/config.json --seed=S --trial_dir=DIR (--db=LOG | --report=FILE) --trial_id=ID
//         --attempt=A --threads=T [--stop_at_epoch=E] [--resume=CHECKPOINT]
// with OMP_NUM_THREADS=T. With --db (the local launcher) every call below is one transaction on the
// log. With --report (the Slurm launcher, whose trials run on other hosts and must not open the log)
// every call appends one JSON line to FILE and fsyncs it, and Finish() writes ResultPath(FILE) by
// atomic rename; the coordinator ingests the lines into the log with IngestReport, by offset, so the
// rows are the same either way. Under a scheduler (scheduler.h) the trial trains only up to epoch E (its
// learning-rate schedule still spans the whole budget), and an attempt that continues an earlier one
// starts from the checkpoint the earlier one logged. Before a sweep is created the coordinator also runs
//   TRIAL --check_args [--KEY=VALUE from the spec's "trainer"]
// which must exit 0 when those flags are usable and otherwise say why (and exit non-zero), without
// training. The trial reads its config, trains, and logs:
//
//   absl::StatusOr<TrialArgs> args = ParseTrialArgs(argc, argv);
//   absl::StatusOr<TrialLog> log = TrialLog::Open(*args);
//   log->SetTotalSteps(2000);
//   log->SetBuild({"opt", "1.13.0", "none"});           // mrcnn::ThisBuild() in the trainer
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
#include "nlohmann/json.hpp"

namespace experiments {

// The command line a trial binary receives.
struct TrialArgs {
  std::string config_path;  // the effective config as JSON (mrcnn::Config::FromJson)
  int64_t seed = 0;
  std::string trial_dir;  // where the trial writes checkpoints and its log
  std::string db_path;      // the log (local launcher); or
  std::string report_path;  // the JSON-lines report (Slurm launcher); exactly one is set
  int64_t trial_id = 0;
  int attempt = 0;
  int threads = 1;
  int stop_at_epoch = 0;  // > 0: stop after this epoch, its checkpoint written and logged
  std::string resume;     // non-empty: continue from this checkpoint (logged by an earlier attempt)

  std::vector<std::string> ToArgs() const;  // without argv[0]
};

// Parses the flags above ("--flag=value" form; all but stop_at_epoch and resume required, and one of
// db and report); unknown flags are errors.
absl::StatusOr<TrialArgs> ParseTrialArgs(const std::vector<std::string>& args);
absl::StatusOr<TrialArgs> ParseTrialArgs(int argc, char** argv);

// The metrics the trainer (//experiments:train, //mrcnn:train's program reporting as a trial) logs
// with an epoch, so that a scheduler can read them at the end of a rung: the step losses and learning
// rate, epoch_<loss>, val_<loss> (with validation steps), train_seconds, and with COCO evaluation bbox_* and segm_* (CocoStatNames()).
std::set<std::string> EpochMetricNames(bool coco_eval, bool validation);

struct BuildInfo {
  std::string compilation_mode;  // Bazel's: opt, dbg, fastbuild
  std::string libtorch_version;
  std::string cuda_version;  // "none" for CPU builds
  std::string cpu_isa;       // mrcnn::CpuIsaSummary(): the bf16 kernels this CPU offers (in the log record)
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
  // --db or --report, as the arguments say.
  static absl::StatusOr<TrialLog> Open(const TrialArgs& args);
  static absl::StatusOr<TrialLog> Open(const std::string& db_path, int64_t trial_id, int attempt);
  static absl::StatusOr<TrialLog> OpenReport(const std::string& report_path, int64_t trial_id,
                                             int attempt);

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
  // attempt<A>_step<S>_<bbox|segm>.pie (trial_dir from the arguments or as the coordinator recorded
  // it; without one, a folder per_image/trial_<id> beside the log, or coco_per_image beside the
  // report), referenced from coco_per_image.
  absl::Status LogCoco(int64_t step, std::optional<int64_t> epoch, const CocoResult& result);
  absl::Status LogCheckpoint(int64_t step, const std::string& tag, const std::string& path);

  // The trial's last call after it trained: with a report, writes ResultPath(report) (the report's
  // size and line count) by atomic rename, which is what tells the coordinator that the attempt
  // completed. With --db, nothing: the exit status says it.
  absl::Status Finish();

 private:
  struct ReportFile;
  TrialLog(int64_t trial_id, int attempt) : trial_id_(trial_id), attempt_(attempt) {}
  // One record: applied to the log at once (--db) or appended to the report (--report).
  absl::Status Record(nlohmann::json record);
  // Where this trial's per-image results go (created if missing).
  absl::StatusOr<std::string> PerImageDir();

  std::optional<ExperimentLog> log_;
  std::shared_ptr<ReportFile> report_;
  std::string trial_dir_;  // from the trial's arguments; empty: as the log records it
  int64_t trial_id_;
  int attempt_;
};

// Where a report's result file goes: "<report>.result".
std::string ResultPath(const std::string& report_path);

// What a report's result file says.
struct ReportResult {
  int64_t report_bytes = 0;
  int64_t report_lines = 0;
};
// The result file of the trial's attempt; nullopt when there is none; an error when it exists but is
// not a result of this trial and attempt.
absl::StatusOr<std::optional<ReportResult>> ReadResult(const std::string& report_path, int64_t trial_id,
                                                       int attempt);

// Fails unless the trial is RUNNING in `attempt` (a process left over from an earlier attempt must not
// write into a newer one). Call inside the write transaction.
absl::Status CheckCurrentAttempt(Db& db, int64_t trial_id, int attempt);

// Applies one report record to the log (the rows the matching TrialLog call writes with --db). Call
// inside a write transaction, after CheckCurrentAttempt.
absl::Status ApplyRecord(Db& db, int64_t trial_id, int attempt, const nlohmann::json& record);

// Reads the lines of the attempt's report past what was ingested before (report_ingest holds the
// offset and line count, updated in the same transaction as the rows), applies every complete line
// and leaves a line without its newline (still being written, or cut by a crash) for later. Ingesting
// twice adds nothing; an attempt that is not the trial's running one is refused (FailedPrecondition)
// and nothing is applied; a line that is not a record of this trial and attempt stops the ingestion
// there with an error naming the file and line (the lines before it are kept).
struct IngestResult {
  int64_t new_lines = 0;
  int64_t offset = 0;        // bytes ingested so far
  int64_t lines = 0;         // lines ingested so far
  bool partial_tail = false;  // bytes after the last newline wait for their newline
};
absl::StatusOr<IngestResult> IngestReport(Db& db, int64_t trial_id, int attempt,
                                          const std::string& report_path);

// Ingests the reports of every RUNNING Slurm attempt in the log (what `compare` does before it reads,
// so that a --no_wait sweep's progress shows without its coordinator). Returns the lines added;
// reports that cannot be ingested are named in `problems` and left for the coordinator to decide.
absl::StatusOr<int64_t> IngestRunningReports(Db& db, std::vector<std::string>* problems);

}  // namespace experiments

#endif  // EXPERIMENTS_TRIAL_H_
