// End-to-end tests of the sweep coordinator with the FAKE trial binary (tests/experiments/fake_trial):
// a tiny sweep, resume, retry limit, crashes, hangs, Ctrl-C, and a SIGKILLed coordinator.
#include "experiments/coordinator.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "experiments/log.h"
#include "gtest/gtest.h"
#include "tests/experiments/test_util.h"

namespace experiments {
namespace {

using experiments_test::Arg;
using Json = nlohmann::json;

std::string Text(Db& db, const std::string& sql, const std::vector<SqlValue>& params = {}) {
  return experiments_test::QueryText(db, sql, params);
}

class CoordinatorTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = experiments_test::NewTempDir("coord");
    options_.db_path = dir_ + "/log.sqlite";
    options_.trial_binary = Arg("fake_trial");
    options_.cores = 2;
    options_.workers = 1;
    options_.heartbeat_s = 0.2;
    options_.kill_grace_s = 2;
    options_.progress_interval_s = 0.2;
    options_.out = &progress_;
  }
  SweepPlan Plan(const Json& spec, int seeds = 1) {
    absl::StatusOr<SweepPlan> p = PlanSweep(spec, "spec", seeds);
    EXPECT_TRUE(p.ok()) << p.status();
    return *p;
  }
  Db& OpenDb() {
    absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(options_.db_path);
    EXPECT_TRUE(log.ok()) << log.status();
    log_.emplace(std::move(*log));
    return log_->db();
  }
  std::string dir_;
  SweepOptions options_;
  std::ostringstream progress_;
  std::optional<ExperimentLog> log_;
};

Json Grid(const std::string& name, const Json& params, int steps = 5, int seeds = 1) {
  return {{"name", name},
          {"base", {{"STEPS_PER_EPOCH", steps}}},
          {"params", params},
          {"seeds", seeds}};
}

TEST_F(CoordinatorTest, TinySweepRunsEveryTrialOnceWithSplitCoresAndResumesAsANoOp) {
  options_.workers = 2;
  const SweepPlan plan =
      Plan(Grid("tiny", {{"RPN_ANCHOR_STRIDE", {1, 2}}, {"USE_MINI_MASK", {false, true}}}), 2);
  absl::StatusOr<SweepOutcome> r = RunSweep(plan, options_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->counts.finished, 8);
  EXPECT_EQ(r->trials_started, 8);
  EXPECT_FALSE(r->interrupted);
  Db& db = OpenDb();
  EXPECT_EQ(Text(db, "SELECT COUNT(*) FROM trials WHERE status = 'FINISHED' AND attempts = 1 AND "
                     "exit_code = 0 AND error IS NULL"),
            "8;");
  // 2 cores / 2 workers: every trial saw OMP_NUM_THREADS=1.
  EXPECT_EQ(Text(db, "SELECT DISTINCT value FROM metrics WHERE key = 'omp_threads'"), "1;");
  // The fake trial's closed forms, by hand: loss(step) = (stride + 0.5 mini + 0.1 seed) / (step + 1).
  EXPECT_EQ(Text(db, "SELECT COUNT(*) FROM metrics WHERE key = 'loss'"), "40;");
  EXPECT_EQ(Text(db, "SELECT m.value FROM metrics m JOIN runs r ON r.trial_id = m.trial_id WHERE "
                     "r.RPN_ANCHOR_STRIDE = 2 AND r.USE_MINI_MASK = 1 AND r.SEED = 1 AND "
                     "m.key = 'loss' AND m.step = 4"),
            "0.52;");  // (2 + 0.5 + 0.1) / 5
  // segm_AP = 0.5 + 0.1 stride - 0.05 mini + 0.01 seed.
  EXPECT_EQ(Text(db, "SELECT segm_AP, segm_AP50, bbox_AP FROM runs WHERE RPN_ANCHOR_STRIDE = 1 AND "
                     "USE_MINI_MASK = 0 AND SEED = 1"),
            "0.61|0.62|0.63;");
  EXPECT_EQ(Text(db, "SELECT COUNT(*) FROM checkpoints"), "8;");
  absl::StatusOr<std::vector<std::vector<SqlValue>>> ck = db.QueryAll("SELECT path FROM checkpoints");
  ASSERT_TRUE(ck.ok());
  for (const auto& row : *ck) EXPECT_TRUE(std::filesystem::exists(std::get<std::string>(row[0])));
  EXPECT_NE(progress_.str().find("FINISHED"), std::string::npos) << progress_.str();
  const std::string rows_before = Text(db, "SELECT COUNT(*), SUM(value) FROM metrics");

  // Running the same sweep again trains nothing and changes nothing.
  absl::StatusOr<SweepOutcome> again = RunSweep(plan, options_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->trials_started, 0);
  EXPECT_EQ(again->counts.finished, 8);
  EXPECT_EQ(Text(db, "SELECT COUNT(*), SUM(value) FROM metrics"), rows_before);
  EXPECT_EQ(Text(db, "SELECT COUNT(*) FROM attempts"), "8;");
}

