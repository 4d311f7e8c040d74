// Sweeps under a scheduler, end to end with the FAKE trial binary (tests/experiments/fake_trial), whose
// scripted curves are segm_AP(e) = RPN_NMS_THRESHOLD + DETECTION_NMS_THRESHOLD * (1 - 1 / e): the
// exact promotions and prunings in their asynchronous order (worked out by hand below), resume from
// checkpoints on promotion and on retry, a trial without the metric, and a SIGKILLed coordinator.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "absl/strings/str_join.h"
#include "experiments/compare.h"
#include "experiments/coordinator.h"
#include "experiments/report.h"
#include "experiments/log.h"
#include "experiments/store.h"
#include "gtest/gtest.h"
#include "tests/experiments/test_util.h"

namespace experiments {
namespace {

using experiments_test::Arg;
using Json = nlohmann::json;

std::string Text(Db& db, const std::string& sql, const std::vector<SqlValue>& params = {}) {
  return experiments_test::QueryText(db, sql, params);
}

// Four trials, by ordinal (= trial id - 1), with their scripted segm_AP at epochs 1, 2, 4:
//   #1 D=0.1 R=0.3: 0.30 0.35 0.375     #2 D=0.1 R=0.5: 0.50 0.55 0.575
//   #3 D=0.6 R=0.3: 0.30 0.60 0.75      #4 D=0.6 R=0.5: 0.50 0.80 0.95
// ASHA, eta 2, rungs at epochs 1, 2, 4.
Json Spec(const std::string& name, const std::string& trial_name = "fake") {
  return {{"name", name},
          {"base", {{"STEPS_PER_EPOCH", 2}, {"NAME", trial_name}}},
          {"params", {{"DETECTION_NMS_THRESHOLD", {0.1, 0.6}}, {"RPN_NMS_THRESHOLD", {0.3, 0.5}}}},
          {"scheduler",
           {{"type", "asha"}, {"metric", "segm_AP"}, {"min_epochs", 1}, {"max_epochs", 4}, {"eta", 2}}}};
}

class ScheduledSweepTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = experiments_test::NewTempDir("sched");
    options_.db_path = dir_ + "/log.sqlite";
    options_.trial_binary = Arg("fake_trial");
    options_.cores = 2;
    options_.workers = 1;
    options_.heartbeat_s = 0.2;
    options_.kill_grace_s = 2;
    options_.progress_interval_s = 100;
    options_.retries = 1;
    options_.out = &progress_;
  }
  SweepPlan Plan(const Json& spec) {
    absl::StatusOr<SweepPlan> p = PlanSweep(spec, "spec");
    EXPECT_TRUE(p.ok()) << p.status();
    return *p;
  }
  Db& OpenDb() {
    absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(options_.db_path);
    EXPECT_TRUE(log.ok()) << log.status();
    log_.emplace(std::move(*log));
    return log_->db();
  }
  std::vector<std::string> Command(const Json& spec) {
    const std::string spec_path = dir_ + "/spec.json";
    std::ofstream(spec_path) << spec.dump();
    return {Arg("sweep"), "--spec=" + spec_path, "--trial_binary=" + Arg("fake_trial"),
            "--db=" + options_.db_path, "--cores=2", "--workers=1", "--heartbeat_s=0.2",
            "--progress_interval_s=100", "--runs_dir=" + dir_ + "/runs"};
  }
  std::string dir_;
  SweepOptions options_;
  std::ostringstream progress_;
  std::optional<ExperimentLog> log_;
};

// The lines the coordinator printed that contain `what`, in order, cut at the first ':'.
std::vector<std::string> Lines(const std::string& out, const std::string& what) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) {
    if (l.find(what) != std::string::npos) lines.push_back(l.substr(0, l.find(':')));
  }
  return lines;
}

