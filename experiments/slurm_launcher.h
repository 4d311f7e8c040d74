// The Slurm launcher: runs a sweep's trials as Slurm job arrays, with this process as the only one that
// opens the experiment log.
//
//   SlurmLaunch launch;
//   launch.settings = ParseSlurmSettings(plan.slurm, "spec.json").value();
//   absl::StatusOr<SweepOutcome> r = RunSlurmSweep(plan, options, launch);
//
// The coordinator claims trials (store.h), writes each one's config into its trial folder under the
// runs folder (which the nodes must see: a shared filesystem), copies the trial binary there, and
// submits one job array per batch of claims (sbatch), recording the job and array index of every
// attempt. A trial writes nothing to the log: it appends its records to a JSON-lines report in its
// folder and writes a result file at the end (trial.h). The coordinator follows the jobs with squeue
// (sacct when accounting is on) and ingests the reports by offset, so progress, tables, compare and the
// report work as with the local launcher. Slurm states map to the log's: COMPLETED with a result ->
// FINISHED (or a rung result under a scheduler); COMPLETED without one, FAILED, NODE_FAIL,
// OUT_OF_MEMORY -> FAILED (retried up to `retries`); TIMEOUT, PREEMPTED, CANCELLED -> KILLED (retried).
// Every retry continues from the trial's newest checkpoint. SIGINT/SIGTERM cancel the arrays (scancel)
// and mark their trials KILLED.
//
// Started again after its coordinator died, the same sweep re-attaches to its attempts still queued or
// running, ingests those that ended and resubmits those lost. With `no_wait` it submits what it can
// and returns; any later run of the sweep ingests what arrived.
#ifndef EXPERIMENTS_SLURM_LAUNCHER_H_
#define EXPERIMENTS_SLURM_LAUNCHER_H_

#include <string>

#include "absl/status/statusor.h"
#include "experiments/coordinator.h"
#include "experiments/slurm.h"
#include "experiments/spec.h"

namespace experiments {

struct SlurmLaunch {
  SlurmSettings settings;
  std::string bin_dir;        // where sbatch & co. are; empty: PATH
  bool no_wait = false;       // submit, then return without following the jobs
  double poll_s = 2.0;        // squeue period
  double cancel_wait_s = 60;  // after scancel, how long to wait for the tasks to leave the queue
  double command_timeout_s = 60;
};

absl::StatusOr<SweepOutcome> RunSlurmSweep(const SweepPlan& plan, const SweepOptions& options,
                                           const SlurmLaunch& launch);

}  // namespace experiments

#endif  // EXPERIMENTS_SLURM_LAUNCHER_H_
