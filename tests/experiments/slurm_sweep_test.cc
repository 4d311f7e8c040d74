// End-to-end tests of `sweep --launcher=slurm` on a real (single-node) Slurm cluster: the table equals
// the local launcher's, faults (a cancelled task, failing trials, a task that exits 0 without a result,
// a SIGKILLed coordinator, sbatch refusing), --no_wait and Ctrl-C.
//
// Needs a running cluster: `experiments/local_slurm.sh start` (CI starts it). The test reads
// $SLURM_CONF, else the script's default /tmp/mrcnn-slurm/slurm.conf; without a cluster that answers,
// every test reports SKIPPED with the reason.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "experiments/log.h"
#include "gtest/gtest.h"
#include "tests/experiments/test_util.h"

namespace experiments {
namespace {

using experiments_test::Arg;
using experiments_test::ProcResult;
using experiments_test::RunProcess;
using Json = nlohmann::json;

// Why the cluster cannot be used, or empty when it can.
std::string ClusterProblem() {
  const char* conf = std::getenv("SLURM_CONF");
  const std::string path = conf != nullptr && *conf != '\0' ? conf : "/tmp/mrcnn-slurm/slurm.conf";
  if (!std::filesystem::exists(path)) {
    return absl::StrCat("no Slurm cluster: ", path,
                        " does not exist (start one with experiments/local_slurm.sh start, or set SLURM_CONF "
                        "with --test_env)");
  }
  setenv("SLURM_CONF", path.c_str(), 1);
  const ProcResult r = RunProcess({"/usr/bin/sinfo", "-h", "-o", "%T"}, 20);
  if (!WIFEXITED(r.wait_status) || WEXITSTATUS(r.wait_status) != 0 ||
      (r.output.find("idle") == std::string::npos && r.output.find("mixed") == std::string::npos &&
       r.output.find("allocated") == std::string::npos)) {
    return absl::StrCat("no Slurm cluster answers with SLURM_CONF=", path, ": sinfo said: ", r.output);
  }
  return "";
}

std::string Text(Db& db, const std::string& sql) { return experiments_test::QueryText(db, sql); }

class SlurmSweepTest : public testing::Test {
 protected:
  void SetUp() override {
    const std::string problem = ClusterProblem();
    if (!problem.empty()) GTEST_SKIP() << problem;
    dir_ = experiments_test::NewTempDir("slurm");
    db_path_ = dir_ + "/log.sqlite";
  }
  void TearDown() override {
    // Leave no task of this test behind on the cluster.
    if (db_path_.empty() || !std::filesystem::exists(db_path_)) return;
    absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(db_path_);
    if (!log.ok()) return;
    const std::string jobs = Text(log->db(), "SELECT DISTINCT slurm_job_id FROM attempts WHERE slurm_job_id IS NOT NULL");
    std::vector<std::string> cmd = {"/usr/bin/scancel"};
    for (absl::string_view j : absl::StrSplit(jobs, ';', absl::SkipEmpty())) cmd.emplace_back(j);
    if (cmd.size() > 1) RunProcess(cmd, 30);
  }
  Db& OpenDb() {
    absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(db_path_);
    EXPECT_TRUE(log.ok()) << log.status();
    log_.emplace(std::move(*log));
    return log_->db();
  }
  std::vector<std::string> Command(const Json& spec, const std::string& launcher = "slurm",
                                   const std::string& db = "") {
    const std::string spec_path = dir_ + "/" + spec["name"].get<std::string>() + ".json";
    std::ofstream(spec_path) << spec.dump();
    std::vector<std::string> cmd = {Arg("sweep"), "--spec=" + spec_path, "--trial_binary=" + Arg("fake_trial"),
                                    "--db=" + (db.empty() ? db_path_ : db), "--launcher=" + launcher,
                                    "--runs_dir=" + dir_ + "/runs_" + launcher, "--heartbeat_s=0.2",
                                    "--progress_interval_s=0.5", "--slurm_poll_s=0.2", "--cores=2"};
    return cmd;
  }
  static Json Grid(const std::string& name, const Json& params, int steps = 5) {
    return {{"name", name}, {"base", {{"STEPS_PER_EPOCH", steps}}}, {"params", params}};
  }
  static int Exit(const ProcResult& r) { return WIFEXITED(r.wait_status) ? WEXITSTATUS(r.wait_status) : -1; }

