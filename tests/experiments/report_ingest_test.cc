// Tests of the trial report (TrialLog with --report), its ingestion into the log (IngestReport), and
// the pieces of the Slurm launcher that need no cluster: settings, the batch script (run here by bash
// as Slurm would run it), state classification, and the client's errors with a missing or refusing
// sbatch (fake commands in a scratch folder).
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "experiments/log.h"
#include "experiments/slurm.h"
#include "experiments/spec.h"
#include "experiments/store.h"
#include "experiments/trial.h"
#include "gtest/gtest.h"
#include "tests/experiments/test_util.h"

namespace experiments {
namespace {

using experiments_test::NewTempDir;
using experiments_test::QueryText;

class ReportTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("report");
    absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(dir_ + "/log.sqlite");
    ASSERT_TRUE(log.ok()) << log.status();
    log_.emplace(std::move(*log));
    nlohmann::json spec = {{"name", "r"}, {"params", {{"RPN_ANCHOR_STRIDE", {1, 2}}}}};
    absl::StatusOr<SweepPlan> plan = PlanSweep(spec, "test spec");
    ASSERT_TRUE(plan.ok()) << plan.status();
    absl::StatusOr<int64_t> sweep = MaterializeSweep(db(), *plan);
    ASSERT_TRUE(sweep.ok()) << sweep.status();
    sweep_ = *sweep;
  }
  Db& db() { return log_->db(); }
  Claim ClaimOne() {
    ClaimPolicy p;
    p.host = "test";
    p.coordinator_pid = getpid();
    p.stale_after_s = 1e9;
    absl::StatusOr<std::optional<Claim>> c = ClaimNext(db(), sweep_, p);
    EXPECT_TRUE(c.ok() && c->has_value());
    return c.ok() && c->has_value() ? **c : Claim();
  }
  // The same calls a trainer makes, through `log`.
  static void Write(TrialLog& log) {
    ASSERT_TRUE(log.SetTotalSteps(10).ok());
    ASSERT_TRUE(log.SetBuild({"opt", "1.13", "none"}).ok());
    ASSERT_TRUE(log.SetDataset("shapes", "abc").ok());
    ASSERT_TRUE(log.LogMetrics(0, 1, {{"loss", 2.5, ""}, {"learning_rate", 0.1 / 3, "max"}}).ok());
    ASSERT_TRUE(log.LogMetric("loss", 1, 1, std::nan("")).ok());
    ASSERT_TRUE(log.LogMetric("odd", 2, std::nullopt, -HUGE_VAL, "min").ok());
    CocoResult coco;
    coco.segm.emplace();
    coco.bbox.emplace();
    for (int i = 0; i < 12; ++i) {
      coco.segm->stats[i] = 0.1 * i + 1.0 / 7;
      coco.bbox->stats[i] = -1;
    }
    coco.segm->per_class = {{1, "square", 0.25}, {2, "tri\"angle", 0.5}};
    ASSERT_TRUE(log.LogCoco(9, 1, coco).ok());
    ASSERT_TRUE(log.LogCheckpoint(9, "last", "/x/ckpt.pt").ok());
  }
  // Everything the log holds of a trial's attempt, wall times left out (they differ between runs).
  std::string Rows(int64_t trial) {
    const std::vector<SqlValue> p = {trial};
    return QueryText(db(), "SELECT key, step, epoch, quote(value) FROM metrics WHERE trial_id = ? ORDER BY rowid", p) +
           QueryText(db(), "SELECT key, n, last_step, quote(last_value), quote(best_value), goal "
                           "FROM metric_summary WHERE trial_id = ? ORDER BY key", p) +
           QueryText(db(), "SELECT step, epoch, split, quote(segm_AP), quote(bbox_AP50), quote(segm_ARl) "
                           "FROM coco_results WHERE trial_id = ?", p) +
           QueryText(db(), "SELECT iou_type, class_id, class_name, ap FROM coco_class_ap c JOIN coco_results r "
                           "ON r.id = c.coco_id WHERE r.trial_id = ? ORDER BY c.rowid", p) +
           QueryText(db(), "SELECT step, tag, path FROM checkpoints WHERE trial_id = ?", p) +
           QueryText(db(), "SELECT total_steps, compilation_mode, libtorch_version, cuda_version, dataset_name, "
                           "dataset_hash FROM trials WHERE id = ?", p);
  }
  std::string dir_;
  std::optional<ExperimentLog> log_;
  int64_t sweep_ = 0;
};

