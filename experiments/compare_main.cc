// Compares runs in the experiment log.
//
//   bazel run //experiments:compare -- sweeps
//   bazel run //experiments:compare -- runs --sweep=NAME [--metrics=loss,segm_AP]
//   bazel run //experiments:compare -- diff TRIAL_A TRIAL_B [--all]
//   bazel run //experiments:compare -- ablate --axis=RPN_ANCHOR_STRIDE [--sweep=NAME] [--fix K=V ...]
//       [--ci [--ci_metrics=segm_AP,bbox_AP50 --resamples=1000 --ci_seed=0 --threads=2]]
//   bazel run //experiments:compare -- seeds --sweep=NAME [--metric=segm_AP]
//   bazel run //experiments:compare -- best --metric=segm_AP [--sweep=NAME] [--top=3]
//   bazel run //experiments:compare -- export --sweep=NAME --format=csv > runs.csv
//   bazel run //experiments:compare -- report --sweep=NAME [--metric=segm_AP] [--curve=loss]
//       [--resamples=1000 --ci_seed=0] > r.html
// Every command takes --format=table|csv|json, --db=FILE and --value=last|best.
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "experiments/compare.h"
#include "experiments/log.h"
#include "experiments/trial.h"
#include "experiments/report.h"
#include "gflags/gflags.h"
#include "mrcnn/config/help.h"
#include "mrcnn/config/untrusted.h"

DEFINE_string(db, "", "Experiment log; default experiments.sqlite at the workspace root.");
DEFINE_string(sweep, "", "Sweep name (runs, seeds, export, best: empty for all; ablate: comma list).");
DEFINE_string(format, "table", "table, csv or json.");
DEFINE_string(metric, "segm_AP", "Metric for ablate, seeds and best.");
DEFINE_string(metrics, "loss,bbox_AP,segm_AP,segm_AP50", "Metrics shown by runs.");
DEFINE_string(value, "last", "last (the run's final value) or best (its best value).");
DEFINE_string(axis, "", "Config key of the ablation.");
DEFINE_int32(top, 1, "Rows of best. best --sweep=S of a sweep run under a scheduler ranks its runs by "
             "the metric at the highest rung each reached (more epochs first).");
DEFINE_string(curve, "loss", "report: the metric drawn over steps.");
DEFINE_bool(all, false, "diff: show every key, not only those that differ.");
DEFINE_bool(ci, false,
            "ablate: paired bootstrap 95% intervals of each arm's difference from the reference arm "
            "(the first axis value), over the validation images and seeds, from the per-image results "
            "each run logged with its last COCO evaluation.");
DEFINE_string(ci_metrics, "segm_AP,segm_AP50,bbox_AP,bbox_AP50",
              "ablate --ci: metrics, <bbox|segm>_<AP|AP50|AP75|APs|APm|APl|AR1|AR10|AR100|ARs|ARm|ARl>.");
DEFINE_int32(resamples, 1000, "ablate --ci and report's forest plot: bootstrap replicates B.");
DEFINE_uint64(ci_seed, 0,
              "ablate --ci and report: the bootstrap's seed (the same seed gives the same intervals).");
DEFINE_int32(threads, 2, "ablate --ci and report: threads for the bootstrap.");
DEFINE_bool(ci_resample_seeds, true,
            "ablate --ci: resample the seeds as well as the images in each replicate (false: images "
            "only, each replicate averages over every seed).");

namespace {

// gflags keeps only the last of repeated flags; --fix is taken out of argv first.
std::vector<std::string> TakeRepeated(const std::string& name, int* argc, char** argv) {
  std::vector<std::string> values;
  int w = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string a = argv[i];
    const std::string eq = "--" + name + "=";
    if (a.rfind(eq, 0) == 0) {
      values.push_back(a.substr(eq.size()));
    } else if (a == "--" + name && i + 1 < *argc) {
      values.push_back(argv[++i]);
    } else {
      argv[w++] = argv[i];
    }
  }
  *argc = w;
  return values;
}

}  // namespace

