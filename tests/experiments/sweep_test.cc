// End to end: the product's `//experiments:sweep` binary with the REAL trainer (//experiments:train, found
// in the sweep's runfiles) on a tiny synthetic-shapes budget: every trial finishes and logs COCO results,
// and a rerun trains nothing and prints the same table.
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "eval/per_image.h"
#include "experiments/log.h"
#include "experiments/store.h"
#include "gtest/gtest.h"
#include "mrcnn/train/build_info.h"
#include "tests/experiments/test_util.h"

namespace experiments {
namespace {

using experiments_test::Arg;
using experiments_test::NewTempDir;
using experiments_test::ProcResult;
using experiments_test::RunProcess;

// Two trials (anchor stride 1 and 2) of 2 steps of 2 images each, COCO-evaluated on 2 images.
constexpr char kTinySpec[] = R"({
  "name": "tiny",
  "preset": "shapes",
  "base": {"STEPS_PER_EPOCH": 2, "VALIDATION_STEPS": 1, "IMAGES_PER_GPU": 2},
  "params": {"RPN_ANCHOR_STRIDE": [1, 2]},
  "trainer": {"format": "shapes", "shapes_train": 4, "shapes_val": 2, "epochs": 1, "workers": 1,
              "log_every": 1}
})";

int64_t Count(Db& db, const std::string& sql) {
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows = db.QueryAll(sql, {});
  EXPECT_TRUE(rows.ok()) << rows.status() << " in " << sql;
  if (!rows.ok() || rows->empty() || !std::holds_alternative<int64_t>(rows->at(0).at(0))) return -1;
  return std::get<int64_t>(rows->at(0).at(0));
}

// The comparison table: from the first blank line to the summary line.
std::string TableOf(const std::string& output) {
  const size_t start = output.find("\n\n");
  const size_t end = output.find("\nsweep 'tiny': ", start == std::string::npos ? 0 : start + 2);
  if (start == std::string::npos || end == std::string::npos) return "";
  return output.substr(start + 2, end - start - 2);
}