TEST_F(ReportTest, AReportIngestedGivesTheRowsThatDirectLoggingGives) {
  const Claim direct = ClaimOne(), reported = ClaimOne();
  absl::StatusOr<TrialLog> a = TrialLog::Open(dir_ + "/log.sqlite", direct.trial_id, direct.attempt);
  ASSERT_TRUE(a.ok()) << a.status();
  Write(*a);
  const std::string report = dir_ + "/t2.report.jsonl";
  absl::StatusOr<TrialLog> b = TrialLog::OpenReport(report, reported.trial_id, reported.attempt);
  ASSERT_TRUE(b.ok()) << b.status();
  Write(*b);
  // Nothing reaches the log before ingestion.
  EXPECT_EQ(QueryText(db(), "SELECT COUNT(*) FROM metrics WHERE trial_id = ?", {reported.trial_id}), "0;");
  absl::StatusOr<IngestResult> r = IngestReport(db(), reported.trial_id, reported.attempt, report);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->new_lines, 8);
  EXPECT_FALSE(r->partial_tail);
  EXPECT_EQ(r->offset, static_cast<int64_t>(std::filesystem::file_size(report)));
  const std::string rows = Rows(direct.trial_id);
  EXPECT_NE(rows.find("loss|1|1|NULL"), std::string::npos) << rows;  // NaN, as SQLite stores it
  EXPECT_EQ(Rows(reported.trial_id), rows);
  // Twice: nothing added.
  r = IngestReport(db(), reported.trial_id, reported.attempt, report);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->new_lines, 0);
  EXPECT_EQ(Rows(reported.trial_id), rows);
  // The result file names the report's size and lines.
  EXPECT_FALSE(ReadResult(report, reported.trial_id, reported.attempt)->has_value());
  ASSERT_TRUE(b->Finish().ok());
  absl::StatusOr<std::optional<ReportResult>> result = ReadResult(report, reported.trial_id, reported.attempt);
  ASSERT_TRUE(result.ok() && result->has_value()) << result.status();
  EXPECT_EQ((**result).report_bytes, r->offset);
  EXPECT_EQ((**result).report_lines, 8);
  EXPECT_EQ(ReadResult(report, reported.trial_id, reported.attempt + 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ReportTest, ALineCutMidwayWaitsForItsNewlineAndIsNeverDuplicated) {
  const Claim c = ClaimOne();
  const std::string report = dir_ + "/cut.report.jsonl";
  {
    absl::StatusOr<TrialLog> t = TrialLog::OpenReport(report, c.trial_id, c.attempt);
    ASSERT_TRUE(t.ok());
    for (int step = 0; step < 3; ++step) ASSERT_TRUE(t->LogMetric("loss", step, 0, 1.0 + step).ok());
  }
  // The trial is killed while writing its fourth line: half a line, no newline.
  const std::string fourth = nlohmann::json({{"type", "metrics"}, {"step", 3}, {"epoch", 0}, {"time", 1.0},
                                             {"points", {{"loss", 4.0, ""}}}, {"trial_id", c.trial_id},
                                             {"attempt", c.attempt}}).dump();
  std::ofstream(report, std::ios::app) << fourth.substr(0, 20);
  absl::StatusOr<IngestResult> r = IngestReport(db(), c.trial_id, c.attempt, report);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->new_lines, 3);
  EXPECT_TRUE(r->partial_tail);
  EXPECT_EQ(QueryText(db(), "SELECT step FROM metrics WHERE trial_id = ? ORDER BY step", {c.trial_id}), "0;1;2;");
  // The rest of the line arrives (a writer that was only slow): it is ingested once.
  std::ofstream(report, std::ios::app) << fourth.substr(20) << "\n";
  r = IngestReport(db(), c.trial_id, c.attempt, report);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->new_lines, 1);
  r = IngestReport(db(), c.trial_id, c.attempt, report);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->new_lines, 0);
  EXPECT_EQ(QueryText(db(), "SELECT step, value FROM metrics WHERE trial_id = ? ORDER BY step", {c.trial_id}),
            "0|1;1|2;2|3;3|4;");
}