namespace {
int Main(int argc, char** argv) {
  std::vector<std::string> fixes = TakeRepeated("fix", &argc, argv);
  gflags::SetUsageMessage(
      "Compares runs in the experiment log.\n"
      "Usage: compare sweeps | runs | diff A B | ablate --axis=KEY | seeds --sweep=S | best | export |\n"
      "       report --sweep=S > report.html");
  mrcnn::ParseFlags(&argc, &argv);
  if (argc < 2) {
    std::cerr << "compare: give a command: sweeps, runs, diff, ablate, seeds, best or export\n";
    return 2;
  }
  const std::string cmd = argv[1];
  const std::string path = experiments::ResolveDbPath(FLAGS_db);
  experiments::ExperimentLog::Options lo;
  lo.mode = experiments::Db::kReadOnly;
  bool slurm_running = false;
  {
    absl::StatusOr<experiments::ExperimentLog> ro = experiments::ExperimentLog::Open(path, lo);
    if (ro.ok()) {
      absl::StatusOr<experiments::SqlValue> n = ro->db().QueryValue(
          "SELECT COUNT(*) FROM trials t JOIN attempts a ON a.trial_id = t.id AND a.attempt = t.attempts "
          "WHERE t.status = 'RUNNING' AND a.launcher = 'slurm'");
      slurm_running = n.ok() && std::holds_alternative<int64_t>(*n) && std::get<int64_t>(*n) > 0;
    }
  }
  if (slurm_running) {
    // Trials of a Slurm sweep report to files that their coordinator ingests; while it is not running
    // (--no_wait, or it died), compare ingests what has arrived, when it may write the log.
    absl::StatusOr<experiments::ExperimentLog> rw = experiments::ExperimentLog::Open(path);
    if (rw.ok()) {
      std::vector<std::string> problems;
      absl::StatusOr<int64_t> added = experiments::IngestRunningReports(rw->db(), &problems);
      for (const std::string& p : problems) std::cerr << "compare: note: " << p << "\n";
      if (added.ok() && *added > 0) std::cerr << "compare: ingested " << *added << " new report line(s) of Slurm trials\n";
    }
  }
  absl::StatusOr<experiments::ExperimentLog> log = experiments::ExperimentLog::Open(path, lo);
  if (!log.ok()) {
    std::cerr << "compare: " << log.status().message() << "\n";
    return 1;
  }
  experiments::Db& db = log->db();
  absl::StatusOr<experiments::Table> t;
  if (cmd == "sweeps") {
    t = experiments::ListSweeps(db);
  } else if (cmd == "runs") {
    t = experiments::ListRuns(db, FLAGS_sweep, absl::StrSplit(FLAGS_metrics, ',', absl::SkipEmpty()),
                              FLAGS_value);
  } else if (cmd == "export") {
    t = experiments::ExportRuns(db, FLAGS_sweep);
  } else if (cmd == "diff") {
    int64_t a, b;
    if (argc != 4 || !absl::SimpleAtoi(argv[2], &a) || !absl::SimpleAtoi(argv[3], &b)) {
      std::cerr << "compare: diff takes two trial ids: compare diff A B\n";
      return 2;
    }
    t = experiments::DiffRuns(db, a, b, FLAGS_all);
  } else if (cmd == "ablate") {
    experiments::AblationOptions o;
    o.axis = FLAGS_axis;
    if (o.axis.empty()) {
      std::cerr << "compare: ablate needs --axis=CONFIG_KEY\n";
      return 2;
    }
    o.sweeps = absl::StrSplit(FLAGS_sweep, ',', absl::SkipEmpty());
    o.metric = FLAGS_metric;
    o.value = FLAGS_value;
    for (const std::string& f : fixes) {
      const size_t eq = f.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "compare: --fix '" << f << "': expected KEY=VALUE\n";
        return 2;
      }
      o.fix.emplace_back(f.substr(0, eq), f.substr(eq + 1));
    }
    if (FLAGS_ci) {
      experiments::AblationCiOptions ci;
      ci.metrics = absl::StrSplit(FLAGS_ci_metrics, ',', absl::SkipEmpty());
      ci.resamples = FLAGS_resamples;
      ci.seed = FLAGS_ci_seed;
      ci.threads = FLAGS_threads;
      ci.resample_seeds = FLAGS_ci_resample_seeds;
      t = experiments::AblationCi(db, o, ci);
    } else {
      t = experiments::Ablation(db, o);
    }
  } else if (cmd == "seeds") {
    if (FLAGS_sweep.empty()) {
      std::cerr << "compare: seeds needs --sweep=NAME\n";
      return 2;
    }
    t = experiments::SeedStats(db, FLAGS_sweep, FLAGS_metric, FLAGS_value);
  } else if (cmd == "best") {
    t = experiments::BestRuns(db, FLAGS_sweep, FLAGS_metric, FLAGS_value, FLAGS_top);
  } else if (cmd == "report") {
    if (FLAGS_sweep.empty()) {
      std::cerr << "compare: report needs --sweep=NAME\n";
      return 2;
    }
    experiments::ReportOptions ro;
    ro.metric = FLAGS_metric;
    ro.curve = FLAGS_curve;
    ro.resamples = FLAGS_resamples;
    ro.ci_seed = FLAGS_ci_seed;
    ro.threads = FLAGS_threads;
    absl::StatusOr<std::string> html = experiments::HtmlReport(db, FLAGS_sweep, ro);
    if (!html.ok()) {
      std::cerr << "compare: " << html.status().message() << "\n";
      return 1;
    }
    std::cout << *html;
    return 0;
  } else {
    std::cerr << "compare: unknown command '" << cmd
              << "' (sweeps, runs, diff, ablate, seeds, best, export, report)\n";
    return 2;
  }
  if (!t.ok()) {
    std::cerr << "compare: " << t.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<std::string> text = experiments::FormatTable(*t, FLAGS_format);
  if (!text.ok()) {
    std::cerr << "compare: " << text.status().message() << "\n";
    return 2;
  }
  std::cout << *text;
  return 0;
}
}  // namespace

int main(int argc, char** argv) { return mrcnn::GuardedMain("compare", Main, argc, argv); }
