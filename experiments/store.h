// The coordinator's side of the experiment log: creating a sweep with its whole trial list, claiming
// trials atomically, heartbeats, and recording how each attempt ended.
//
//   int64_t sweep = MaterializeSweep(log.db(), plan).value();      // idempotent for the same spec
//   while (auto claim = ClaimNext(log.db(), sweep, policy).value()) {
//     ... run the trial, Heartbeat(...) while it runs ...
//     FinishAttempt(log.db(), claim->trial_id, claim->attempt, kFinished, 0, "");
//   }
//
// A claim is one BEGIN IMMEDIATE transaction that first marks lost RUNNING trials KILLED (heartbeat
// older than the grace period, or a coordinator on this host that no longer exists) and then moves
// the first eligible trial to RUNNING: QUEUED, KILLED, or FAILED with failures <= retries. With a
// scheduler, the same transaction first prunes the trials of closed rungs, then picks: a promoted or
// interrupted trial that continues from its checkpoint (highest rung first), else the trial that the
// scheduler promotes now, else a new or retried trial at its first rung (scheduler.h).
#ifndef EXPERIMENTS_STORE_H_
#define EXPERIMENTS_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "experiments/scheduler.h"
#include "experiments/sqlite.h"
#include "experiments/spec.h"

namespace experiments {

// Creates the sweep and all its trials (with their params) in one transaction. When a sweep of that
// name exists with the same spec, returns its id and adds nothing; with a different spec, an error.
absl::StatusOr<int64_t> MaterializeSweep(Db& db, const SweepPlan& plan);

struct ClaimPolicy {
  // Set for a sweep with a "scheduler": claims promote, resume and prune trials (scheduler.h).
  std::optional<SchedulerSpec> scheduler;
  std::string host;
  int64_t coordinator_pid = 0;
  int retries = 2;               // a FAILED trial is re-run while failures <= retries
  double stale_after_s = 60.0;   // a RUNNING trial without heartbeat for this long is lost
  std::string git_commit;        // empty: unknown
  std::optional<bool> git_dirty;
  std::string launcher = "local";  // recorded with each attempt
  // Without a scheduler too, an attempt after the first continues from the newest checkpoint of the
  // attempts before it (the Slurm launcher: preempted and failed jobs never start over).
  bool resume_retries = false;
};

struct Claim {
  int64_t trial_id = 0;
  int attempt = 0;
  int64_t seed = 0;
  int64_t ordinal = 0;
  std::string config_json;
  std::string point;  // "KEY=value KEY=value" of the swept keys
  // Scheduler only: the rung this attempt trains to and its epoch (the trial stops there), and the
  // checkpoint it continues from (empty: a fresh start) with that checkpoint's step.
  int target_rung = 0;
  int stop_at_epoch = 0;
  std::string resume_path;
  int64_t resume_step = 0;
};

// `events` (optional) receives what the claim decided on the way (promotions, prunes), a line each.
absl::StatusOr<std::optional<Claim>> ClaimNext(Db& db, int64_t sweep_id, const ClaimPolicy& policy,
                                               std::vector<std::string>* events = nullptr);

// Marks lost RUNNING trials of the sweep KILLED; returns how many. ClaimNext calls it.
absl::StatusOr<int> ReapLost(Db& db, int64_t sweep_id, const ClaimPolicy& policy);

absl::Status SetTrialProcess(Db& db, int64_t trial_id, int attempt, int64_t pid,
                             const std::string& trial_dir);
absl::Status Heartbeat(Db& db, const std::vector<std::pair<int64_t, int>>& trial_attempts);

// Slurm launcher: the job array and task that run an attempt, and where its report goes.
absl::Status SetSlurmJob(Db& db, int64_t trial_id, int attempt, const std::string& job_id, int array_index,
                         const std::string& report_path, const std::string& trial_dir);

// A RUNNING attempt of a Slurm job array, as the log records it.
struct SlurmAttempt {
  int64_t trial_id = 0;
  int attempt = 0;
  int64_t seed = 0;
  std::string trial_dir, job_id, report_path;
  int array_index = 0;
  std::string point;  // "KEY=value ..." of the swept keys
};
// Slurm launcher, on start: takes over the sweep's RUNNING Slurm attempts (this coordinator's host,
// pid and a fresh heartbeat, so that no claim reaps them) and returns them to be followed. Attempts
// claimed but never submitted become KILLED (said in `events`).
absl::StatusOr<std::vector<SlurmAttempt>> AdoptSlurmAttempts(Db& db, int64_t sweep_id, const ClaimPolicy& policy,
                                                             std::vector<std::string>* events);

// Records the end of an attempt decided by the coordinator. FAILED adds one to the trial's failures.
absl::Status FinishAttempt(Db& db, int64_t trial_id, int attempt, const std::string& status,
                           std::optional<int> exit_code, const std::string& error);

// Scheduler only: records how a trial's attempt that exited 0 ended. Reads the scheduler's metric at
// the epoch of the rung the attempt trained to (from the attempt and the attempts it continues);
// without it the attempt is FAILED. Otherwise the result is stored and the trial becomes FINISHED
// (last rung), PAUSED (asha, hyperband: waiting for a decision), or at once promoted or PRUNED
// (median). Returns the trial's new status; `event` describes it.
absl::StatusOr<std::string> FinishRung(Db& db, int64_t trial_id, int attempt,
                                       const SchedulerSpec& scheduler, std::string* event);

// The value of `key` at `epoch` (the last one logged in that epoch) in the curve of the trial's
// `attempt`: its own rows and those of the attempts it continues, up to where it took over.
absl::StatusOr<std::optional<double>> CurveValueAtEpoch(Db& db, int64_t trial_id, int attempt,
                                                       const std::string& key, int64_t epoch);

// (step, value) of `key` along the curve of the trial's `attempt` (see CurveValueAtEpoch), by step.
absl::StatusOr<std::vector<std::pair<int64_t, double>>> Curve(Db& db, int64_t trial_id, int attempt,
                                                              const std::string& key);

struct SweepCounts {
  int queued = 0, running = 0, finished = 0, failed = 0, killed = 0, paused = 0, pruned = 0;
  int total() const { return queued + running + finished + failed + killed + paused + pruned; }
};
absl::StatusOr<SweepCounts> CountTrials(Db& db, int64_t sweep_id);

}  // namespace experiments

#endif  // EXPERIMENTS_STORE_H_