TEST_F(ReportTest, AStaleAttemptsReportIsRefusedAndAForeignLineStopsIngestionThere) {
  const Claim c = ClaimOne();
  const std::string old_report = dir_ + "/old.report.jsonl";
  {
    absl::StatusOr<TrialLog> t = TrialLog::OpenReport(old_report, c.trial_id, c.attempt);
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t->LogMetric("loss", 0, 0, 9.0).ok());
  }
  // The attempt ends (killed) and the trial is claimed again: the old attempt's report must not land.
  ASSERT_TRUE(FinishAttempt(db(), c.trial_id, c.attempt, kKilled, std::nullopt, "test").ok());
  const Claim again = ClaimOne();
  ASSERT_EQ(again.trial_id, c.trial_id);
  ASSERT_EQ(again.attempt, c.attempt + 1);
  absl::StatusOr<IngestResult> stale = IngestReport(db(), c.trial_id, c.attempt, old_report);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition) << stale.status();
  // The old report handed over as the new attempt's: its lines name the old attempt.
  stale = IngestReport(db(), again.trial_id, again.attempt, old_report);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(stale.status().message().find("old.report.jsonl line 1: a record of trial"), std::string::npos)
      << stale.status();
  // A good line, then garbage: the good line is kept, the garbage named.
  const std::string report = dir_ + "/new.report.jsonl";
  {
    absl::StatusOr<TrialLog> t = TrialLog::OpenReport(report, again.trial_id, again.attempt);
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t->LogMetric("loss", 0, 0, 1.5).ok());
  }
  std::ofstream(report, std::ios::app) << "{not json\n";
  absl::StatusOr<IngestResult> bad = IngestReport(db(), again.trial_id, again.attempt, report);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bad.status().message().find("new.report.jsonl line 2: not a JSON object"), std::string::npos)
      << bad.status();
  EXPECT_EQ(QueryText(db(), "SELECT attempt, value FROM metrics WHERE trial_id = ?", {c.trial_id}), "2|1.5;");
  // A second report for the same attempt cannot be opened: one attempt, one report.
  EXPECT_EQ(TrialLog::OpenReport(report, again.trial_id, again.attempt).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(TrialArgsTest, ExactlyOneOfDbAndReport) {
  TrialArgs a;
  a.config_path = "/c.json";
  a.trial_dir = "/d";
  a.report_path = "/d/attempt_1.report.jsonl";
  a.trial_id = 3;
  a.attempt = 1;
  absl::StatusOr<TrialArgs> back = ParseTrialArgs(a.ToArgs());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->report_path, a.report_path);
  EXPECT_TRUE(back->db_path.empty());
  std::vector<std::string> both = a.ToArgs();
  both.push_back("--db=/x.sqlite");
  EXPECT_NE(ParseTrialArgs(both).status().message().find("exactly one of --db"), std::string::npos);
  a.report_path.clear();
  EXPECT_NE(ParseTrialArgs(a.ToArgs()).status().message().find("exactly one of --db"), std::string::npos);
}

TEST(SlurmSettingsTest, SpecValuesAreCheckedAndNamed) {
  absl::StatusOr<SlurmSettings> s = ParseSlurmSettings(
      {{"partition", "gpu"}, {"time", "1-02:00:00"}, {"mem", "16G"}, {"cpus_per_trial", 4},
       {"gpus_per_trial", 1}, {"array_parallelism", 8}, {"sbatch_args", {"--qos=high"}}},
      "spec.json");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->cpus_per_trial, 4);
  EXPECT_EQ(s->ToJson()["time"], "1-02:00:00");
  const auto error = [](const nlohmann::json& j) {
    return std::string(ParseSlurmSettings(j, "spec.json").status().message());
  };
  EXPECT_EQ(error({{"time", "1:2:3:4"}}).find("spec.json: slurm time \"1:2:3:4\""), 0u) << error({{"time", "1:2:3:4"}});
  EXPECT_NE(error({{"mem", "lots"}}).find("slurm mem \"lots\""), std::string::npos);
  EXPECT_NE(error({{"cpus_per_trial", 0}}).find("cpus_per_trial must be >= 1"), std::string::npos);
  EXPECT_NE(error({{"cpus_per_trial", 1.5}}).find("slurm.cpus_per_trial: expected an integer"), std::string::npos);
  EXPECT_NE(error({{"nodes", 2}}).find("unknown field \"slurm.nodes\""), std::string::npos);
  EXPECT_NE(error({{"sbatch_args", {"--array=0-9"}}}).find("set by the launcher"), std::string::npos);
  EXPECT_NE(error({{"sbatch_args", {"qos"}}}).find("expected an option"), std::string::npos);
  // In a spec, refused by PlanSweep before anything is created.
  absl::StatusOr<SweepPlan> plan =
      PlanSweep({{"name", "x"}, {"params", {{"RPN_ANCHOR_STRIDE", {1}}}}, {"slurm", {{"time", "soon"}}}},
                "my_spec.json");
  EXPECT_NE(plan.status().message().find("my_spec.json: slurm time \"soon\""), std::string::npos) << plan.status();
}