TEST_F(CoordinatorTest, OneWorkerGetsAllCores) {
  const SweepPlan plan = Plan(Grid("one", {{"RPN_ANCHOR_STRIDE", {1}}}, 2));
  ASSERT_TRUE(RunSweep(plan, options_).ok());
  EXPECT_EQ(Text(OpenDb(), "SELECT value FROM metrics WHERE key = 'omp_threads'"), "2;");
}

TEST_F(CoordinatorTest, BadOptionsAreErrors) {
  const SweepPlan plan = Plan(Grid("bad", {{"RPN_ANCHOR_STRIDE", {1}}}));
  options_.workers = 3;
  absl::StatusOr<SweepOutcome> r = RunSweep(plan, options_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("oversubscribe"), std::string::npos) << r.status();
  options_.workers = 1;
  options_.trial_binary = dir_ + "/no_such_trainer";
  r = RunSweep(plan, options_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no_such_trainer"), std::string::npos) << r.status();
  options_.trial_binary = Arg("fake_trial");
  options_.db_path = dir_;  // a folder, not a database file
  EXPECT_FALSE(RunSweep(plan, options_).ok());
}

TEST_F(CoordinatorTest, FailingTrialIsRetriedUpToTheLimitAndKeepsEveryAttemptsRows) {
  options_.retries = 1;
  const SweepPlan plan = Plan(Grid("fails", {{"NAME", {"fake+fail", "fake"}}}));
  absl::StatusOr<SweepOutcome> r = RunSweep(plan, options_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->counts.failed, 1);
  EXPECT_EQ(r->counts.finished, 1);
  Db& db = OpenDb();
  EXPECT_EQ(Text(db, "SELECT t.status, t.attempts, t.failures, t.exit_code FROM runs r JOIN trials t ON "
                     "t.id = r.trial_id WHERE r.NAME = 'fake+fail'"),
            "FAILED|2|2|3;");
  const std::string error = Text(db, "SELECT error FROM trials WHERE status = 'FAILED'");
  EXPECT_NE(error.find("exit code 3"), std::string::npos) << error;
  EXPECT_NE(error.find("failing as told"), std::string::npos) << error;  // the trial's own stderr
  EXPECT_EQ(Text(db, "SELECT attempt, COUNT(*) FROM metrics m JOIN trials t ON t.id = m.trial_id "
                     "WHERE t.status = 'FAILED' AND m.key = 'loss' GROUP BY attempt"),
            "1|1;2|1;");
  // A rerun with the same limit does not touch it again.
  absl::StatusOr<SweepOutcome> again = RunSweep(plan, options_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->trials_started, 0);
}

TEST_F(CoordinatorTest, TrialFailingOnceFinishesOnRetry) {
  const SweepPlan plan = Plan(Grid("flaky", {{"NAME", {"fake+fail_attempt1"}}}));
  absl::StatusOr<SweepOutcome> r = RunSweep(plan, options_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->counts.finished, 1);
  Db& db = OpenDb();
  EXPECT_EQ(Text(db, "SELECT attempt, status FROM attempts ORDER BY attempt"),
            "1|FAILED;2|FINISHED;");
  EXPECT_EQ(Text(db, "SELECT status, failures, error FROM trials"), "FINISHED|1|;");
  // Summaries and the runs view read the current attempt.
  EXPECT_EQ(Text(db, "SELECT n FROM metric_last WHERE key = 'loss'"), "5;");
  EXPECT_EQ(Text(db, "SELECT COUNT(*) FROM metrics WHERE key = 'loss'"), "6;");
}

TEST_F(CoordinatorTest, CrashAndHangAreFailures) {
  options_.retries = 0;
  options_.trial_timeout_s = 1.5;
  options_.kill_grace_s = 1;
  const SweepPlan plan = Plan(Grid("bad_trials", {{"NAME", {"fake+crash", "fake+hang"}}}));
  absl::StatusOr<SweepOutcome> r = RunSweep(plan, options_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->counts.failed, 2);
  Db& db = OpenDb();
  const std::string crash = Text(db, "SELECT error FROM runs WHERE NAME = 'fake+crash'");
  EXPECT_NE(crash.find("killed by signal 11"), std::string::npos) << crash;
  EXPECT_EQ(Text(db, "SELECT exit_code FROM trials WHERE ordinal = 0"), "139;");
  const std::string hang = Text(db, "SELECT error FROM runs WHERE NAME = 'fake+hang'");
  EXPECT_NE(hang.find("timed out"), std::string::npos) << hang;
}

// Waits until `sql` returns `want` (polling the log), up to `timeout_s`.
bool Gone(pid_t pid) {
  if (kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(stat, s);
  const size_t close = s.rfind(')');
  return close != std::string::npos && s.size() > close + 2 && s[close + 2] == 'Z';
}

class EngineTest : public CoordinatorTest {
 protected:
  std::vector<std::string> Command(const Json& spec) {
    const std::string spec_path = dir_ + "/spec.json";
    std::ofstream(spec_path) << spec.dump();
    return {Arg("sweep"), "--spec=" + spec_path, "--trial_binary=" + Arg("fake_trial"),
            "--db=" + options_.db_path, "--cores=2", "--workers=1", "--heartbeat_s=0.2",
            "--progress_interval_s=0.2"};
  }
};

TEST_F(EngineTest, CtrlCMarksRunningTrialsKilledAndTheNextRunFinishesThem) {
  const std::vector<std::string> cmd = Command(Grid("ctrlc", {{"NAME", {"fake+hang_attempt1"}}}));
  const pid_t pid = experiments_test::StartProcess(cmd, dir_ + "/first.txt");
  ASSERT_TRUE(experiments_test::WaitForValue(options_.db_path,
                                             "SELECT COUNT(*) FROM metrics WHERE key = 'loss'", "1"));
  const std::string trial_pid = Text(OpenDb(), "SELECT pid FROM trials");
  ASSERT_EQ(kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT) << experiments_test::ReadFile(dir_ + "/first.txt");
  EXPECT_TRUE(Gone(std::stoi(trial_pid.substr(0, trial_pid.size() - 1))));
  Db& db = OpenDb();
  EXPECT_EQ(Text(db, "SELECT status, failures, error LIKE 'interrupted%' FROM trials"),
            "KILLED|0|1;");
  const std::string first = experiments_test::ReadFile(dir_ + "/first.txt");
  EXPECT_NE(first.find("run the same command again to resume"), std::string::npos) << first;

  experiments_test::ProcResult second = experiments_test::RunProcess(cmd, 60);
  ASSERT_TRUE(WIFEXITED(second.wait_status)) << second.output;
  EXPECT_EQ(WEXITSTATUS(second.wait_status), 0) << second.output;
  EXPECT_EQ(Text(db, "SELECT attempt, status FROM attempts ORDER BY attempt"),
            "1|KILLED;2|FINISHED;");
  EXPECT_EQ(Text(db, "SELECT attempt, COUNT(*) FROM metrics WHERE key = 'loss' GROUP BY attempt"),
            "1|1;2|5;");
}

TEST_F(EngineTest, SigkilledTrialIsAFailureAndIsRetried) {
  const std::vector<std::string> cmd = Command(Grid("killtrial", {{"NAME", {"fake+hang_attempt1"}}}));
  const pid_t pid = experiments_test::StartProcess(cmd, dir_ + "/out.txt");
  ASSERT_TRUE(experiments_test::WaitForValue(options_.db_path,
                                             "SELECT COUNT(*) FROM metrics WHERE key = 'loss'", "1"));
  const std::string trial_pid = Text(OpenDb(), "SELECT pid FROM trials");
  ASSERT_EQ(kill(std::stoi(trial_pid.substr(0, trial_pid.size() - 1)), SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << experiments_test::ReadFile(dir_ + "/out.txt");
  Db& db = OpenDb();
  const std::string attempts =
      Text(db, "SELECT attempt, status, exit_code, error FROM attempts ORDER BY attempt");
  EXPECT_NE(attempts.find("1|FAILED|137|killed by signal 9"), std::string::npos) << attempts;
  EXPECT_NE(attempts.find("2|FINISHED|0|;"), std::string::npos) << attempts;
}

TEST_F(EngineTest, SigkilledSweepResumesWithoutRerunningFinishedTrialsOrLosingRows) {
  // Trials in order; the third hangs on its first attempt.
  const std::vector<std::string> cmd =
      Command(Grid("sigkill", {{"NAME", {"a", "b", "fake+hang_attempt1", "c"}}}));
  const pid_t pid = experiments_test::StartProcess(cmd, dir_ + "/first.txt");
  ASSERT_TRUE(experiments_test::WaitForValue(options_.db_path,
                      "SELECT COUNT(*) FROM metrics WHERE trial_id = 3 AND key = 'loss'", "1"));
  Db& db = OpenDb();
  const std::string trial_pid = Text(db, "SELECT pid FROM trials WHERE id = 3");
  const std::string finished_before =
      Text(db, "SELECT id, attempts, finished_at FROM trials WHERE status = 'FINISHED' ORDER BY id");
  EXPECT_EQ(Text(db, "SELECT id FROM trials WHERE status = 'FINISHED' ORDER BY id"), "1;2;");
  const std::string rows_before =
      Text(db, "SELECT trial_id, attempt, key, step, value FROM metrics ORDER BY rowid");
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
  // The trial dies with its coordinator (PR_SET_PDEATHSIG) and stays RUNNING in the log.
  const double start = NowSeconds();
  while (!Gone(std::stoi(trial_pid.substr(0, trial_pid.size() - 1))) && NowSeconds() - start < 10) {
    usleep(50 * 1000);
  }
  EXPECT_TRUE(Gone(std::stoi(trial_pid.substr(0, trial_pid.size() - 1))));
  EXPECT_EQ(Text(db, "SELECT status FROM trials WHERE id = 3"), "RUNNING;");

  experiments_test::ProcResult second = experiments_test::RunProcess(cmd, 60);
  ASSERT_TRUE(WIFEXITED(second.wait_status)) << second.output;
  EXPECT_EQ(WEXITSTATUS(second.wait_status), 0) << second.output;
  EXPECT_EQ(Text(db, "SELECT id, attempts, finished_at FROM trials WHERE id IN (1, 2) ORDER BY id"),
            finished_before);
  EXPECT_EQ(Text(db, "SELECT id, status, attempts FROM trials ORDER BY id"),
            "1|FINISHED|1;2|FINISHED|1;3|FINISHED|2;4|FINISHED|1;");
  const std::string lost = Text(db, "SELECT status, error FROM attempts WHERE trial_id = 3 AND "
                                    "attempt = 1");
  EXPECT_NE(lost.find("KILLED|lost: its coordinator"), std::string::npos) << lost;
  // Every row logged before the kill is still there, first and in order.
  const std::string rows_after =
      Text(db, "SELECT trial_id, attempt, key, step, value FROM metrics ORDER BY rowid");
  EXPECT_EQ(rows_after.substr(0, rows_before.size()), rows_before);
  EXPECT_NE(second.output.find("sweep 'sigkill': 4 finished"), std::string::npos) << second.output;
}

TEST_F(EngineTest, TwoCoordinatorsShareASweepWithoutRunningATrialTwice) {
  const std::vector<std::string> cmd =
      Command(Grid("shared", {{"NAME", {"fake+slow"}}, {"RPN_ANCHOR_STRIDE", {1, 2, 4}}}, 6, 2));
  std::vector<std::string> cmd_a = cmd, cmd_b = cmd;
  const pid_t a = experiments_test::StartProcess(cmd_a, dir_ + "/a.txt");
  const pid_t b = experiments_test::StartProcess(cmd_b, dir_ + "/b.txt");
  for (pid_t pid : {a, b}) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << experiments_test::ReadFile(dir_ + "/a.txt")
                                      << experiments_test::ReadFile(dir_ + "/b.txt");
  }
  Db& db = OpenDb();
  // 3 points x 2 seeds, each run exactly once by one of the two.
  EXPECT_EQ(Text(db, "SELECT COUNT(*), SUM(attempts), SUM(status = 'FINISHED') FROM trials"),
            "6|6|6;");
  EXPECT_EQ(Text(db, "SELECT COUNT(*) FROM attempts"), "6;");
}

TEST_F(EngineTest, RejectsStrayArgumentsAndBadSpecsWithoutWriting) {
  experiments_test::ProcResult r = experiments_test::RunProcess({Arg("sweep"), "stray"}, 30);
  ASSERT_TRUE(WIFEXITED(r.wait_status));
  EXPECT_EQ(WEXITSTATUS(r.wait_status), 2);
  EXPECT_NE(r.output.find("unexpected argument 'stray'"), std::string::npos) << r.output;
  const std::string spec = dir_ + "/bad.json";
  std::ofstream(spec) << R"({"name": "x", "params": {"NO_SUCH_KEY": [1]}})";
  r = experiments_test::RunProcess({Arg("sweep"), "--spec=" + spec,
                                    "--trial_binary=" + Arg("fake_trial"),
                                    "--db=" + options_.db_path},
                                   30);
  ASSERT_TRUE(WIFEXITED(r.wait_status));
  EXPECT_EQ(WEXITSTATUS(r.wait_status), 1);
  EXPECT_NE(r.output.find("NO_SUCH_KEY"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(options_.db_path));  // a bad spec writes nothing
  // The trial binary checks the spec's trainer flags before the sweep is created.
  std::ofstream(spec) << R"({"name": "x", "params": {"RPN_ANCHOR_STRIDE": [1]}, "trainer": {"epochz": 3}})";
  r = experiments_test::RunProcess({Arg("sweep"), "--spec=" + spec, "--trial_binary=" + Arg("fake_trial"),
                                    "--db=" + options_.db_path},
                                   30);
  EXPECT_EQ(WEXITSTATUS(r.wait_status), 1) << r.output;
  EXPECT_NE(r.output.find("fake_trial: unknown trainer flag --epochz=3"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(options_.db_path));
  // Flags that go into the stored spec must be UTF-8; names that make unusable folders are refused.
  const std::vector<std::pair<std::string, std::string>> bad_flags = {
      {"--name=a\xff", "--name: not valid UTF-8 (byte 0xff at offset 1)"},
      {"--dataset_dir=/tmp/\xff", "--dataset_dir: not valid UTF-8 (byte 0xff at offset 5)"},
      {"--name=" + std::string(5000, 'n'), "the sweep's name is 5000 bytes long; at most 200"},
      // The launcher's flags are checked before anything is created, Slurm or not.
      {"--launcher=pbs", "--launcher=pbs: expected local or slurm"},
      {"--no_wait", "--no_wait and --sbatch_arg need --launcher=slurm"},
      {"--sbatch_arg=--qos=high", "--no_wait and --sbatch_arg need --launcher=slurm"}};
  for (const auto& [flag, message] : std::vector<std::pair<std::string, std::string>>{
           {"--time=soon", "flags and spec: slurm time \"soon\""},
           {"--cpus_per_trial=-2", "slurm cpus_per_trial must be >= 1, got -2"},
           {"--slurm_poll_s=0", "--slurm_poll_s must be > 0"},
           {"--sbatch_arg=--array=0-3", "slurm sbatch argument \"--array=0-3\": set by the launcher"}}) {
    r = experiments_test::RunProcess({Arg("sweep"), "--launcher=slurm", flag, "--trial_binary=" + Arg("fake_trial"),
                                      "--db=" + options_.db_path},
                                     30);
    ASSERT_TRUE(WIFEXITED(r.wait_status));
    EXPECT_EQ(WEXITSTATUS(r.wait_status), 1) << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(options_.db_path)) << flag;
  }
  for (const auto& [flag, message] : bad_flags) {
    r = experiments_test::RunProcess({Arg("sweep"), flag, "--trial_binary=" + Arg("fake_trial"),
                                      "--db=" + options_.db_path},
                                     30);
    ASSERT_TRUE(WIFEXITED(r.wait_status));
    EXPECT_EQ(WEXITSTATUS(r.wait_status), 1) << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(options_.db_path)) << flag;
  }
  // The Slurm launcher's runs folder must be creatable and writable before anything is submitted.
  std::ofstream(spec) << R"({"name": "x", "params": {"RPN_ANCHOR_STRIDE": [1]}})";
  r = experiments_test::RunProcess({Arg("sweep"), "--launcher=slurm", "--spec=" + spec, "--runs_dir=/proc/no_runs",
                                    "--trial_binary=" + Arg("fake_trial"), "--db=" + options_.db_path},
                                   30);
  EXPECT_EQ(WEXITSTATUS(r.wait_status), 1) << r.output;
  EXPECT_NE(r.output.find("--runs_dir /proc/no_runs/x: cannot create"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(options_.db_path));
}

}  // namespace
}  // namespace experiments

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  experiments_test::SetArgs(argc, argv);
  return RUN_ALL_TESTS();
}

namespace experiments {
namespace {

// A grid whose second point is a config the model cannot build (global proposal selection keeps at
// most PRE_NMS_LIMIT = 1000 boxes on the shapes preset, so 2000 post-NMS ROIs cannot be had) is refused
// by the sweep before anything is written: no log file for a new log, no sweep, trial or param row
// in an existing one. Such points used to pass validation and fail in every trial, which was retried.
TEST_F(CoordinatorTest, SpecWithOneInvalidPointIsRefusedBeforeAnythingIsLogged) {
  const std::string spec = dir_ + "/one_bad_point.json";
  std::ofstream(spec) << R"({"name": "one_bad", "base": {"STEPS_PER_EPOCH": 5},
      "params": {"POST_NMS_ROIS_TRAINING": [500, 2000, 1000]}})";
  const auto run_sweep = [&]() {
    return experiments_test::RunProcess({Arg("sweep"), "--spec=" + spec, "--trial_binary=" + Arg("fake_trial"),
                                         "--db=" + options_.db_path, "--workers=1", "--cores=1"},
                                        60);
  };
  const auto expect_refused = [](const experiments_test::ProcResult& r) {
    ASSERT_TRUE(WIFEXITED(r.wait_status)) << r.output;
    EXPECT_EQ(WEXITSTATUS(r.wait_status), 1) << r.output;
    // The point by its index and values, the key and the value.
    EXPECT_NE(r.output.find("point 1 {\"POST_NMS_ROIS_TRAINING\":2000}"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("POST_NMS_ROIS_TRAINING: must be <= PRE_NMS_LIMIT (1000) with "
                            "PROPOSAL_SELECTION=global, got 2000"),
              std::string::npos)
        << r.output;
    EXPECT_EQ(r.output.find("point 0"), std::string::npos) << r.output;  // the valid points are not listed
    EXPECT_EQ(r.output.find("point 2"), std::string::npos) << r.output;
  };
  // A new log: not even created.
  expect_refused(run_sweep());
  EXPECT_FALSE(std::filesystem::exists(options_.db_path));

  // An existing log with an earlier sweep: it stays as it was.
  absl::StatusOr<SweepOutcome> earlier = RunSweep(Plan(Grid("earlier", {{"RPN_ANCHOR_STRIDE", {1}}})), options_);
  ASSERT_TRUE(earlier.ok()) << earlier.status();
  const std::string counts = "SELECT (SELECT COUNT(*) FROM sweeps), (SELECT COUNT(*) FROM trials), "
                             "(SELECT COUNT(*) FROM params), (SELECT COUNT(*) FROM attempts)";
  std::string before;
  {
    Db& db = OpenDb();
    before = Text(db, counts);
    EXPECT_EQ(Text(db, "SELECT (SELECT COUNT(*) FROM sweeps), (SELECT COUNT(*) FROM trials)"), "1|1;");
    log_.reset();
  }
  expect_refused(run_sweep());
  Db& db = OpenDb();
  EXPECT_EQ(Text(db, counts), before);
  EXPECT_EQ(Text(db, "SELECT COUNT(*) FROM sweeps WHERE name = 'one_bad'"), "0;");
}

}  // namespace
}  // namespace experiments
