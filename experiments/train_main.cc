// The trainer as one trial of an experiment sweep: //mrcnn:train's program (mrcnn/train/
// train_program.h) with the experiment log's trial protocol (trial.h) plugged into its hooks. The
// sweep runs this binary (found in its runfiles, or --trial_binary); every //mrcnn:train flag works
// the same, and given --db or --report the run reports to the log as a trial.
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "experiments/trial.h"
#include "experiments/trial_reporter.h"
#include "gflags/gflags.h"
#include "mrcnn/config/flags.h"
#include "mrcnn/config/untrusted.h"
#include "mrcnn/train/train_program.h"

DEFINE_string(db, "", "trial mode: experiment log database (local launcher)");
DEFINE_string(report, "", "trial mode: JSON-lines report file instead of the log (Slurm launcher)");
DEFINE_string(trial_dir, "", "trial mode: folder for checkpoints (replaces --model_dir)");
DEFINE_int64(trial_id, 0, "trial mode: trial id");
DEFINE_int32(attempt, 0, "trial mode: attempt number");
// Defined by the training program (mrcnn/train/train_program.cc); a trial records them.
DECLARE_int64(seed);
DECLARE_int32(threads);

namespace experiments {
namespace {

bool TrialMode() { return !FLAGS_db.empty() || !FLAGS_report.empty(); }

absl::StatusOr<std::unique_ptr<mrcnn::TrainingObserver>> OpenTrial() {
  if (!TrialMode()) return std::unique_ptr<mrcnn::TrainingObserver>();
  TrialArgs a;
  a.config_path = FLAGS_config;
  a.seed = FLAGS_seed;
  a.trial_dir = FLAGS_trial_dir;
  a.db_path = FLAGS_db;
  a.report_path = FLAGS_report;
  a.trial_id = FLAGS_trial_id;
  a.attempt = FLAGS_attempt;
  a.threads = FLAGS_threads;
  if (a.trial_dir.empty()) return absl::InvalidArgumentError("trial mode (--db or --report) needs --trial_dir");
  if (!a.db_path.empty() && !a.report_path.empty()) {
    return absl::InvalidArgumentError("trial mode takes --db or --report, not both");
  }
  absl::StatusOr<TrialLog> log = TrialLog::Open(a);
  if (!log.ok()) return log.status();
  return std::unique_ptr<mrcnn::TrainingObserver>(std::make_unique<TrialReporter>(std::move(*log)));
}

int Main(int argc, char** argv) {
  mrcnn::TrainProgramHooks hooks;
  hooks.usage_note =
      " Trial mode (experiments): --config --seed --trial_dir --db --trial_id --attempt --threads.";
  hooks.path_flags = {"trial_dir", "db"};
  hooks.model_dir = []() -> std::optional<std::string> {
    if (TrialMode()) return FLAGS_trial_dir;
    return std::nullopt;
  };
  hooks.make_observer = OpenTrial;
  return mrcnn::RunTrainProgram(argc, argv, hooks);
}

}  // namespace
}  // namespace experiments

int main(int argc, char** argv) { return mrcnn::GuardedMain("train", experiments::Main, argc, argv); }
