// Runs a sweep from a spec file with a trial binary you name, records everything in the experiment
// log, and prints the runs table at the end. Unlike //experiments:sweep (the main job, with an embedded
// default spec and the built trainer as its trial binary) it has no defaults: --spec and
// --trial_binary are required, which makes it the entry point for other trial programs and tests.
//
//   bazel run //experiments:sweep_engine -- --spec=$PWD/my_sweep.json
//       --trial_binary=/path/to/trainer --workers=2 --seeds=3
#include <csignal>
#include <iostream>

#include "absl/strings/str_split.h"
#include "experiments/compare.h"
#include "experiments/coordinator.h"
#include "experiments/log.h"
#include "gflags/gflags.h"

DEFINE_string(spec, "", "Sweep spec file (JSON; see experiments/spec.h). Required.");
DEFINE_string(trial_binary, "", "The program that runs one trial (see experiments/trial.h for its "
                                "command line). Required.");
DEFINE_string(db, "", "Experiment log; default experiments.sqlite at the workspace root.");
DEFINE_string(name, "", "Sweep name; overrides the spec's \"name\".");
DEFINE_int32(seeds, 0, "Seeds per config point; overrides the spec's \"seeds\" (0: the spec's).");
DEFINE_int32(workers, 1, "Trials run at once; the cores are split evenly between them.");
DEFINE_int32(cores, 0, "Cores to use (0: all of this machine's).");
DEFINE_int32(retries, 2, "Re-runs of a FAILED trial before giving up on it.");
DEFINE_double(stale_after_s, 60, "A RUNNING trial whose coordinator sent no heartbeat for this long "
                                 "is considered lost and re-run.");
DEFINE_double(heartbeat_s, 2, "Heartbeat period.");
DEFINE_double(trial_timeout_s, 0, "Kill and fail a trial running longer than this (0: no limit).");
DEFINE_string(runs_dir, "", "Folder for trial folders (default: experiments_runs next to the log).");
DEFINE_string(progress_metric, "loss", "Metric shown on the progress lines.");
DEFINE_double(progress_interval_s, 0, "Progress refresh period (0: 0.5 s on a terminal, 10 s else).");
DEFINE_string(metrics, "loss,bbox_AP,segm_AP,segm_AP50", "Metrics in the final runs table.");

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "Runs a sweep of trials and logs them.\n"
      "Usage: sweep_engine --spec=SPEC.json --trial_binary=PATH [--workers=N] [--seeds=N] [--db=FILE]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (argc > 1) {
    std::cerr << "sweep_engine: unexpected argument '" << argv[1] << "'\n";
    return 2;
  }
  if (FLAGS_spec.empty() || FLAGS_trial_binary.empty()) {
    std::cerr << "sweep_engine: --spec and --trial_binary are required (//experiments:sweep runs "
                 "the default sweep with the built trainer)\n";
    return 2;
  }
  absl::StatusOr<experiments::SweepPlan> plan = experiments::PlanSweepFile(
      experiments::ResolveUserPath(FLAGS_spec), FLAGS_seeds > 0 ? std::optional<int>(FLAGS_seeds) : std::nullopt, FLAGS_name);
  if (!plan.ok()) {
    std::cerr << "sweep_engine: " << plan.status().message() << "\n";
    return 1;
  }
  experiments::SweepOptions o;
  o.db_path = experiments::ResolveDbPath(FLAGS_db);
  o.trial_binary = experiments::ResolveUserPath(FLAGS_trial_binary);
  o.runs_dir = experiments::ResolveUserPath(FLAGS_runs_dir);
  o.workers = FLAGS_workers;
  o.cores = FLAGS_cores;
  o.retries = FLAGS_retries;
  o.heartbeat_s = FLAGS_heartbeat_s;
  o.stale_after_s = FLAGS_stale_after_s;
  o.trial_timeout_s = FLAGS_trial_timeout_s;
  o.progress_metric = FLAGS_progress_metric;
  o.progress_interval_s = FLAGS_progress_interval_s;
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  const experiments::GitState git = experiments::ReadGitState(ws != nullptr ? ws : ".");
  o.git_commit = git.commit;
  o.git_dirty = git.dirty;
  absl::StatusOr<experiments::SweepOutcome> r = experiments::RunSweep(*plan, o);
  if (!r.ok()) {
    std::cerr << "sweep_engine: " << r.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<experiments::ExperimentLog> log =
      experiments::ExperimentLog::Open(o.db_path);
  if (log.ok()) {
    std::vector<std::string> metrics = absl::StrSplit(FLAGS_metrics, ',', absl::SkipEmpty());
    absl::StatusOr<experiments::Table> t =
        experiments::ListRuns(log->db(), plan->name, metrics, "last");
    if (t.ok()) std::cout << "\n" << experiments::FormatTable(*t, "table").value();
  }
  const experiments::SweepCounts& c = r->counts;
  std::cout << "\nsweep '" << plan->name << "': " << c.finished << " finished, " << c.failed
            << " failed, " << c.killed << " killed, " << c.running << " running elsewhere, "
            << c.queued << " queued; " << r->trials_started << " attempt(s) started in this run\n";
  if (r->interrupted) {
    std::cout << "interrupted by " << strsignal(r->signal)
              << ": running trials were marked KILLED; run the same command again to resume\n";
    return 128 + r->signal;
  }
  // Trials still running under another coordinator are that coordinator's to report.
  return c.failed == 0 && c.killed == 0 && c.queued == 0 ? 0 : 3;
}