TEST(SweepTest, RealTrainerSweepLogsCocoAndARerunTrainsNothing) {
  const std::string dir = NewTempDir("sweep");
  const std::string spec = dir + "/tiny.json";
  std::ofstream(spec) << kTinySpec;
  const std::string db_path = dir + "/log.sqlite";
  const std::vector<std::string> sweep = {Arg("sweep"), "--spec=" + spec, "--db=" + db_path,
                                          "--cores=1", "--progress_interval_s=1"};

  // No --trial_binary: the sweep finds the trainer through its runfiles ($RUNFILES_DIR under test).
  const ProcResult first = RunProcess(sweep, 300);
  ASSERT_FALSE(first.timed_out) << first.output;
  ASSERT_TRUE(WIFEXITED(first.wait_status) && WEXITSTATUS(first.wait_status) == 0) << first.output;
  EXPECT_NE(first.output.find("1 worker(s) x 1 thread(s)"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("2 finished, 0 failed"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("2 attempt(s) started in this run"), std::string::npos) << first.output;

  int64_t metric_rows = 0;
  {
    absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(db_path);
    ASSERT_TRUE(log.ok()) << log.status();
    Db& db = log->db();
    EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM trials WHERE status = 'FINISHED'"), 2);
    EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM attempts"), 2);
    // Each trial logged one COCO result (one epoch) with all 24 stats: in [0, 1], or -1 where COCOeval
    // has nothing to average (e.g. no ground truth of an area range), and its budget.
    std::string stats_ok = "1";
    for (const char* iou : {"bbox", "segm"}) {
      for (const char* stat : {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs",
                               "ARm", "ARl"}) {
        absl::StrAppend(&stats_ok, " AND (", iou, "_", stat, " = -1 OR ", iou, "_", stat,
                        " BETWEEN 0 AND 1)");
      }
    }
    EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM coco_results"), 2);
    EXPECT_EQ(Count(db, "SELECT COUNT(DISTINCT trial_id) FROM coco_results WHERE " + stats_ok), 2);
    // Provenance as the trainer measured it: built in the same configuration as this test.
    const mrcnn::BuildInfo build = mrcnn::ThisBuild();
    EXPECT_EQ(Count(db, absl::StrCat("SELECT COUNT(*) FROM trials WHERE total_steps = 2 AND dataset_name = 'shapes' "
                                     "AND dataset_hash != '' AND compilation_mode = '", build.compilation_mode,
                                     "' AND libtorch_version = '", build.libtorch_version, "' AND cuda_version = '",
                                     build.cuda_version, "'")),
              2);
    // The runs view answers the README's question by typed params.
    EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM runs WHERE sweep = 'tiny' AND RPN_ANCHOR_STRIDE > 1 "
                        "AND segm_AP50 IS NOT NULL"),
              1);
    EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM checkpoints"), 2);
    // Every COCO evaluation kept its per-image results (bbox and segm) in a readable side file.
    EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM coco_per_image WHERE images = 2"), 4);
    absl::StatusOr<std::vector<std::vector<SqlValue>>> files =
        db.QueryAll("SELECT path FROM coco_per_image");
    ASSERT_TRUE(files.ok()) << files.status();
    for (const auto& f : *files) {
      const std::string path = dir + "/" + SqlValueText(f[0]);
      EXPECT_TRUE(mrcnn::eval::LoadPerImageEval(path).ok()) << path;
    }
    metric_rows = Count(db, "SELECT COUNT(*) FROM metrics");
    EXPECT_GT(metric_rows, 2 * 2);  // step losses, epoch losses, COCO metrics
  }
  // The trainer got the spec's flags: its log says how many images it trained on.
  const std::string trial_log =
      experiments_test::ReadFile(dir + "/experiments_runs/tiny/trial_1/attempt_1.log");
  EXPECT_NE(trial_log.find("data: 4 training and 2 validation images"), std::string::npos) << trial_log;

  // The rerun trains nothing and prints the same table. It runs without RUNFILES_DIR/TEST_SRCDIR, so the
  // trainer is found from the binary's own location instead.
  std::vector<std::string> rerun = {"/usr/bin/env", "-u", "RUNFILES_DIR", "-u", "TEST_SRCDIR", "-u",
                                    "RUNFILES_MANIFEST_FILE"};
  rerun.insert(rerun.end(), sweep.begin(), sweep.end());
  const ProcResult second = RunProcess(rerun, 60);
  ASSERT_FALSE(second.timed_out) << second.output;
  ASSERT_TRUE(WIFEXITED(second.wait_status) && WEXITSTATUS(second.wait_status) == 0) << second.output;
  EXPECT_NE(second.output.find("0 attempt(s) started in this run"), std::string::npos) << second.output;
  const std::string table = TableOf(first.output);
  EXPECT_NE(table.find("RPN_ANCHOR_STRIDE"), std::string::npos) << first.output;
  EXPECT_NE(table.find("segm_AP50"), std::string::npos) << first.output;
  EXPECT_EQ(TableOf(second.output), table) << second.output;
  // The grid's one key, stride 2 against stride 1, with intervals from the per-image results.
  EXPECT_NE(first.output.find("RPN_ANCHOR_STRIDE: paired bootstrap against the first value"),
            std::string::npos)
      << first.output;
  EXPECT_NE(first.output.find("ci95 low"), std::string::npos) << first.output;
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(db_path);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(Count(log->db(), "SELECT COUNT(*) FROM attempts"), 2);
  EXPECT_EQ(Count(log->db(), "SELECT COUNT(*) FROM metrics"), metric_rows);

  // Typos in the spec's trainer flags are found by the trainer itself before the sweep is created,
  // instead of failing every trial three times.
  for (const auto& [flag, message] : std::vector<std::pair<std::string, std::string>>{
           {R"("epochz": 3)", "unknown command line flag 'epochz'"},
           {R"("format": "shapez")", "--format=shapez: expected shapes, tutorial, coco or labelme"},
           {R"("format": "coco", "dataset_dir": "/no/such/folder")", "--dataset_dir=/no/such/folder: folder not found"}}) {
    const std::string typo_spec = dir + "/typo.json";
    std::ofstream(typo_spec) << R"({"name": "typo", "params": {"RPN_ANCHOR_STRIDE": [1]}, "trainer": {)" << flag
                             << "}}";
    const std::string typo_db = dir + "/typo.sqlite";
    const ProcResult typo = RunProcess({Arg("sweep"), "--spec=" + typo_spec, "--db=" + typo_db}, 60);
    EXPECT_TRUE(WIFEXITED(typo.wait_status) && WEXITSTATUS(typo.wait_status) == 1) << typo.output;
    EXPECT_NE(typo.output.find("the spec's \"trainer\" flags"), std::string::npos) << typo.output;
    EXPECT_NE(typo.output.find(message), std::string::npos) << typo.output;
    EXPECT_FALSE(std::filesystem::exists(typo_db)) << flag;
  }

  // A trial binary that does not exist is a clear error, not a crash.
  const ProcResult bad = RunProcess({Arg("sweep"), "--spec=" + spec, "--db=" + dir + "/other.sqlite",
                                     "--trial_binary=" + dir + "/no_such_trainer"},
                                    60);
  EXPECT_TRUE(WIFEXITED(bad.wait_status) && WEXITSTATUS(bad.wait_status) == 1) << bad.output;
  EXPECT_NE(bad.output.find("no_such_trainer: not an executable file"), std::string::npos) << bad.output;
}

