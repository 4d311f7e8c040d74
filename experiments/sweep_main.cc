// The product's main job: `bazel run //experiments:sweep`. With no flags it runs the embedded default
// sweep (synthetic shapes, the shapes preset, RPN_ANCHOR_STRIDE {1, 2} x USE_MINI_MASK {false, true})
// through the built trainer (//experiments:train, //mrcnn:train's program reporting as a trial, found
// in this binary's runfiles), logs everything in the experiment log and prints the comparison table.
// Running it again trains nothing and prints the same table.
//
//   bazel run //experiments:sweep
//   bazel run //experiments:sweep -- --spec=my_sweep.json --seeds=3 --workers=2 --db=/tmp/x.sqlite
//   bazel run //experiments:sweep -- --name=mine --format=coco --dataset_dir=/data/signs
//   bazel run //experiments:sweep -- --launcher=slurm --partition=gpu --time=4:00:00 --runs_dir=/shared/runs
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "experiments/compare.h"
#include "experiments/coordinator.h"
#include "experiments/log.h"
#include "experiments/slurm_launcher.h"
#include "gflags/gflags.h"
#include "mrcnn/config/help.h"
#include "mrcnn/config/untrusted.h"
#include "nlohmann/json.hpp"

DEFINE_string(spec, "", "Sweep spec file (JSON; see experiments/spec.h); default: the embedded default "
                        "sweep (--print_default_spec shows it).");
DEFINE_bool(print_default_spec, false, "Print the embedded default spec and exit.");
DEFINE_string(trial_binary, "", "The program that runs one trial; default: the trainer //experiments:train "
                                "from this binary's runfiles.");
DEFINE_string(db, "", "Experiment log; default experiments.sqlite at the workspace root.");
DEFINE_string(name, "", "Sweep name; overrides the spec's \"name\".");
DEFINE_int32(seeds, 0, "Seeds per config point; overrides the spec's \"seeds\" (0: the spec's).");
DEFINE_int32(workers, 0, "Trials run at once; the cores are split evenly between them (0: one per core, "
                         "at most one per trial).");
DEFINE_int32(cores, 0, "Cores to use (0: all of this machine's).");
DEFINE_int32(ranks_per_trial, 1, "Data-parallel trials: each trial trains as this many local ranks (the "
             "trainer's --ranks), the cores split as workers x ranks x threads");
DEFINE_string(dataset_dir, "", "Your dataset folder, passed to every trial (trainer --dataset_dir); "
                               "recorded in the spec.");
DEFINE_string(format, "", "Dataset format passed to every trial (trainer --format: shapes | tutorial | "
                          "coco | labelme); recorded in the spec.");
DEFINE_int32(retries, 2, "Re-runs of a FAILED trial before giving up on it.");
DEFINE_double(stale_after_s, 60, "A RUNNING trial whose coordinator sent no heartbeat for this long "
                                 "is considered lost and re-run.");
DEFINE_double(heartbeat_s, 2, "Heartbeat period.");
DEFINE_double(trial_timeout_s, 0, "Kill and fail a trial running longer than this (0: no limit).");
DEFINE_string(runs_dir, "", "Folder for trial folders (default: experiments_runs next to the log). With "
                            "--launcher=slurm it must be on a filesystem every node shares (trials write their "
                            "reports and checkpoints there), while the log stays on this host's local disk.");
DEFINE_string(launcher, "local", "local: trials are child processes on this machine. slurm: trials are Slurm "
                                 "job arrays submitted with sbatch from this host (experiments/slurm_launcher.h); "
                                 "this process stays the only one that opens the log.");
DEFINE_string(partition, "", "Slurm: --partition of every trial (default: the spec's \"slurm\", else the "
                             "cluster's default).");
DEFINE_string(account, "", "Slurm: --account of every trial.");
DEFINE_string(time, "", "Slurm: time limit of every trial (e.g. 4:00:00); a trial that reaches it is KILLED "
                        "and retried from its last checkpoint.");
