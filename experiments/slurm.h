// Slurm, as the sweep's Slurm launcher uses it: the per-trial resources a sweep asks for, the batch
// script of one job array, and the four commands it runs (sbatch, squeue, sacct, scancel). Nothing
// here schedules: Slurm does.
//
//   SlurmSettings s = ParseSlurmSettings(spec["slurm"], "spec.json").value();
//   SlurmClient slurm;                                  // commands from PATH, 60 s timeout each
//   std::string job = slurm.Submit(script_path, s, 4, "sweep-default", folder).value();  // --array=0-3
//   std::map<std::string, std::string> states = slurm.States({job}).value();  // "123_0" -> "RUNNING"
//   slurm.Cancel({job});
#ifndef EXPERIMENTS_SLURM_H_
#define EXPERIMENTS_SLURM_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace experiments {

// What every trial's array task asks Slurm for. In a spec: "slurm": {"partition": "gpu", "time":
// "4:00:00", "cpus_per_trial": 8, "ntasks_per_trial": 2, "gpus_per_trial": 1, "mem": "32G",
// "array_parallelism": 16, "sbatch_args": ["--qos=high"]}; the sweep's flags of the same names override it.
struct SlurmSettings {
  std::string partition;          // --partition; empty: the cluster's default
  std::string account;            // --account
  std::string time;               // --time (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS)
  std::string mem;                // --mem (e.g. 4000, 16G)
  int cpus_per_trial = 1;         // CPUs of a trial, split evenly between its tasks (its threads)
  int ntasks_per_trial = 1;       // > 1: the trial trains data-parallel as that many ranks (srun)
  int gpus_per_trial = 0;         // --gpus-per-task when > 0
  int array_parallelism = 0;      // at most this many trials submitted and not ended (also %N); 0: all
  std::vector<std::string> sbatch_args;  // passed to sbatch as they are, one argument each

  nlohmann::json ToJson() const;  // only the fields that differ from the defaults
};

// Reads a spec's "slurm" object; errors name `source` and the key.
absl::StatusOr<SlurmSettings> ParseSlurmSettings(const nlohmann::json& j, const std::string& source);
// Checks the values (also those set by flags); `what` prefixes the error, e.g. "--time".
absl::Status ValidateSlurmSettings(const SlurmSettings& s, const std::string& source);

// One array task: the trial command it runs, where its output goes, and the file that receives the
// command's exit status (written by rename when the command returns; absent when the task was killed).
struct ArrayTask {
  std::vector<std::string> argv;  // argv[0]: the trial binary
  std::string log_path;           // stdout and stderr, appended
  std::string exit_path;
  int threads = 1;                // OMP_NUM_THREADS and MKL_NUM_THREADS (per rank)
  int ranks = 1;                  // > 1: started with srun as that many ranks of one data-parallel job
};
// The bash batch script of a job array whose task i runs tasks[i].
std::string BatchScript(const std::string& title, const std::vector<ArrayTask>& tasks);

// What a task's exit file says; nullopt when absent or unreadable.
std::optional<int> ReadExitFile(const std::string& path);

// The Slurm commands, run with a timeout; errors quote what the command printed.
class SlurmClient {
 public:
  // `bin_dir`: where sbatch, squeue, sacct and scancel are; empty: PATH.
  explicit SlurmClient(std::string bin_dir = "", double timeout_s = 60)
      : bin_dir_(std::move(bin_dir)), timeout_s_(timeout_s) {}

  // sbatch --parsable --array=0-(tasks-1)[%parallelism] with the settings; returns the job id.
  absl::StatusOr<std::string> Submit(const std::string& script_path, const SlurmSettings& settings, int tasks,
                                     const std::string& job_name, const std::string& chdir) const;
  // The state of every array task of these jobs that Slurm still knows ("JOB_INDEX" -> "RUNNING").
  absl::StatusOr<std::map<std::string, std::string>> States(const std::vector<std::string>& job_ids) const;
  // The same from accounting (sacct), which keeps ended jobs; an error when accounting is disabled.
  absl::StatusOr<std::map<std::string, std::string>> AccountingStates(const std::vector<std::string>& job_ids) const;
  absl::Status Cancel(const std::vector<std::string>& job_ids) const;

 private:
  struct Output {
    int exit_code = -1;
    std::string out, err;
  };
  absl::StatusOr<Output> Run(const std::string& command, const std::vector<std::string>& args) const;

  std::string bin_dir_;
  double timeout_s_;
};

// How the launcher reads a Slurm job state (squeue's %T, sacct's State).
enum class SlurmOutcome {
  kInFlight,   // PENDING, RUNNING, COMPLETING, ...: wait
  kCompleted,  // COMPLETED: FINISHED with a result, else FAILED
  kFailed,     // FAILED, NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL: FAILED, retried
  kKilled,     // TIMEOUT, PREEMPTED, CANCELLED, DEADLINE: KILLED, retried
};
SlurmOutcome ClassifySlurmState(const std::string& state);

}  // namespace experiments

#endif  // EXPERIMENTS_SLURM_H_