TEST_F(ScheduledSweepTest, AshaPromotesAndPrunesExactlyAsWorkedOutByHand) {
  absl::StatusOr<SweepOutcome> r = RunSweep(Plan(Spec("asha")), options_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->counts.finished, 1);
  EXPECT_EQ(r->counts.pruned, 3);
  EXPECT_EQ(r->counts.paused, 0);
  EXPECT_EQ(r->trials_started, 7);
  // One worker, by hand: #1 and #2 run rung 0; with 2 results the top 1 (#2) is promoted at once,
  // before #3 and #4 ran at all (nobody waits for a rung to fill). #2 reaches epoch 2 alone (top 0 of
  // 1). #3, then #4 run rung 0; with all four reported, no trial can reach rung 0 any more: it closes,
  // #1 and #3 (0.3) are pruned outside its top 2, and #4 (0.5, tied with #2, after it by order) is
  // promoted. #4 reports 0.8 at epoch 2; rung 1 closes: #2 (0.55) is pruned, #4 goes on to epoch 4.
  const std::string out = progress_.str();
  EXPECT_EQ(Lines(out, " promoted from ").size() + Lines(out, " PRUNED at ").size(), 6u) << out;
  std::vector<std::string> decisions;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) {
    if (l.find(" promoted from ") != std::string::npos || l.find(" PRUNED at ") != std::string::npos) {
      decisions.push_back(l.substr(0, l.find(" (epoch")));
    }
  }
  EXPECT_EQ(decisions, (std::vector<std::string>{
                           "trial #2 promoted from rung 0", "trial #1 PRUNED at rung 0",
                           "trial #3 PRUNED at rung 0", "trial #4 promoted from rung 0",
                           "trial #2 PRUNED at rung 1", "trial #4 promoted from rung 1"}))
      << out;
  Db& db = OpenDb();
  EXPECT_EQ(Text(db, "SELECT trial_id, attempt, status, resumed_from, resume_step, stop_at_epoch "
                     "FROM attempts ORDER BY started_at"),
            "1|1|PAUSED|||1;2|1|PAUSED|||1;2|2|PAUSED|1|2|2;3|1|PAUSED|||1;4|1|PAUSED|||1;"
            "4|2|PAUSED|1|2|2;4|3|FINISHED|2|4|4;");
  EXPECT_EQ(Text(db, "SELECT trial_id, rung, epoch, round(value, 6), decision FROM rung_results "
                     "ORDER BY trial_id, rung"),
            "1|0|1|0.3|pruned;2|0|1|0.5|promoted;2|1|2|0.55|pruned;3|0|1|0.3|pruned;"
            "4|0|1|0.5|promoted;4|1|2|0.8|promoted;4|2|4|0.95|final;");
  EXPECT_EQ(Text(db, "SELECT id, status, rung, epochs_trained FROM trials ORDER BY id"),
            "1|PRUNED|0|1;2|PRUNED|1|2;3|PRUNED|0|1;4|FINISHED|2|4;");
  // The promoted trial's curve is the straight-through one: steps 1..8 once each, loss 1 / step, and
  // segm_AP at the end of each epoch 1..4 (0.5, 0.8, 0.9, 0.95); no epoch was trained twice.
  absl::StatusOr<std::vector<std::pair<int64_t, double>>> loss = Curve(db, 4, 3, "loss");
  ASSERT_TRUE(loss.ok()) << loss.status();
  ASSERT_EQ(loss->size(), 8u);
  for (int64_t g = 1; g <= 8; ++g) {
    EXPECT_EQ((*loss)[g - 1].first, g);
    EXPECT_DOUBLE_EQ((*loss)[g - 1].second, 1.0 / static_cast<double>(g));
  }
  absl::StatusOr<std::vector<std::pair<int64_t, double>>> ap = Curve(db, 4, 3, "segm_AP");
  ASSERT_TRUE(ap.ok());
  ASSERT_EQ(ap->size(), 4u);
  EXPECT_NEAR((*ap)[2].second, 0.5 + 0.6 * (1 - 1.0 / 3), 1e-12);
  EXPECT_EQ(Text(db, "SELECT COUNT(*) FROM metrics WHERE trial_id = 4 AND key = 'loss'"), "8;");
  // The summary of the last attempt covers the whole curve.
  EXPECT_EQ(Text(db, "SELECT n, round(best_value, 6), last_step FROM metric_summary WHERE trial_id = 4 "
                     "AND attempt = 3 AND key = 'segm_AP'"),
            "4|0.95|8;");
  // compare: ranked by the metric at the highest rung reached (more epochs first), with the budget.
  absl::StatusOr<Table> ranked = BestRuns(db, "asha", "segm_AP", "last", 3);
  ASSERT_TRUE(ranked.ok()) << ranked.status();
  ASSERT_EQ(ranked->rows.size(), 3u);
  EXPECT_EQ(absl::StrJoin(ranked->columns, ","),
            "rank,trial_id,status,rung,epochs,SEED,DETECTION_NMS_THRESHOLD,RPN_NMS_THRESHOLD,"
            "segm_AP@rung,error");
  // #4 reached epoch 4 (0.95), #2 epoch 2 (0.55), then #1 and #3 at epoch 1 (0.3, tie: by id).
  const std::vector<std::tuple<int64_t, std::string, int64_t, double>> want = {
      {4, "FINISHED", 4, 0.95}, {2, "PRUNED", 2, 0.55}, {1, "PRUNED", 1, 0.3}};
  for (size_t i = 0; i < want.size(); ++i) {
    const std::vector<SqlValue>& row = ranked->rows[i];
    EXPECT_EQ(std::get<int64_t>(row[1]), std::get<0>(want[i])) << i;
    EXPECT_EQ(std::get<std::string>(row[2]), std::get<1>(want[i])) << i;
    EXPECT_EQ(std::get<int64_t>(row[4]), std::get<2>(want[i])) << i;
    EXPECT_NEAR(std::get<double>(row[8]), std::get<3>(want[i]), 1e-12) << i;
  }
  const std::string notes = absl::StrJoin(ranked->notes, "\n");
  EXPECT_NE(notes.find("at the highest rung each trial reached"), std::string::npos) << notes;
  EXPECT_NE(notes.find("budget: 8 of 16 epochs (50.0%), 16 of 32 training steps"), std::string::npos)
      << notes;
  EXPECT_FALSE(BestRuns(db, "asha", "segm_AP", "best", 3).ok());
  absl::StatusOr<Table> runs = ListRuns(db, "asha", {"segm_AP"}, "last");
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(absl::StrJoin(runs->columns, ","),
            "trial_id,sweep,status,attempts,rung,epochs,SEED,DETECTION_NMS_THRESHOLD,RPN_NMS_THRESHOLD,"
            "segm_AP,error");
  ReportOptions ro;
  ro.metric = "segm_AP";
  ro.curve = "loss";
  absl::StatusOr<std::string> html = HtmlReport(db, "asha", ro);
  ASSERT_TRUE(html.ok()) << html.status();
  EXPECT_NE(html->find("budget: 8 of 16 epochs"), std::string::npos);
  EXPECT_NE(html->find("<th>rung</th><th>epochs</th>"), std::string::npos);

  // The same sweep again decides nothing new and runs nothing.
  const std::string before = Text(db, "SELECT * FROM rung_results ORDER BY trial_id, rung");
  absl::StatusOr<SweepOutcome> again = RunSweep(Plan(Spec("asha")), options_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->trials_started, 0);
  EXPECT_EQ(Text(db, "SELECT * FROM rung_results ORDER BY trial_id, rung"), before);
}