// The same two points under ASHA (rungs at epochs 1 and 2) and trained straight through 2 epochs.
std::string SchedulerSpecs(const std::string& dir) {
  const std::string points = R"(
  "preset": "shapes",
  "base": {"STEPS_PER_EPOCH": 2, "VALIDATION_STEPS": 1, "IMAGES_PER_GPU": 2},
  "params": {"RPN_ANCHOR_STRIDE": [1, 2]},)";
  const std::string trainer = R"(
  "trainer": {"format": "shapes", "shapes_train": 4, "shapes_val": 2, "workers": 1, "log_every": 1,
              "coco_images": 2)";
  std::ofstream(dir + "/asha.json") << "{\"name\": \"asha\"," << points << trainer << R"(},
  "scheduler": {"type": "asha", "metric": "epoch_loss", "min_epochs": 1, "max_epochs": 2, "eta": 2}})";
  std::ofstream(dir + "/straight.json") << "{\"name\": \"straight\"," << points << trainer
                                        << R"(, "epochs": 2}})";
  return dir;
}

// (step, value) rows of `key` as text, for a trial given by its sweep and stride: the straight trial's
// own rows, or the promoted trial's curve across its attempts.
std::string CurveText(Db& db, const std::string& sweep, int stride, const std::string& key) {
  absl::StatusOr<std::vector<std::vector<SqlValue>>> t = db.QueryAll(
      "SELECT t.id, t.attempts FROM trials t JOIN sweeps s ON s.id = t.sweep_id JOIN params p "
      "ON p.trial_id = t.id AND p.key = 'RPN_ANCHOR_STRIDE' WHERE s.name = ? AND p.value = ?",
      {sweep, static_cast<int64_t>(stride)});
  EXPECT_TRUE(t.ok() && t->size() == 1);
  if (!t.ok() || t->size() != 1) return "";
  absl::StatusOr<std::vector<std::pair<int64_t, double>>> c =
      Curve(db, std::get<int64_t>(t->at(0)[0]), static_cast<int>(std::get<int64_t>(t->at(0)[1])), key);
  EXPECT_TRUE(c.ok());
  std::string out;
  for (const auto& [step, value] : *c) absl::StrAppend(&out, step, ":", absl::StrFormat("%.17g", value), " ");
  return out;
}