  std::string dir_, db_path_;
  std::optional<ExperimentLog> log_;
};

// Every row a trial logged, by trial ordinal; ids, times and hosts left out.
std::string Logged(Db& db) {
  return Text(db, "SELECT t.ordinal, t.seed, t.status, t.attempts, m.key, m.step, m.epoch, quote(m.value) "
                  "FROM metrics m JOIN trials t ON t.id = m.trial_id ORDER BY t.ordinal, m.rowid") +
         Text(db, "SELECT t.ordinal, c.step, quote(c.segm_AP), quote(c.bbox_AP50) FROM coco_results c "
                  "JOIN trials t ON t.id = c.trial_id ORDER BY t.ordinal") +
         Text(db, "SELECT t.ordinal, total_steps, dataset_name, dataset_hash FROM trials t ORDER BY t.ordinal");
}

TEST_F(SlurmSweepTest, FourTrialsGiveTheLocalLaunchersTableAndTheLogHoldsTheJobs) {
  const Json spec = Grid("four", {{"RPN_ANCHOR_STRIDE", {1, 2}}, {"USE_MINI_MASK", {false, true}}});
  const std::string local_db = dir_ + "/local.sqlite";
  const ProcResult local = RunProcess(Command(spec, "local", local_db), 120);
  ASSERT_EQ(Exit(local), 0) << local.output;
  const ProcResult slurm = RunProcess(Command(spec), 120);
  ASSERT_EQ(Exit(slurm), 0) << slurm.output;
  EXPECT_NE(slurm.output.find("submitted job array"), std::string::npos) << slurm.output;
  // The printed tables are equal row for row.
  const auto table = [](const std::string& out) {
    const size_t start = out.find("\ntrial_id");
    return start == std::string::npos ? out : out.substr(start, out.find("\n\n", start + 1) - start);
  };
  EXPECT_EQ(table(slurm.output), table(local.output));
  absl::StatusOr<ExperimentLog> local_log = ExperimentLog::Open(local_db);
  ASSERT_TRUE(local_log.ok());
  Db& db = OpenDb();
  EXPECT_EQ(Logged(db), Logged(local_log->db()));
  EXPECT_EQ(Text(db, "SELECT COUNT(*), COUNT(DISTINCT slurm_job_id || '_' || slurm_array_index) FROM attempts "
                     "WHERE launcher = 'slurm' AND slurm_job_id GLOB '[0-9]*' AND report_path LIKE '%.report.jsonl'"),
            "4|4;");
  // The trials never opened the log: every row came from the reports, whose offsets are recorded.
  EXPECT_EQ(Text(db, "SELECT COUNT(*) FROM report_ingest r JOIN attempts a USING (trial_id, attempt) "
                     "WHERE r.path = a.report_path AND r.lines = 4"),
            "0;");  // 3 provenance lines + 5 steps + COCO + checkpoint: more than 4
  EXPECT_EQ(Text(db, "SELECT COUNT(*) FROM report_ingest WHERE lines = 10"), "4;");
  // A rerun re-attaches to nothing, submits nothing and prints the same table.
  const ProcResult again = RunProcess(Command(spec), 60);
  ASSERT_EQ(Exit(again), 0) << again.output;
  EXPECT_EQ(again.output.find("submitted job array"), std::string::npos) << again.output;
  EXPECT_EQ(table(again.output), table(slurm.output));
}

// The real trainer (found in the sweep's runfiles): 4 tiny trainings per launcher, the same seeds.
TEST_F(SlurmSweepTest, RealTrainerGivesTheSameLossesAndApUnderSlurmAsLocally) {
  const Json spec = {{"name", "real"},
                     {"preset", "shapes"},
                     {"base", {{"STEPS_PER_EPOCH", 2}, {"VALIDATION_STEPS", 1}, {"IMAGES_PER_GPU", 2}}},
                     {"params", {{"RPN_ANCHOR_STRIDE", {1, 2}}, {"USE_MINI_MASK", {false, true}}}},
                     {"trainer", {{"format", "shapes"}, {"shapes_train", 4}, {"shapes_val", 2}, {"epochs", 1},
                                  {"workers", 1}, {"log_every", 1}}}};
  const auto without_fake = [](std::vector<std::string> cmd) {
    cmd.erase(std::remove_if(cmd.begin(), cmd.end(),
                             [](const std::string& a) { return a.rfind("--trial_binary=", 0) == 0; }),
              cmd.end());
    return cmd;
  };
  const std::string local_db = dir_ + "/local.sqlite";
  const ProcResult local = RunProcess(without_fake(Command(spec, "local", local_db)), 600);
  ASSERT_EQ(Exit(local), 0) << local.output;
  const ProcResult slurm = RunProcess(without_fake(Command(spec)), 600);
  ASSERT_EQ(Exit(slurm), 0) << slurm.output;
  absl::StatusOr<ExperimentLog> local_log = ExperimentLog::Open(local_db);
  ASSERT_TRUE(local_log.ok());
  Db& db = OpenDb();
  // Losses (bit for bit: quote() prints every digit), learning rates, COCO AP, data hashes; not the
  // timings (train_seconds), which differ run to run.
  const auto rows = [](Db& d) {
    return Text(d, "SELECT t.ordinal, m.key, m.step, quote(m.value) FROM metrics m JOIN trials t ON t.id = m.trial_id "
                   "WHERE m.key <> 'train_seconds' ORDER BY t.ordinal, m.key, m.step") +
           Text(d, "SELECT t.ordinal, t.status, t.dataset_hash, t.total_steps FROM trials t ORDER BY t.ordinal");
  };
  const std::string want = rows(local_log->db());
  EXPECT_NE(want.find("segm_AP50"), std::string::npos) << want;
  EXPECT_EQ(rows(db), want);
  // The per-image results (for bootstrap intervals) travel through the reports too: the same files'
  // counts, and the same intervals printed after the table.
  const std::string per_image = "SELECT t.ordinal, p.iou_type, p.images, p.detections FROM coco_per_image p "
                                "JOIN coco_results c ON c.id = p.coco_id JOIN trials t ON t.id = c.trial_id "
                                "ORDER BY t.ordinal, p.iou_type";
  EXPECT_EQ(Text(db, per_image), Text(local_log->db(), per_image));
  EXPECT_EQ(Text(db, "SELECT COUNT(*) FROM coco_per_image"), "8;");
  const auto intervals = [](const std::string& out) {
    const size_t a = out.find("paired bootstrap");
    return a == std::string::npos ? std::string("(none)") : out.substr(a, out.find("\nsweep 'real'") - a);
  };
  EXPECT_NE(intervals(slurm.output), "(none)") << slurm.output;
  EXPECT_EQ(intervals(slurm.output), intervals(local.output));
  EXPECT_EQ(Text(db, "SELECT COUNT(*) FROM attempts WHERE launcher = 'slurm' AND slurm_job_id IS NOT NULL"), "4;");
}

// ASHA through Slurm, one trial at a time: the same promotions and prunes as the local launcher's one
// worker (tests/experiments/scheduled_sweep_test.cc works them out by hand), each rung a new task that
// resumes from the checkpoint its report logged.
TEST_F(SlurmSweepTest, AshaPromotesAndPrunesAsWithTheLocalLauncher) {
  const Json spec = {{"name", "asha"},
                     {"base", {{"STEPS_PER_EPOCH", 2}, {"NAME", "fake"}}},
                     {"params", {{"DETECTION_NMS_THRESHOLD", {0.1, 0.6}}, {"RPN_NMS_THRESHOLD", {0.3, 0.5}}}},
                     {"scheduler", {{"type", "asha"}, {"metric", "segm_AP"}, {"min_epochs", 1}, {"max_epochs", 4},
                                    {"eta", 2}}}};
  std::vector<std::string> cmd = Command(spec);
  cmd.push_back("--array_parallelism=1");
  const ProcResult r = RunProcess(cmd, 120);
  ASSERT_EQ(Exit(r), 0) << r.output;
  Db& db = OpenDb();
  EXPECT_EQ(Text(db, "SELECT trial_id, rung, epoch, round(value, 6), decision FROM rung_results "
                     "ORDER BY trial_id, rung"),
            "1|0|1|0.3|pruned;2|0|1|0.5|promoted;2|1|2|0.55|pruned;3|0|1|0.3|pruned;"
            "4|0|1|0.5|promoted;4|1|2|0.8|promoted;4|2|4|0.95|final;")
      << r.output;
  EXPECT_EQ(Text(db, "SELECT trial_id, attempt, resumed_from, resume_step, stop_at_epoch FROM attempts "
                     "WHERE launcher = 'slurm' ORDER BY started_at"),
            "1|1|||1;2|1|||1;2|2|1|2|2;3|1|||1;4|1|||1;4|2|1|2|2;4|3|2|4|4;");
  EXPECT_EQ(Text(db, "SELECT COUNT(DISTINCT slurm_job_id) FROM attempts"), "7;");
}

// A data-parallel trial under Slurm: srun starts 2 ranks inside the array task (train reads SLURM_PROCID
// and SLURM_NTASKS); rank 0 alone reports. Its losses equal the local launcher's --ranks_per_trial=2.
TEST_F(SlurmSweepTest, NtasksPerTrialTrainsDataParallelThroughSrun) {
  const Json spec = {{"name", "ddp"},
                     {"preset", "shapes"},
                     {"base", {{"STEPS_PER_EPOCH", 2}, {"VALIDATION_STEPS", 1}, {"IMAGES_PER_GPU", 2}}},
                     {"params", {{"RPN_ANCHOR_STRIDE", {2}}}},
                     {"trainer", {{"format", "shapes"}, {"shapes_train", 4}, {"shapes_val", 2}, {"epochs", 1},
                                  {"workers", 1}, {"log_every", 1}}}};
  const auto real = [](std::vector<std::string> cmd, const std::string& extra) {
    cmd.erase(std::remove_if(cmd.begin(), cmd.end(),
                             [](const std::string& a) { return a.rfind("--trial_binary=", 0) == 0; }),
              cmd.end());
    cmd.push_back(extra);
    return cmd;
  };
  const std::string local_db = dir_ + "/local.sqlite";
  const ProcResult local = RunProcess(real(Command(spec, "local", local_db), "--ranks_per_trial=2"), 600);
  ASSERT_EQ(Exit(local), 0) << local.output;
  std::vector<std::string> cmd = real(Command(spec), "--ntasks_per_trial=2");
  cmd.push_back("--cpus_per_trial=2");
  const ProcResult slurm = RunProcess(cmd, 600);
  ASSERT_EQ(Exit(slurm), 0) << slurm.output;
  EXPECT_NE(slurm.output.find("2 CPU(s) as 2 data-parallel ranks per trial"), std::string::npos) << slurm.output;
  const std::string log = experiments_test::ReadFile(dir_ + "/runs_slurm/ddp/trial_1/attempt_1.log");
  EXPECT_NE(log.find("data-parallel: 2 ranks (Slurm"), std::string::npos) << log;
  absl::StatusOr<ExperimentLog> local_log = ExperimentLog::Open(local_db);
  ASSERT_TRUE(local_log.ok());
  const std::string losses = "SELECT key, step, quote(value) FROM metrics WHERE key LIKE '%loss%' ORDER BY key, step";
  EXPECT_EQ(Text(OpenDb(), losses), Text(local_log->db(), losses));
  EXPECT_EQ(Text(OpenDb(), "SELECT COUNT(*) FROM metrics WHERE key = 'loss'"), "2;");  // rank 0 alone
  // Under Slurm the local launcher's flag is refused, and CPUs must split evenly between the ranks.
  std::vector<std::string> wrong = Command(spec);
  wrong.push_back("--ranks_per_trial=2");
  EXPECT_NE(RunProcess(wrong, 60).output.find("use --ntasks_per_trial"), std::string::npos);
  wrong = Command(spec);
  wrong.push_back("--ntasks_per_trial=2");
  wrong.push_back("--cpus_per_trial=3");
  EXPECT_NE(RunProcess(wrong, 60).output.find("must be a multiple of ntasks_per_trial"), std::string::npos);
}

TEST_F(SlurmSweepTest, ACancelledTaskIsKilledAndItsRetryResumesFromTheCheckpoint) {
  // 10 epochs of 2 steps of 0.3 s; a checkpoint after every epoch.
  Json spec = Grid("cancel", {{"NAME", {"fake+timed"}}}, 2);
  spec["base"]["DETECTION_MAX_INSTANCES"] = 300;
  spec["trainer"] = {{"epochs", 10}};
  const std::vector<std::string> cmd = Command(spec);
  const pid_t pid = experiments_test::StartProcess(cmd, dir_ + "/out.txt");
  ASSERT_TRUE(experiments_test::WaitForValue(db_path_, "SELECT COUNT(*) >= 1 FROM checkpoints", "1", 60))
      << experiments_test::ReadFile(dir_ + "/out.txt");
  const std::string task = Text(OpenDb(), "SELECT slurm_job_id || '_' || slurm_array_index FROM attempts");
  const ProcResult cancel = RunProcess({"/usr/bin/scancel", task.substr(0, task.size() - 1)}, 30);
  ASSERT_EQ(Exit(cancel), 0) << cancel.output;
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  const std::string out = experiments_test::ReadFile(dir_ + "/out.txt");
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  Db& db = OpenDb();
  const std::string attempts = Text(db, "SELECT attempt, status, resumed_from IS NOT NULL, IFNULL(error, '') LIKE '%CANCELLED%' "
                                        "FROM attempts ORDER BY attempt");
  EXPECT_EQ(attempts, "1|KILLED|0|1;2|FINISHED|1|0;") << out;
  // The retry trained only the epochs after its checkpoint: no step of the whole curve twice.
  const std::string resume_step = Text(db, "SELECT resume_step FROM attempts WHERE attempt = 2");
  EXPECT_EQ(Text(db, "SELECT MIN(step) FROM metrics WHERE attempt = 2 AND key = 'loss'"),
            absl::StrCat(std::stoi(resume_step) + 1, ";"));
  EXPECT_EQ(Text(db, "SELECT status, failures FROM trials"), "FINISHED|0;");
}

TEST_F(SlurmSweepTest, FailuresAreRetriedUpToTheLimitAndAnExitWithoutResultIsAFailure) {
  std::vector<std::string> cmd =
      Command(Grid("failing", {{"NAME", {"fake+fail", "fake+fail_attempt1", "fake+no_result"}}}));
  cmd.push_back("--retries=1");
  const ProcResult r = RunProcess(cmd, 120);
  EXPECT_EQ(Exit(r), 3) << r.output;
  Db& db = OpenDb();
  const std::string rows = Text(db, "SELECT t.ordinal, a.attempt, a.status, a.exit_code, "
                                    "IFNULL(a.error, '') LIKE '%without a result%', a.resumed_from "
                                    "FROM attempts a JOIN trials t ON t.id = a.trial_id ORDER BY t.ordinal, a.attempt");
  // fail: twice FAILED (exit 3); fail_attempt1: FAILED at its first step, before any checkpoint, so
  // its retry starts over and FINISHES; no_result: exits 0 after its checkpoint but without the result
  // file, FAILED twice, the retry resumed from that checkpoint.
  EXPECT_EQ(rows, "0|1|FAILED|3|0|;0|2|FAILED|3|0|;1|1|FAILED|3|0|;1|2|FINISHED|0|0|;"
                  "2|1|FAILED|0|1|;2|2|FAILED|0|1|1;")
      << r.output;
  EXPECT_NE(r.output.find("job "), std::string::npos);
}

TEST_F(SlurmSweepTest, AKilledCoordinatorIsRerunAndReattachesWithoutLosingOrDuplicatingTrials) {
  Json spec = Grid("reattach", {{"NAME", {"fake+timed"}}, {"RPN_ANCHOR_STRIDE", {1, 2, 4}}}, 2);
  spec["base"]["DETECTION_MAX_INSTANCES"] = 400;
  spec["trainer"] = {{"epochs", 4}};
  const std::vector<std::string> cmd = Command(spec);
  const pid_t pid = experiments_test::StartProcess(cmd, dir_ + "/first.txt");
  ASSERT_TRUE(experiments_test::WaitForValue(db_path_, "SELECT COUNT(*) >= 1 FROM checkpoints", "1", 60))
      << experiments_test::ReadFile(dir_ + "/first.txt");
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
  EXPECT_EQ(Text(OpenDb(), "SELECT COUNT(*) FROM trials WHERE status = 'RUNNING'"), "3;");
  // The tasks keep running on the cluster without their coordinator; some may end meanwhile.
  usleep(1500 * 1000);
  const ProcResult second = RunProcess(cmd, 120);
  ASSERT_EQ(Exit(second), 0) << second.output;
  EXPECT_NE(second.output.find("re-attached to 3 trial(s)"), std::string::npos) << second.output;
  EXPECT_EQ(second.output.find("submitted job array"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("trial #3 (NAME=fake+timed RPN_ANCHOR_STRIDE=4 seed=0) attempt 1 FINISHED"),
            std::string::npos)
      << second.output;
  Db& db = OpenDb();
  EXPECT_EQ(Text(db, "SELECT COUNT(*), SUM(status = 'FINISHED'), SUM(attempts) FROM trials"), "3|3|3;");
  // Every step of every epoch exactly once: 4 epochs x 2 steps.
  EXPECT_EQ(Text(db, "SELECT trial_id, COUNT(*), COUNT(DISTINCT step) FROM metrics WHERE key = 'loss' "
                     "GROUP BY trial_id"),
            "1|8|8;2|8|8;3|8|8;");
}

TEST_F(SlurmSweepTest, SbatchRefusingOrMissingIsAClearErrorAndLeavesNoTrialRunning) {
  std::vector<std::string> cmd = Command(Grid("refused", {{"RPN_ANCHOR_STRIDE", {1, 2}}}));
  std::vector<std::string> bad_partition = cmd;
  bad_partition.push_back("--partition=no_such_partition");
  const ProcResult r = RunProcess(bad_partition, 60);
  EXPECT_EQ(Exit(r), 1) << r.output;
  EXPECT_NE(r.output.find("could not submit 2 trial(s) to Slurm: sbatch refused the job array"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("no_such_partition"), std::string::npos) << r.output;
  Db& db = OpenDb();
  EXPECT_EQ(Text(db, "SELECT status, error LIKE 'not submitted: sbatch refused%' FROM trials"), "KILLED|1;KILLED|1;");
  std::vector<std::string> no_sbatch = cmd;
  no_sbatch.push_back("--slurm_bin_dir=" + dir_ + "/empty");
  std::filesystem::create_directories(dir_ + "/empty");
  const ProcResult m = RunProcess(no_sbatch, 60);
  EXPECT_EQ(Exit(m), 1) << m.output;
  EXPECT_NE(m.output.find("sbatch: not found"), std::string::npos) << m.output;
  EXPECT_EQ(Text(db, "SELECT COUNT(*) FROM trials WHERE status = 'RUNNING'"), "0;");
  // The same command with the cluster's default partition then runs both.
  const ProcResult ok = RunProcess(cmd, 60);
  EXPECT_EQ(Exit(ok), 0) << ok.output;
  EXPECT_EQ(Text(db, "SELECT status FROM trials"), "FINISHED;FINISHED;");
}

TEST_F(SlurmSweepTest, NoWaitSubmitsAndReturnsAndALaterRunIngests) {
  std::vector<std::string> cmd = Command(Grid("nowait", {{"NAME", {"fake+slow"}}, {"RPN_ANCHOR_STRIDE", {1, 2}}}, 10));
  std::vector<std::string> submit = cmd;
  submit.push_back("--no_wait");
  const ProcResult first = RunProcess(submit, 60);
  ASSERT_EQ(Exit(first), 0) << first.output;
  EXPECT_NE(first.output.find("not waiting (--no_wait): 2 trial(s)"), std::string::npos) << first.output;
  Db& db = OpenDb();
  EXPECT_EQ(Text(db, "SELECT COUNT(*) FROM trials WHERE status = 'RUNNING'"), "2;");
  // Wait for the tasks to end on the cluster, then follow the sweep again.
  for (int i = 0; i < 600 && !(std::filesystem::exists(dir_ + "/runs_slurm/nowait/trial_1/attempt_1.exit") &&
                                std::filesystem::exists(dir_ + "/runs_slurm/nowait/trial_2/attempt_1.exit"));
       ++i) {
    usleep(100 * 1000);
  }
  // compare ingests what arrived (3 provenance lines, 10 steps, COCO and a checkpoint per trial)...
  const ProcResult cmp = RunProcess({Arg("compare"), "runs", "--db=" + db_path_}, 60);
  ASSERT_EQ(Exit(cmp), 0) << cmp.output;
  EXPECT_NE(cmp.output.find("ingested 30 new report line(s)"), std::string::npos) << cmp.output;
  EXPECT_EQ(Text(db, "SELECT COUNT(*) FROM metrics WHERE key = 'loss'"), "20;");
  // ... and the sweep, run again, decides the trials' ends without a second copy of any row.
  const ProcResult second = RunProcess(cmd, 60);
  ASSERT_EQ(Exit(second), 0) << second.output;
  EXPECT_NE(second.output.find("re-attached to 2 trial(s)"), std::string::npos) << second.output;
  EXPECT_EQ(Text(db, "SELECT status, attempts FROM trials"), "FINISHED|1;FINISHED|1;");
  EXPECT_EQ(Text(db, "SELECT COUNT(*) FROM metrics WHERE key = 'loss'"), "20;");
}

TEST_F(SlurmSweepTest, CtrlCCancelsTheArrayAndMarksItsTrialsKilled) {
  Json spec = Grid("ctrlc", {{"NAME", {"fake+timed"}}, {"RPN_ANCHOR_STRIDE", {1, 2}}}, 2);
  spec["base"]["DETECTION_MAX_INSTANCES"] = 500;
  spec["trainer"] = {{"epochs", 20}};
  const std::vector<std::string> cmd = Command(spec);
  const pid_t pid = experiments_test::StartProcess(cmd, dir_ + "/out.txt");
  ASSERT_TRUE(experiments_test::WaitForValue(db_path_, "SELECT COUNT(*) >= 1 FROM metrics", "1", 60));
  ASSERT_EQ(kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  const std::string out = experiments_test::ReadFile(dir_ + "/out.txt");
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT) << out;
  Db& db = OpenDb();
  EXPECT_EQ(Text(db, "SELECT status, error LIKE 'interrupted%cancelled job%' FROM trials"), "KILLED|1;KILLED|1;");
  const std::string job = Text(db, "SELECT DISTINCT slurm_job_id FROM attempts");
  const ProcResult q =
      RunProcess({"/usr/bin/squeue", "-h", "-r", "-t", "all", "-o", "%T", "-j", job.substr(0, job.size() - 1)}, 30);
  EXPECT_EQ(q.output.find("RUNNING"), std::string::npos) << q.output;
  EXPECT_EQ(q.output.find("PENDING"), std::string::npos) << q.output;
}

}  // namespace
}  // namespace experiments

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  experiments_test::SetArgs(argc, argv);
  return RUN_ALL_TESTS();
}