TEST_F(ScheduledSweepTest, AFailedRungResumesFromItsLastCheckpointNotFromScratch) {
  // Two trials with equal curves: #1 wins the tie at rung 0 by its order, is promoted to epoch 2 and
  // fails right after epoch 2's checkpoint on that attempt; #2 is pruned.
  Json spec = Spec("retry");
  spec["params"] = {{"NAME", {"fake+fail_epoch2", "b"}}};
  spec["base"]["RPN_NMS_THRESHOLD"] = 0.5;
  spec["base"]["DETECTION_NMS_THRESHOLD"] = 0.2;
  spec["scheduler"]["max_epochs"] = 2;
  absl::StatusOr<SweepOutcome> r = RunSweep(Plan(spec), options_);
  ASSERT_TRUE(r.ok()) << r.status();
  Db& db = OpenDb();
  // Attempt 2 trained epoch 2 and failed; attempt 3 continued from epoch 2's checkpoint (step 4), so it
  // trained nothing and the rung's result is epoch 2's value from attempt 2: 0.5 + 0.2 / 2.
  EXPECT_EQ(Text(db, "SELECT attempt, status, exit_code, resumed_from, resume_step FROM attempts "
                     "WHERE trial_id = 1 ORDER BY attempt"),
            "1|PAUSED|0||;2|FAILED|3|1|2;3|FINISHED|0|2|4;");
  EXPECT_EQ(Text(db, "SELECT attempt, COUNT(*) FROM metrics WHERE trial_id = 1 AND key = 'loss' "
                     "GROUP BY attempt"),
            "1|2;2|2;");
  EXPECT_EQ(Text(db, "SELECT rung, round(value, 6), attempt, decision FROM rung_results WHERE trial_id = 1 "
                     "ORDER BY rung"),
            "0|0.5|1|promoted;1|0.6|3|final;");
  EXPECT_EQ(Text(db, "SELECT id, status, failures FROM trials ORDER BY id"),
            "1|FINISHED|1;2|PRUNED|0;");
}