TEST(SweepTest, PromotedTrialContinuesExactlyAsIfTrainedStraightThrough) {
  const std::string dir = SchedulerSpecs(NewTempDir("promote"));
  const std::string db_path = dir + "/log.sqlite";
  for (const char* spec : {"asha", "straight"}) {
    const ProcResult r = RunProcess({Arg("sweep"), absl::StrCat("--spec=", dir, "/", spec, ".json"),
                                     "--db=" + db_path, "--cores=1", "--progress_interval_s=1"},
                                    300);
    ASSERT_TRUE(WIFEXITED(r.wait_status) && WEXITSTATUS(r.wait_status) == 0) << r.output;
  }
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(db_path);
  ASSERT_TRUE(log.ok()) << log.status();
  Db& db = log->db();
  // One trial reached epoch 2 through a promotion (2 attempts, the second resumed from the first's
  // checkpoint at step 2); the other was pruned at epoch 1.
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE "
                      "s.name = 'asha' AND t.status = 'FINISHED' AND t.attempts = 2"),
            1);
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM attempts a JOIN trials t ON t.id = a.trial_id JOIN sweeps s "
                      "ON s.id = t.sweep_id WHERE s.name = 'asha' AND a.attempt = 2 AND "
                      "a.resumed_from = 1 AND a.resume_step = 2"),
            1);
  absl::StatusOr<SqlValue> promoted = db.QueryValue(
      "SELECT p.value FROM trials t JOIN sweeps s ON s.id = t.sweep_id JOIN params p ON p.trial_id = t.id "
      "AND p.key = 'RPN_ANCHOR_STRIDE' WHERE s.name = 'asha' AND t.status = 'FINISHED'");
  ASSERT_TRUE(promoted.ok() && std::holds_alternative<int64_t>(*promoted));
  const int stride = static_cast<int>(std::get<int64_t>(*promoted));
  // Value for value: every step loss, the epoch losses and the COCO AP of both epochs.
  for (const char* key : {"loss", "mrcnn_mask_loss", "epoch_loss", "segm_AP", "bbox_AP50"}) {
    const std::string promoted_curve = CurveText(db, "asha", stride, key);
    EXPECT_FALSE(promoted_curve.empty()) << key;
    EXPECT_EQ(promoted_curve, CurveText(db, "straight", stride, key)) << key;
  }
  EXPECT_EQ(CurveText(db, "asha", stride, "loss").substr(0, 2), "1:");
  // Training time counts the whole run: the resumed attempt continues from the checkpoint's total.
  absl::StatusOr<std::vector<std::vector<SqlValue>>> seconds = db.QueryAll(
      "SELECT m.attempt, m.value FROM metrics m JOIN trials t ON t.id = m.trial_id JOIN sweeps s ON "
      "s.id = t.sweep_id WHERE s.name = 'asha' AND t.status = 'FINISHED' AND m.key = 'train_seconds' "
      "ORDER BY m.step",
      {});
  ASSERT_TRUE(seconds.ok() && seconds->size() == 2u);
  EXPECT_EQ(std::get<int64_t>(seconds->at(1)[0]), 2);
  EXPECT_GT(std::get<double>(seconds->at(1)[1]), std::get<double>(seconds->at(0)[1]));
}

TEST(SweepTest, DefaultSpecPlansTheStrideByMiniMaskGrid) {
  const ProcResult r = RunProcess({Arg("sweep"), "--print_default_spec"}, 30);
  ASSERT_TRUE(WIFEXITED(r.wait_status) && WEXITSTATUS(r.wait_status) == 0) << r.output;
  EXPECT_NE(r.output.find("\"RPN_ANCHOR_STRIDE\": [1, 2]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\"USE_MINI_MASK\": [false, true]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\"preset\": \"shapes\""), std::string::npos) << r.output;
}

}  // namespace
}  // namespace experiments

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  experiments_test::SetArgs(argc, argv);
  return RUN_ALL_TESTS();
}