TEST(SlurmStateTest, StatesMapAsTheLauncherDocuments) {
  EXPECT_EQ(ClassifySlurmState("COMPLETED"), SlurmOutcome::kCompleted);
  for (const char* s : {"FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL"}) {
    EXPECT_EQ(ClassifySlurmState(s), SlurmOutcome::kFailed) << s;
  }
  for (const char* s : {"TIMEOUT", "PREEMPTED", "CANCELLED", "DEADLINE"}) {
    EXPECT_EQ(ClassifySlurmState(s), SlurmOutcome::kKilled) << s;
  }
  for (const char* s : {"PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED", "REQUEUED"}) {
    EXPECT_EQ(ClassifySlurmState(s), SlurmOutcome::kInFlight) << s;
  }
}

// Runs the batch script as Slurm would (bash, SLURM_ARRAY_TASK_ID set) and returns its exit status.
int RunTask(const std::string& script, int index) {
  const std::string cmd = "SLURM_ARRAY_TASK_ID=" + std::to_string(index) + " /bin/bash " + script;
  const int status = system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(BatchScriptTest, EachTaskRunsItsCommandWithItsThreadsAndRecordsItsExitStatus) {
  const std::string dir = NewTempDir("script");
  std::vector<ArrayTask> tasks;
  for (int i = 0; i < 3; ++i) {
    ArrayTask t;
    // An argument with a quote, spaces and a $: it must arrive as it is.
    t.argv = {"/bin/sh", "-c", "echo \"args: $0 [$1] threads=$OMP_NUM_THREADS\"; exit " + std::to_string(i * 3),
              "task" + std::to_string(i), "it's a $HOME"};
    t.log_path = dir + "/t" + std::to_string(i) + ".log";
    t.exit_path = dir + "/t" + std::to_string(i) + ".exit";
    t.threads = i + 1;
    tasks.push_back(t);
  }
  const std::string script = dir + "/array.sh";
  std::ofstream(script) << BatchScript("test", tasks);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(RunTask(script, i), i * 3);
    EXPECT_EQ(ReadExitFile(tasks[i].exit_path), std::optional<int>(i * 3));
    const std::string log = experiments_test::ReadFile(tasks[i].log_path);
    EXPECT_NE(log.find("args: task" + std::to_string(i) + " [it's a $HOME] threads=" + std::to_string(i + 1)),
              std::string::npos)
        << log;
  }
  EXPECT_EQ(RunTask(script, 7), 2);  // no such task: an error, no command run
  EXPECT_FALSE(ReadExitFile(dir + "/t7.exit").has_value());
}

// A folder with fake Slurm commands: `sbatch` runs `body`.
std::string FakeSlurm(const std::string& body) {
  const std::string dir = NewTempDir("fakeslurm");
  if (!body.empty()) {
    std::ofstream(dir + "/sbatch") << "#!/bin/sh\n" << body << "\n";
    chmod((dir + "/sbatch").c_str(), 0755);
  }
  return dir;
}

TEST(SlurmClientTest, MissingOrRefusingSbatchIsAClearError) {
  SlurmSettings s;
  const std::string script = NewTempDir("s") + "/x.sh";
  std::ofstream(script) << "#!/bin/bash\n";
  absl::StatusOr<std::string> missing = SlurmClient(FakeSlurm(""), 5).Submit(script, s, 2, "j", "/tmp");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("sbatch: not found"), std::string::npos) << missing.status();
  absl::StatusOr<std::string> refused =
      SlurmClient(FakeSlurm("echo 'sbatch: error: invalid partition specified: nope' >&2; exit 1"), 5)
          .Submit(script, s, 2, "j", "/tmp");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("invalid partition specified: nope"), std::string::npos)
      << refused.status();
  absl::StatusOr<std::string> hangs = SlurmClient(FakeSlurm("sleep 30"), 0.5).Submit(script, s, 2, "j", "/tmp");
  EXPECT_EQ(hangs.status().code(), absl::StatusCode::kDeadlineExceeded) << hangs.status();
  // What sbatch is asked for: the array, our settings, then the user's own options.
  const std::string args_file = NewTempDir("a") + "/args";
  s.partition = "p1";
  s.time = "10";
  s.array_parallelism = 3;
  s.sbatch_args = {"--qos=high"};
  absl::StatusOr<std::string> ok =
      SlurmClient(FakeSlurm("echo \"$@\" > " + args_file + "; echo '42;cluster'"), 5).Submit(script, s, 5, "j", "/tmp");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok, "42");
  const std::string args = experiments_test::ReadFile(args_file);
  for (const char* want : {"--parsable", "--array=0-4%3", "--no-requeue", "--cpus-per-task=1", "--partition=p1",
                           "--time=10", "--qos=high /"}) {
    EXPECT_NE(args.find(want), std::string::npos) << want << " in " << args;
  }
}

}  // namespace
}  // namespace experiments