DEFINE_int32(cpus_per_trial, 0, "Slurm: CPUs of every trial, also its threads (0: the spec's, else 1); with "
                                "--ntasks_per_trial, split evenly between the ranks.");
DEFINE_int32(ntasks_per_trial, 0, "Slurm: train every trial data-parallel as this many ranks, started with srun "
                                  "inside its task (0: the spec's, else 1); see train --ranks.");
DEFINE_int32(gpus_per_trial, -1, "Slurm: GPUs of every trial (-1: the spec's, else 0).");
DEFINE_string(mem, "", "Slurm: memory of every trial (sbatch --mem, e.g. 16G).");
DEFINE_int32(array_parallelism, -1, "Slurm: at most this many trials submitted and not ended at once, also "
                                    "the arrays' %N limit (-1: the spec's, else no limit).");
DEFINE_string(sbatch_arg, "", "Slurm: one more sbatch option for every trial, e.g. --sbatch_arg=--qos=high; "
                              "repeat the flag for several.");
DEFINE_bool(no_wait, false, "Slurm: submit the trials and return; any later run of the same sweep (or "
                            "`compare`) ingests what they reported.");
DEFINE_double(slurm_poll_s, 2, "Slurm: squeue period in seconds.");
DEFINE_string(slurm_bin_dir, "", "Slurm: folder of sbatch, squeue, sacct and scancel (default: PATH).");
DEFINE_string(progress_metric, "loss", "Metric shown on the progress lines.");
DEFINE_double(progress_interval_s, 0, "Progress refresh period (0: 0.5 s on a terminal, 10 s else).");
DEFINE_bool(ci, true,
            "After the table of a grid sweep: for each swept key, each value against the first with "
            "paired bootstrap 95% intervals of segm/bbox AP and AP50 (B = 1000, seed 0; as "
            "`compare ablate --ci`), the other swept keys held fixed.");
DEFINE_string(metrics, "segm_AP50,segm_AP,bbox_AP50,bbox_AP,loss,train_seconds",
              "Metrics in the final table (last values). A sweep with a \"scheduler\" ranks its table "
              "by the scheduler's metric at the highest rung each trial reached.");

namespace experiments {
namespace {

// The default sweep. Budgets: 4 trials on 2 cores run as 2 workers x 1 thread, two trials at a time,
// each 600 steps (about 3.5 minutes with its evaluations); see README "Experiments" for the measured
// time and accuracy.
constexpr char kDefaultSpec[] = R"({
  "name": "default",
  "description": "anchor stride x mini mask on synthetic shapes",
  "preset": "shapes",
  "base": {"STEPS_PER_EPOCH": 100, "VALIDATION_STEPS": 2},
  "params": {"RPN_ANCHOR_STRIDE": [1, 2], "USE_MINI_MASK": [false, true]},
  "seeds": 1,
  "seed": 0,
  "trainer": {"format": "shapes", "shapes_train": 400, "shapes_val": 50, "layers": "all",
              "epochs": 6, "workers": 1, "log_every": 5}
})";

bool IsExecutable(const std::string& path) {
  std::error_code ec;
  return !path.empty() && std::filesystem::is_regular_file(path, ec) && access(path.c_str(), X_OK) == 0;
}

// The trainer in this binary's runfiles: $RUNFILES_DIR (set under `bazel run`/`bazel test` and passed
// on to children), then <argv0>.runfiles and /proc/self/exe's .runfiles (a binary started directly
// from bazel-bin), then the bazel-bin tree beside this binary.
absl::StatusOr<std::string> FindTrainer(const char* argv0) {
  namespace fs = std::filesystem;
  const std::string rel = "mrcnn_workbench/experiments/train";
  std::vector<std::string> tried;
  std::vector<fs::path> roots;
  for (const char* env : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    const char* v = std::getenv(env);
    if (v != nullptr && *v != '\0') roots.emplace_back(v);
  }
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> exes;
  if (argv0 != nullptr && *argv0 != '\0') exes.push_back(fs::absolute(argv0, ec));
  if (!self.empty()) exes.push_back(self);
  for (const fs::path& exe : exes) roots.push_back(fs::path(exe.string() + ".runfiles"));
  for (const fs::path& root : roots) {
    const std::string p = (root / rel).string();
    if (IsExecutable(p)) return p;
    tried.push_back(p);
  }
  // bazel-bin/experiments/sweep -> bazel-bin/experiments/train
  for (const fs::path& exe : exes) {
    const std::string p = (exe.parent_path() / "train").string();
    if (IsExecutable(p)) return p;
    tried.push_back(p);
  }
  return absl::NotFoundError(absl::StrCat(
      "cannot find the trainer (//experiments:train) in this binary's runfiles; tried ",
      absl::StrJoin(tried, ", "), ". Run through `bazel run //experiments:sweep` or pass --trial_binary"));
}

