// A data-parallel sweep trial: `sweep --ranks_per_trial=2` runs each trial as `train --ranks=2` with the
// cores split as workers x ranks x threads; rank 0 alone logs the trial (metrics, COCO, checkpoint), and
// more ranks than cores are refused before anything starts.
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "experiments/log.h"
#include "experiments/store.h"
#include "gtest/gtest.h"
#include "tests/experiments/test_util.h"

namespace experiments {
namespace {

using experiments_test::Arg;
using experiments_test::NewTempDir;
using experiments_test::ProcResult;
using experiments_test::RunProcess;

// One trial of 2 steps of 2 images (1 per rank), COCO-evaluated on 2 images.
constexpr char kSpec[] = R"({
  "name": "ddp",
  "preset": "shapes",
  "base": {"STEPS_PER_EPOCH": 2, "VALIDATION_STEPS": 1, "IMAGES_PER_GPU": 2},
  "params": {"RPN_ANCHOR_STRIDE": [2]},
  "trainer": {"format": "shapes", "shapes_train": 4, "shapes_val": 2, "epochs": 1, "workers": 1,
              "log_every": 1}
})";

int64_t Count(Db& db, const std::string& sql) {
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows = db.QueryAll(sql, {});
  EXPECT_TRUE(rows.ok()) << rows.status() << " in " << sql;
  if (!rows.ok() || rows->empty() || !std::holds_alternative<int64_t>(rows->at(0).at(0))) return -1;
  return std::get<int64_t>(rows->at(0).at(0));
}

TEST(DataParallelSweepTest, TrialRunsAsTwoRanksAndRankZeroLogsIt) {
  const std::string dir = NewTempDir("ddp_sweep");
  const std::string spec = dir + "/ddp.json";
  std::ofstream(spec) << kSpec;
  const std::string db_path = dir + "/log.sqlite";
  const ProcResult r = RunProcess({Arg("sweep"), "--spec=" + spec, "--db=" + db_path, "--cores=2",
                                   "--ranks_per_trial=2", "--progress_interval_s=1"},
                                  300);
  ASSERT_FALSE(r.timed_out) << r.output;
  ASSERT_TRUE(WIFEXITED(r.wait_status) && WEXITSTATUS(r.wait_status) == 0) << r.output;
  EXPECT_NE(r.output.find("1 worker(s) x 2 ranks x 1 thread(s)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 finished, 0 failed"), std::string::npos) << r.output;

  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(db_path);
  ASSERT_TRUE(log.ok()) << log.status();
  Db& db = log->db();
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM trials WHERE status = 'FINISHED'"), 1);
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM coco_results"), 1);  // one epoch, logged once (rank 0)
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM checkpoints"), 1);
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM metrics WHERE key = 'loss'"), 2);  // steps 1 and 2, once each

  // The trial's log: the trainer ran as 2 ranks of 1 thread.
  std::string attempt_log;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.path().filename() == "attempt_1.log") attempt_log = e.path().string();
  }
  ASSERT_FALSE(attempt_log.empty());
  std::stringstream text;
  text << std::ifstream(attempt_log).rdbuf();
  EXPECT_NE(text.str().find("data-parallel: 2 ranks"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("1 threads per rank"), std::string::npos) << text.str();
}

TEST(DataParallelSweepTest, MoreRanksThanCoresAreRefused) {
  const std::string dir = NewTempDir("ddp_sweep_refused");
  const std::string spec = dir + "/ddp.json";
  std::ofstream(spec) << kSpec;
  const ProcResult r = RunProcess({Arg("sweep"), "--spec=" + spec, "--db=" + dir + "/log.sqlite", "--cores=2",
                                   "--workers=2", "--ranks_per_trial=2"},
                                  120);
  ASSERT_FALSE(r.timed_out) << r.output;
  EXPECT_TRUE(WIFEXITED(r.wait_status) && WEXITSTATUS(r.wait_status) != 0) << r.output;
  EXPECT_NE(r.output.find("exceeds the 2 cores"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace experiments

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  experiments_test::SetArgs(argc, argv);
  return RUN_ALL_TESTS();
}