TEST_F(ScheduledSweepTest, ACleanExitWithoutTheMetricIsAFailureUpToTheRetryLimit) {
  Json spec = Spec("nometric", "fake+no_metric");
  spec["params"] = {{"RPN_NMS_THRESHOLD", {0.5}}};
  absl::StatusOr<SweepOutcome> r = RunSweep(Plan(spec), options_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->counts.failed, 1);
  Db& db = OpenDb();
  EXPECT_EQ(Text(db, "SELECT attempts, failures, status FROM trials"), "2|2|FAILED;");
  const std::string error = Text(db, "SELECT error FROM attempts WHERE attempt = 1");
  EXPECT_NE(error.find("exited 0 but reported no segm_AP at epoch 1"), std::string::npos) << error;
  EXPECT_EQ(Text(db, "SELECT COUNT(*) FROM rung_results"), "0;");
}

TEST_F(ScheduledSweepTest, MedianRulePrunesAtOnceBelowTheRunningMedian) {
  Json spec = Spec("median");
  spec["scheduler"] = {{"type", "median"}, {"metric", "segm_AP"}, {"min_epochs", 1}, {"max_epochs", 2},
                       {"min_samples", 2}};
  absl::StatusOr<SweepOutcome> r = RunSweep(Plan(spec), options_);
  ASSERT_TRUE(r.ok()) << r.status();
  Db& db = OpenDb();
  // One worker: #1 (0.3) is alone: continues to epoch 2 before #2 starts (continuations go first).
  // #2 (0.5): median of {0.3, 0.5} is 0.4: continues. #3 (0.3): median of {0.3, 0.5, 0.3} is 0.3:
  // continues (at least the median). #4 (0.5): median of four is 0.4: continues. So with these curves
  // everyone continues; #1's epoch-2 value is final.
  EXPECT_EQ(Text(db, "SELECT trial_id, rung, decision FROM rung_results ORDER BY trial_id, rung"),
            "1|0|promoted;1|1|final;2|0|promoted;2|1|final;3|0|promoted;3|1|final;4|0|promoted;4|1|final;");
  // A point that starts lower than the median of those before it stops at once.
  spec["name"] = "median2";
  spec["params"]["RPN_NMS_THRESHOLD"] = {0.3, 0.5, 0.1};
  spec["params"]["DETECTION_NMS_THRESHOLD"] = {0.1};
  r = RunSweep(Plan(spec), options_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Text(db, "SELECT t.ordinal, r.decision FROM rung_results r JOIN trials t ON t.id = r.trial_id "
                     "JOIN sweeps s ON s.id = t.sweep_id WHERE s.name = 'median2' AND r.rung = 0 "
                     "ORDER BY t.ordinal"),
            "0|promoted;1|promoted;2|pruned;");
  EXPECT_EQ(Text(db, "SELECT t.status FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE "
                     "s.name = 'median2' ORDER BY t.ordinal"),
            "FINISHED;FINISHED;PRUNED;");
}

TEST_F(ScheduledSweepTest, HyperbandDealsTrialsToBracketsThatStartAtDifferentBudgets) {
  Json spec = Spec("hyperband");
  spec["scheduler"] = {{"type", "hyperband"}, {"metric", "segm_AP"}, {"min_epochs", 1}, {"max_epochs", 2},
                       {"eta", 2}};
  absl::StatusOr<SweepOutcome> r = RunSweep(Plan(spec), options_);
  ASSERT_TRUE(r.ok()) << r.status();
  Db& db = OpenDb();
  // Two brackets: ordinals 0 and 2 start at epoch 1 (rungs 1, 2), ordinals 1 and 3 train straight to
  // epoch 2. In bracket 0, #1 and #3 tie at 0.3 after epoch 1: #1 goes on by order, #3 is pruned
  // (although its curve would have passed #1's: that is the price of deciding at epoch 1).
  EXPECT_EQ(Text(db, "SELECT trial_id, attempt, stop_at_epoch FROM attempts ORDER BY started_at"),
            "1|1|1;2|1|2;3|1|1;1|2|2;4|1|2;");
  EXPECT_EQ(Text(db, "SELECT id, status, epochs_trained FROM trials ORDER BY id"),
            "1|FINISHED|2;2|FINISHED|2;3|PRUNED|1;4|FINISHED|2;");
}