int Main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "Runs a sweep of training trials, logs them in the experiment log and prints the comparison.\n"
      "Usage: sweep [--spec=SPEC.json] [--seeds=N] [--workers=N] [--db=FILE] "
      "[--format=F --dataset_dir=DIR] [--trial_binary=PATH]\n"
      "       sweep --launcher=slurm --runs_dir=SHARED_DIR [--partition=P --time=T --cpus_per_trial=N ...]\n"
      "With no flags: the default sweep (anchor stride x mini mask on synthetic shapes).");
  // --sbatch_arg may be repeated; gflags keeps only the last value, so they are collected first.
  std::vector<std::string> sbatch_args;
  {
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a.rfind("--sbatch_arg=", 0) == 0 || a.rfind("-sbatch_arg=", 0) == 0) {
        sbatch_args.push_back(a.substr(a.find('=') + 1));
      } else if ((a == "--sbatch_arg" || a == "-sbatch_arg") && i + 1 < argc) {
        sbatch_args.push_back(argv[++i]);
      } else {
        argv[kept++] = argv[i];
      }
    }
    argc = kept;
  }
  mrcnn::ParseFlags(&argc, &argv);
  if (argc > 1) {
    std::cerr << "sweep: unexpected argument '" << argv[1] << "'\n";
    return 2;
  }
  if (FLAGS_print_default_spec) {
    std::cout << kDefaultSpec << "\n";
    return 0;
  }
  // The spec, with --format/--dataset_dir folded into its "trainer" flags so they are stored with it.
  nlohmann::json spec;
  std::string source = "the default sweep spec";
  if (FLAGS_spec.empty()) {
    spec = nlohmann::json::parse(kDefaultSpec);
  } else {
    source = ResolveUserPath(FLAGS_spec);
    std::ifstream in(source);
    if (!in) {
      std::cerr << "sweep: " << source << ": cannot open sweep spec\n";
      return 1;
    }
    spec = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (spec.is_discarded()) {
      std::cerr << "sweep: " << source << ": not valid JSON\n";
      return 1;
    }
  }
  // Flags stored in the spec's JSON must be UTF-8. Paths are bytes on Linux, but the log cannot hold a
  // path it cannot write as JSON text.
  for (const auto& [flag, value] : {std::pair<const char*, const std::string*>{"--dataset_dir", &FLAGS_dataset_dir},
                                    {"--format", &FLAGS_format},
                                    {"--name", &FLAGS_name}}) {
    absl::Status s = mrcnn::CheckUtf8(*value, flag);
    if (!s.ok()) {
      std::cerr << "sweep: " << s.message()
                << "; the sweep stores it in the experiment log as JSON text, which must be UTF-8"
                << (std::string(flag) == "--dataset_dir" ? " (rename the folder, or pass a symbolic link with a UTF-8 name)" : "")
                << "\n";
      return 1;
    }
  }
  if (!FLAGS_format.empty() || !FLAGS_dataset_dir.empty()) {
    if (!spec.is_object()) {
      std::cerr << "sweep: " << source << ": a sweep spec must be a JSON object\n";
      return 1;
    }
    if (spec.contains("trainer") && !spec["trainer"].is_object()) {
      std::cerr << "sweep: " << source << ": \"trainer\" must be an object of FLAG: value\n";
      return 1;
    }
    if (!FLAGS_format.empty()) spec["trainer"]["format"] = FLAGS_format;
    if (!FLAGS_dataset_dir.empty()) {
      spec["trainer"]["dataset_dir"] =
          std::filesystem::absolute(ResolveUserPath(FLAGS_dataset_dir)).lexically_normal().string();
    }
  }
  absl::StatusOr<SweepPlan> plan = PlanSweep(
      spec, source, FLAGS_seeds > 0 ? std::optional<int>(FLAGS_seeds) : std::nullopt, FLAGS_name);
  if (!plan.ok()) {
    std::cerr << "sweep: " << plan.status().message() << "\n";
    return 1;
  }

  SweepOptions o;
  o.db_path = ResolveDbPath(FLAGS_db);
  if (FLAGS_trial_binary.empty()) {
    absl::StatusOr<std::string> trainer = FindTrainer(argc > 0 ? argv[0] : nullptr);
    if (!trainer.ok()) {
      std::cerr << "sweep: " << trainer.status().message() << "\n";
      return 1;
    }
    o.trial_binary = *trainer;
  } else {
    o.trial_binary = ResolveUserPath(FLAGS_trial_binary);
  }
  o.cores = FLAGS_cores > 0 ? FLAGS_cores
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  o.ranks_per_trial = FLAGS_ranks_per_trial;
  // Default workers: one per core (per ranks_per_trial cores for data-parallel trials), but no more than
  // there are trials, so that every core trains.
  o.workers = FLAGS_workers > 0 ? FLAGS_workers
                                : std::max(1, std::min(o.cores / std::max(1, FLAGS_ranks_per_trial),
                                                       static_cast<int>(plan->trials.size())));
  o.runs_dir = ResolveUserPath(FLAGS_runs_dir);
  o.retries = FLAGS_retries;
  o.heartbeat_s = FLAGS_heartbeat_s;
  o.stale_after_s = FLAGS_stale_after_s;
  o.trial_timeout_s = FLAGS_trial_timeout_s;
  o.progress_metric = FLAGS_progress_metric;
  o.progress_interval_s = FLAGS_progress_interval_s;
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  const GitState git = ReadGitState(ws != nullptr ? ws : ".");
  o.git_commit = git.commit;
  o.git_dirty = git.dirty;

  if (FLAGS_launcher != "local" && FLAGS_launcher != "slurm") {
    std::cerr << "sweep: --launcher=" << FLAGS_launcher << ": expected local or slurm\n";
    return 1;
  }
  absl::StatusOr<SweepOutcome> r;
  if (FLAGS_launcher == "slurm") {
    SlurmLaunch launch;
    launch.settings = plan->slurm;  // the spec's, with the flags on top
    SlurmSettings& st = launch.settings;
    if (!FLAGS_partition.empty()) st.partition = FLAGS_partition;
    if (!FLAGS_account.empty()) st.account = FLAGS_account;
    if (!FLAGS_time.empty()) st.time = FLAGS_time;
    if (!FLAGS_mem.empty()) st.mem = FLAGS_mem;
    if (FLAGS_cpus_per_trial != 0) st.cpus_per_trial = FLAGS_cpus_per_trial;
    if (FLAGS_ntasks_per_trial != 0) st.ntasks_per_trial = FLAGS_ntasks_per_trial;
    if (FLAGS_gpus_per_trial != -1) st.gpus_per_trial = FLAGS_gpus_per_trial;
    if (FLAGS_array_parallelism != -1) st.array_parallelism = FLAGS_array_parallelism;
    st.sbatch_args.insert(st.sbatch_args.end(), sbatch_args.begin(), sbatch_args.end());
    if (FLAGS_ranks_per_trial != 1) {
      std::cerr << "sweep: --ranks_per_trial is the local launcher's; under Slurm use --ntasks_per_trial (srun "
                   "starts the ranks)\n";
      return 1;
    }
    absl::Status valid = ValidateSlurmSettings(st, "flags and spec");
    if (!valid.ok()) {
      std::cerr << "sweep: " << valid.message() << "\n";
      return 1;
    }
    if (FLAGS_slurm_poll_s <= 0) {
      std::cerr << "sweep: --slurm_poll_s must be > 0\n";
      return 1;
    }
    launch.no_wait = FLAGS_no_wait;
    launch.poll_s = FLAGS_slurm_poll_s;
    launch.bin_dir = ResolveUserPath(FLAGS_slurm_bin_dir);
    r = RunSlurmSweep(*plan, o, launch);
  } else {
    if (FLAGS_no_wait || !sbatch_args.empty()) {
      std::cerr << "sweep: --no_wait and --sbatch_arg need --launcher=slurm\n";
      return 1;
    }
    r = RunSweep(*plan, o);
  }
  if (!r.ok()) {
    std::cerr << "sweep: " << r.status().message() << "\n";
    return 1;
  }
  // The comparison table: every trial of the sweep with its swept values and last metrics.
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(o.db_path);
  if (!log.ok()) {
    std::cerr << "sweep: " << log.status().message() << "\n";
    return 1;
  }
  const std::vector<std::string> metrics = absl::StrSplit(FLAGS_metrics, ',', absl::SkipEmpty());
  // Under a scheduler the trials stopped at different rungs: the table ranks them by the scheduler's
  // metric at the highest rung each reached, and says what the search spent.
  absl::StatusOr<Table> t =
      plan->scheduler && r->counts.total() > r->counts.queued
          ? RungRanking(log->db(), plan->name, plan->scheduler->metric, metrics, 0)
          : ListRuns(log->db(), plan->name, metrics, "last");
  if (!t.ok()) {
    std::cerr << "sweep: " << t.status().message() << "\n";
    return 1;
  }
  std::cout << "\n" << FormatTable(*t, "table").value();
  // A grid varies discrete keys: each arm against the first value, with bootstrap intervals over the
  // validation images and seeds, from the per-image results the trials logged.
  const bool random_search = plan->spec.value("search", "grid") == "random";
  if (FLAGS_ci && !plan->scheduler && !random_search && !plan->swept_keys.empty()) {
    AblationCiOptions ci;
    ci.threads = o.cores;
    absl::StatusOr<std::vector<SweepCi>> tables =
        SweepCiTables(log->db(), plan->name, plan->swept_keys, ci);
    if (!tables.ok()) {
      std::cout << "\nno intervals: " << tables.status().message() << "\n";
    } else {
      for (const SweepCi& ct : *tables) {
        std::cout << "\n" << ct.title << ": paired bootstrap against the first value\n";
        if (ct.table.ok()) {
          std::cout << FormatTable(*ct.table, "table").value();
        } else {
          std::cout << "  no intervals: " << ct.table.status().message() << "\n";
        }
      }
    }
  }
  const SweepCounts& c = r->counts;
  std::cout << "\nsweep '" << plan->name << "': " << c.finished << " finished, " << c.failed
            << " failed, " << c.killed << " killed, "
            << (plan->scheduler ? absl::StrCat(c.pruned, " pruned, ", c.paused, " paused, ") : "")
            << c.running << (FLAGS_no_wait ? " running or queued on Slurm, " : " running elsewhere, ") << c.queued
            << " queued; " << r->trials_started
            << " attempt(s) started in this run\n"
            << "log: " << o.db_path << "\n";
  if (r->interrupted) {
    std::cout << "interrupted by " << strsignal(r->signal)
              << ": running trials were marked KILLED; run the same command again to resume\n";
    return 128 + r->signal;
  }
  if (FLAGS_no_wait) return c.failed == 0 ? 0 : 3;
  // Trials still running under another coordinator are that coordinator's to report.
  return c.failed == 0 && c.killed == 0 && c.queued == 0 && c.paused == 0 ? 0 : 3;
}

}  // namespace
}  // namespace experiments

int main(int argc, char** argv) { return mrcnn::GuardedMain("sweep", experiments::Main, argc, argv); }
