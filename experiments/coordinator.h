// The sweep coordinator: materialises a sweep's trial list in the experiment log, then runs its
// trials as child processes of a trial binary, `workers` at a time, with the machine's cores split
// between them, and decides each attempt's status from the child's exit status.
//
//   SweepOptions o;
//   o.db_path = ResolveDbPath(FLAGS_db);
//   o.trial_binary = "/path/to/trainer";
//   o.workers = 2;
//   absl::StatusOr<SweepOutcome> r = RunSweep(PlanSweepFile("spec.json").value(), o);
//
// Resume: running the same sweep again skips FINISHED trials and re-runs QUEUED, KILLED, lost RUNNING
// and FAILED ones (up to `retries` re-runs after failures). SIGINT/SIGTERM stop the children, mark them
// KILLED and return with `interrupted` set. Trial children get PR_SET_PDEATHSIG, so a SIGKILLed
// coordinator takes its trials with it, and the next run finds them by their stale heartbeat.
#ifndef EXPERIMENTS_COORDINATOR_H_
#define EXPERIMENTS_COORDINATOR_H_

#include <signal.h>

#include <optional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "experiments/spec.h"
#include "experiments/store.h"

namespace experiments {

struct SweepOptions {
  std::string db_path;
  std::string trial_binary;
  std::string runs_dir;  // trial folders go in runs_dir/<sweep>/trial_<id>; empty: next to the db
  int workers = 1;
  int cores = 0;  // 0: the machine's; each trial gets cores / workers threads
  // > 1: each trial is a data-parallel job of this many local ranks (the trainer's --ranks), the
  // trial's cores split as ranks x threads: cores / (workers x ranks_per_trial) threads per rank.
  int ranks_per_trial = 1;
  int retries = 2;
  double heartbeat_s = 2.0;
  double stale_after_s = 60.0;
  double trial_timeout_s = 0;     // 0: none; a trial running longer is killed and FAILED
  double kill_grace_s = 5.0;      // SIGTERM, then SIGKILL after this long
  std::string progress_metric = "loss";
  double progress_interval_s = 0;  // 0: 0.5 s on a terminal, 10 s otherwise
  std::ostream* out = nullptr;     // progress; null: std::cout
  std::string git_commit;          // provenance recorded with each attempt; empty: unknown
  std::optional<bool> git_dirty;
};

struct SweepOutcome {
  int64_t sweep_id = 0;
  SweepCounts counts;         // after the run
  int trials_started = 0;     // attempts this run started
  bool interrupted = false;   // stopped by SIGINT/SIGTERM
  int signal = 0;
};

absl::StatusOr<SweepOutcome> RunSweep(const SweepPlan& plan, const SweepOptions& options);

// Runs `binary --check_args TRAINER_ARGS` (trial.h) and fails, with what the binary said, unless it
// exits 0 within timeout_s. RunSweep calls it before the sweep is created.
absl::Status CheckTrainerArgs(const std::string& binary, const std::vector<std::string>& trainer_args,
                              double timeout_s);

// The commit checked out in `dir` and whether tracked files differ from it; empty/unset when `dir`
// is not a git work tree or git is missing.
struct GitState {
  std::string commit;
  std::optional<bool> dirty;
};
GitState ReadGitState(const std::string& dir);

// Threads per trial: cores / workers. Errors when workers exceed cores (oversubscription slows
// LibTorch 7x-40x per step) or either is < 1.
absl::StatusOr<int> ThreadsPerTrial(int cores, int workers);

// "1:05", "12:00:03": durations for progress lines.
std::string FormatDuration(double seconds);

// A running attempt's progress from the log: its total steps, last step and the last value of `metric`.
struct TrialProgress {
  std::optional<int64_t> total_steps;
  std::optional<int64_t> step;
  std::optional<double> metric;
};
absl::StatusOr<TrialProgress> ReadTrialProgress(Db& db, int64_t trial_id, int attempt, const std::string& metric);

// Shared by the launchers (local here, Slurm in slurm_launcher.h).
// The trial binary exists, is executable, and accepts the spec's trainer flags (CheckTrainerArgs).
absl::Status CheckTrialBinary(const SweepPlan& plan, const SweepOptions& options);
// The claim policy of a coordinator of this process on this host.
ClaimPolicy PolicyFor(const SweepPlan& plan, const SweepOptions& options);
std::string Hostname();
// A name made safe for a folder: letters, digits, '-' and '_' kept, anything else '_'.
std::string SafeName(const std::string& s);
// The last `lines` lines of a file (at most 2000 bytes), for error messages.
std::string TailOfFile(const std::string& path, int lines);

// SIGINT/SIGTERM handlers that record the signal, for the lifetime of the object; the old handlers are
// restored after. One at a time.
class SignalScope {
 public:
  SignalScope();
  ~SignalScope();
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;
  int Received() const;  // 0: none yet
  void Raise(int sig);   // as if `sig` had arrived

 private:
  struct sigaction old_int_, old_term_;
};

}  // namespace experiments

#endif  // EXPERIMENTS_COORDINATOR_H_