TEST_F(ScheduledSweepTest, BadSchedulerSpecIsRefusedBeforeTheLogIsWritten) {
  Json spec = Spec("bad");
  spec["scheduler"]["eta"] = 1;
  experiments_test::ProcResult r = experiments_test::RunProcess(Command(spec), 30);
  ASSERT_TRUE(WIFEXITED(r.wait_status));
  EXPECT_EQ(WEXITSTATUS(r.wait_status), 1);
  EXPECT_NE(r.output.find("scheduler.eta: must be an integer >= 2, got 1"), std::string::npos) << r.output;
  spec["scheduler"]["eta"] = 2;
  spec["scheduler"]["metric"] = "segm_mAP";
  r = experiments_test::RunProcess(Command(spec), 30);
  EXPECT_NE(r.output.find("scheduler.metric: no trial reports \"segm_mAP\""), std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(options_.db_path));
}

TEST_F(ScheduledSweepTest, SigkilledCoordinatorBetweenRungsMakesTheSameDecisionsOnResume) {
  // The reference: the same sweep uninterrupted, in its own log.
  const std::string reference_db = dir_ + "/reference.sqlite";
  {
    SweepOptions o = options_;
    o.db_path = reference_db;
    absl::StatusOr<SweepOutcome> r = RunSweep(Plan(Spec("killed", "fake+timed")), o);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  // "timed": each step sleeps DETECTION_MAX_INSTANCES ms (20 in the shapes preset).
  const std::vector<std::string> cmd = Command(Spec("killed", "fake+timed"));
  const pid_t pid = experiments_test::StartProcess(cmd, dir_ + "/first.txt");
  // Killed once the first promotion has been decided, i.e. between rungs.
  ASSERT_TRUE(experiments_test::WaitForValue(options_.db_path,
                      "SELECT COUNT(*) FROM rung_results WHERE decision = 'promoted'", "1"));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
  experiments_test::ProcResult second = experiments_test::RunProcess(cmd, 120);
  ASSERT_TRUE(WIFEXITED(second.wait_status)) << second.output;
  EXPECT_EQ(WEXITSTATUS(second.wait_status), 0) << second.output;

  absl::StatusOr<ExperimentLog> ref = ExperimentLog::Open(reference_db);
  ASSERT_TRUE(ref.ok());
  const std::string decisions = "SELECT trial_id, rung, epoch, round(value, 9), decision FROM rung_results "
                                "ORDER BY trial_id, rung";
  const std::string states = "SELECT id, status, rung, epochs_trained FROM trials ORDER BY id";
  Db& db = OpenDb();
  EXPECT_EQ(Text(db, decisions), Text(ref->db(), decisions)) << second.output;
  EXPECT_EQ(Text(db, states), Text(ref->db(), states));
  // Every curve holds each step once: no duplicate rows, nothing lost.
  for (int64_t id = 1; id <= 4; ++id) {
    const std::string last = Text(db, "SELECT attempts FROM trials WHERE id = ?", {id});
    absl::StatusOr<std::vector<std::pair<int64_t, double>>> c =
        Curve(db, id, std::stoi(last.substr(0, last.size() - 1)), "loss");
    ASSERT_TRUE(c.ok());
    const std::string epochs = Text(db, "SELECT epochs_trained FROM trials WHERE id = ?", {id});
    ASSERT_EQ(static_cast<int>(c->size()), 2 * std::stoi(epochs.substr(0, epochs.size() - 1))) << id;
    for (size_t i = 0; i < c->size(); ++i) EXPECT_EQ((*c)[i].first, static_cast<int64_t>(i + 1)) << id;
  }
}

}  // namespace
}  // namespace experiments

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  experiments_test::SetArgs(argc, argv);
  return RUN_ALL_TESTS();
}
