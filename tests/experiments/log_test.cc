// Tests of the experiment log (schema, migrations, bad files) and the trial API.
#include "experiments/log.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "eval/per_image.h"
#include "experiments/spec.h"
#include "experiments/store.h"
#include "experiments/trial.h"
#include "gtest/gtest.h"
#include "tests/experiments/test_util.h"

namespace experiments {
namespace {

using experiments_test::NewTempDir;

int64_t Int(Db& db, const std::string& sql) {
  absl::StatusOr<SqlValue> v = db.QueryValue(sql);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() && std::holds_alternative<int64_t>(*v) ? std::get<int64_t>(*v) : -1;
}

std::string Text(Db& db, const std::string& sql) {
  absl::StatusOr<SqlValue> v = db.QueryValue(sql);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? SqlValueText(*v) : "";
}

// Runs SQL on a file with the plain SQLite API, outside the code under test.
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

// A one-point sweep with `n` seeds, materialised; returns the sweep id.
int64_t MakeSweep(Db& db, const std::string& name, int n) {
  nlohmann::json spec = {{"name", name},
                         {"params", {{"RPN_ANCHOR_STRIDE", {1}}}},
                         {"seeds", n}};
  absl::StatusOr<SweepPlan> plan = PlanSweep(spec, "test spec");
  EXPECT_TRUE(plan.ok()) << plan.status();
  absl::StatusOr<int64_t> id = MaterializeSweep(db, *plan);
  EXPECT_TRUE(id.ok()) << id.status();
  return id.value_or(-1);
}

ClaimPolicy Policy() {
  ClaimPolicy p;
  p.host = "testhost";
  p.coordinator_pid = getpid();
  return p;
}

TEST(LogTest, FreshFileGetsSchemaIdAndWal) {
  const std::string path = NewTempDir("log") + "/x.sqlite";
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  Db& db = log->db();
  EXPECT_EQ(Int(db, "PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(Int(db, "PRAGMA application_id"), kApplicationId);
  EXPECT_EQ(Text(db, "PRAGMA journal_mode"), "wal");
  for (const char* table : {"sweeps", "trials", "attempts", "params", "metrics", "coco_results",
                            "coco_class_ap", "checkpoints", "metric_summary"}) {
    EXPECT_EQ(Int(db, std::string("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
                                  "name = '") + table + "'"),
              1)
        << table;
  }
  for (const char* view : {"runs", "trial_params", "metric_last", "coco_last"}) {
    EXPECT_EQ(Int(db, std::string("SELECT COUNT(*) FROM sqlite_master WHERE type = 'view' AND "
                                  "name = '") + view + "'"),
              1)
        << view;
  }
  // Reopening changes nothing.
  absl::StatusOr<ExperimentLog> again = ExperimentLog::Open(path);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Int(again->db(), "PRAGMA user_version"), kSchemaVersion);
}

TEST(LogTest, DbPathFollowsFlagThenWorkspace) {
  EXPECT_EQ(ResolveDbPath("/a/b.sqlite"), "/a/b.sqlite");
  setenv("BUILD_WORKSPACE_DIRECTORY", "/ws", 1);
  EXPECT_EQ(ResolveDbPath(""), "/ws/experiments.sqlite");
  EXPECT_EQ(ResolveDbPath("mine.sqlite"), "mine.sqlite");
  setenv("BUILD_WORKING_DIRECTORY", "/ws/sub", 1);
  EXPECT_EQ(ResolveDbPath("mine.sqlite"), "/ws/sub/mine.sqlite");
  EXPECT_EQ(ResolveDbPath("/abs.sqlite"), "/abs.sqlite");
  EXPECT_EQ(ResolveUserPath("spec.json"), "/ws/sub/spec.json");
  unsetenv("BUILD_WORKING_DIRECTORY");
  EXPECT_EQ(ResolveUserPath("spec.json"), "spec.json");
  unsetenv("BUILD_WORKSPACE_DIRECTORY");
  EXPECT_EQ(ResolveDbPath(""), "experiments.sqlite");
}

TEST(LogTest, MigratesVersion1KeepingRowsAndBackfillsSummary) {
  const std::string path = NewTempDir("log") + "/old.sqlite";
  {
    ExperimentLog::Options o;
    o.target_version = 1;
    absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path, o);
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ(Int(log->db(), "PRAGMA user_version"), 1);
    EXPECT_EQ(Int(log->db(), "SELECT COUNT(*) FROM sqlite_master WHERE name = 'metric_summary'"), 0);
  }
  // Rows as a version-1 build would have written them.
  RawExec(path,
          "INSERT INTO sweeps VALUES (1, 's', '{}', 0, 1, 0);"
          "INSERT INTO trials (id, sweep_id, ordinal, seed, config_json, config_hash, point_hash, "
          "status, attempts) VALUES (7, 1, 0, 0, '{}', 'h', 'p', 'FINISHED', 1);"
          "INSERT INTO metrics VALUES (7, 1, 'loss', 0, 0, 3.0, 1), (7, 1, 'loss', 1, 0, 1.0, 2),"
          " (7, 1, 'loss', 2, 0, 2.0, 3), (7, 1, 'acc', 0, 0, 0.2, 1), (7, 1, 'acc', 1, 0, 0.9, 2),"
          " (7, 1, 'acc', 2, 0, 0.5, 3);");
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  Db& db = log->db();
  EXPECT_EQ(Int(db, "PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(Int(db, "SELECT COUNT(*) FROM metrics"), 6);
  // By hand: loss is minimised (best 1.0 at step 1), acc maximised (best 0.9 at step 1); last at step 2.
  EXPECT_EQ(Text(db, "SELECT goal || ' ' || n || ' ' || last_value || ' ' || last_step || ' ' || "
                     "best_value || ' ' || best_step FROM metric_summary WHERE key = 'loss'"),
            "min 3 2.0 2 1.0 1");
  EXPECT_EQ(Text(db, "SELECT goal || ' ' || n || ' ' || last_value || ' ' || last_step || ' ' || "
                     "best_value || ' ' || best_step FROM metric_summary WHERE key = 'acc'"),
            "max 3 0.5 2 0.9 1");
  EXPECT_EQ(Text(db, "SELECT status FROM runs WHERE trial_id = 7"), "FINISHED");
}

TEST(LogTest, MigratesVersion3ToPerImageResultsKeepingRows) {
  const std::string path = NewTempDir("log") + "/v3.sqlite";
  {
    ExperimentLog::Options o;
    o.target_version = 3;
    absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path, o);
    ASSERT_TRUE(log.ok()) << log.status();
  }
  RawExec(path,
          "INSERT INTO sweeps VALUES (1, 's', '{}', 0, 1, 0);"
          "INSERT INTO trials (id, sweep_id, ordinal, seed, config_json, config_hash, point_hash, "
          "status, attempts) VALUES (7, 1, 0, 3, '{}', 'h', 'p', 'FINISHED', 1);"
          "INSERT INTO coco_results (id, trial_id, attempt, step, split, wall_time, segm_AP) "
          "VALUES (5, 7, 1, 10, 'val', 1, 0.25);");
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  Db& db = log->db();
  EXPECT_EQ(Int(db, "PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(Text(db, "SELECT segm_AP FROM coco_results WHERE id = 5"), "0.25");
  EXPECT_EQ(Int(db, "SELECT COUNT(*) FROM coco_per_image"), 0);  // older evaluations have none
  ASSERT_TRUE(db.Exec("INSERT INTO coco_per_image VALUES (5, 'segm', 'a.pie', 50, 120)").ok());
  EXPECT_FALSE(db.Exec("INSERT INTO coco_per_image VALUES (5, 'mask', 'b.pie', 50, 120)").ok());
}

TEST(LogTest, MigratesVersion2ToSchedulerStatusesKeepingRows) {
  const std::string path = NewTempDir("log") + "/v2.sqlite";
  {
    ExperimentLog::Options o;
    o.target_version = 2;
    absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path, o);
    ASSERT_TRUE(log.ok()) << log.status();
  }
  RawExec(path,
          "INSERT INTO sweeps VALUES (1, 's', '{}', 0, 1, 0);"
          "INSERT INTO trials (id, sweep_id, ordinal, seed, config_json, config_hash, point_hash, "
          "status, attempts, failures, error, dataset_hash) VALUES (7, 1, 0, 3, '{}', 'h', 'p', "
          "'FAILED', 2, 1, 'boom', 'D');"
          "INSERT INTO attempts (trial_id, attempt, status, started_at) VALUES (7, 1, 'FAILED', 1);"
          "INSERT INTO metrics VALUES (7, 1, 'loss', 0, 0, 3.0, 1);"
          "INSERT INTO checkpoints (trial_id, attempt, step, tag, path, wall_time) "
          "VALUES (7, 1, 0, 'last', '/c.pt', 1);");
  // A v2 file refuses the scheduler's statuses.
  {
    absl::StatusOr<Db> raw = Db::Open(path, Db::kReadWrite);
    ASSERT_TRUE(raw.ok()) << raw.status();
    EXPECT_FALSE(raw->Exec("UPDATE trials SET status = 'PAUSED' WHERE id = 7").ok());
  }
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  Db& db = log->db();
  EXPECT_EQ(Int(db, "PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(Text(db, "SELECT status || ' ' || attempts || ' ' || failures || ' ' || seed || ' ' || "
                     "error || ' ' || dataset_hash || ' ' || target_rung FROM trials WHERE id = 7"),
            "FAILED 2 1 3 boom D 0");
  EXPECT_EQ(Int(db, "SELECT COUNT(*) FROM metrics WHERE trial_id = 7"), 1);
  EXPECT_EQ(Int(db, "SELECT COUNT(*) FROM checkpoints WHERE trial_id = 7"), 1);
  EXPECT_EQ(Int(db, "PRAGMA foreign_keys"), 1);
  EXPECT_EQ(Int(db, "SELECT COUNT(*) FROM pragma_foreign_key_check"), 0);
  ASSERT_TRUE(db.Exec("UPDATE trials SET status = 'PAUSED' WHERE id = 7").ok());
  ASSERT_TRUE(db.Exec("UPDATE trials SET status = 'PRUNED' WHERE id = 7").ok());
  EXPECT_FALSE(db.Exec("UPDATE trials SET status = 'SLEEPING' WHERE id = 7").ok());
  EXPECT_EQ(Text(db, "SELECT status FROM runs WHERE trial_id = 7"), "PRUNED");
}

TEST(LogTest, RejectsSqliteFileThatIsNotOurs) {
  const std::string dir = NewTempDir("log");
  const std::string other = dir + "/other.sqlite";
  RawExec(other, "CREATE TABLE photos (id INTEGER); INSERT INTO photos VALUES (1);");
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(other);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(log.status().message().find("not an experiment log"), std::string::npos)
      << log.status();
  EXPECT_NE(log.status().message().find(other), std::string::npos);
  // Left untouched.
  absl::StatusOr<Db> raw = Db::Open(other, Db::kReadOnly);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(Int(*raw, "SELECT COUNT(*) FROM sqlite_master"), 1);

  const std::string tagged = dir + "/tagged.sqlite";
  RawExec(tagged, "PRAGMA application_id = 1234;");
  log = ExperimentLog::Open(tagged);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("0x000004d2"), std::string::npos) << log.status();
}

TEST(LogTest, RejectsFileThatIsNotADatabase) {
  const std::string path = NewTempDir("log") + "/notes.sqlite";
  std::ofstream(path) << "these are my notes, not a database, but long enough to have a header\n"
                      << std::string(200, 'x');
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("not an experiment log"), std::string::npos)
      << log.status();
}

TEST(LogTest, RejectsSchemaNewerThanCode) {
  const std::string path = NewTempDir("log") + "/new.sqlite";
  ASSERT_TRUE(ExperimentLog::Open(path).ok());
  RawExec(path, "PRAGMA user_version = " + std::to_string(kSchemaVersion + 1));
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(log.status().message().find("newer than this build"), std::string::npos)
      << log.status();
  EXPECT_NE(log.status().message().find(std::to_string(kSchemaVersion + 1)), std::string::npos);
}

TEST(LogTest, ReadOnlyOpenOfMissingOrOldLogSaysSo) {
  const std::string dir = NewTempDir("log");
  ExperimentLog::Options ro;
  ro.mode = Db::kReadOnly;
  EXPECT_FALSE(ExperimentLog::Open(dir + "/missing.sqlite", ro).ok());
  ExperimentLog::Options v1;
  v1.target_version = 1;
  ASSERT_TRUE(ExperimentLog::Open(dir + "/v1.sqlite", v1).ok());
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(dir + "/v1.sqlite", ro);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("older"), std::string::npos) << log.status();
}

// A log file the OS will not let us write. Root may write any file, so as root the check runs in a
// child that has given up root.
TEST(LogTest, RejectsReadOnlyFile) {
  char tmpl[] = "/tmp/exp_ro_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string path = dir + "/ro.sqlite";
  ASSERT_TRUE(ExperimentLog::Open(path).ok());
  // Fold the WAL back so the file stands alone.
  RawExec(path, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;");
  ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
  ASSERT_EQ(chmod(path.c_str(), 0444), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(10);
    absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path);
    if (log.ok()) _exit(11);
    if (log.status().code() != absl::StatusCode::kPermissionDenied) _exit(12);
    if (log.status().message().find("read-only") == std::string::npos) _exit(13);
    if (log.status().message().find(path) == std::string::npos) _exit(14);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(WIFEXITED(status));
  // Root in a user namespace may have no other uid to become; then the OS never refuses us a write.
  if (WEXITSTATUS(status) == 10) GTEST_SKIP() << "running as root and cannot drop privileges";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "11: opened, 12: wrong code, 13/14: message lacks the "
                                       "reason or the path";
}

TEST(LogTest, LogInAFolderThatCannotBeWrittenSaysSoAndReadsStillWork) {
  char tmpl[] = "/tmp/exp_rodir_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string path = dir + "/log.sqlite";
  {
    absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path);  // a WAL-mode log
    ASSERT_TRUE(log.ok()) << log.status();
    MakeSweep(log->db(), "kept", 2);
  }  // the last connection removes the -wal and -shm files
  ASSERT_FALSE(std::filesystem::exists(path + "-shm"));
  ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
  ASSERT_EQ(chmod(path.c_str(), 0666), 0);  // the file may be written, its folder may not
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(10);
    std::string report;
    absl::StatusOr<ExperimentLog> rw = ExperimentLog::Open(path);
    report += rw.ok() ? "rw opened" : std::string(rw.status().message());
    report += "\n";
    absl::StatusOr<ExperimentLog> ro = ExperimentLog::Open(path, {Db::kReadOnly});
    if (ro.ok()) {
      absl::StatusOr<SqlValue> n = ro->db().QueryValue("SELECT COUNT(*) FROM trials");
      report += n.ok() ? "ro trials " + SqlValueText(*n) : std::string(n.status().message());
    } else {
      report += std::string(ro.status().message());
    }
    ssize_t ignored = write(fds[1], report.data(), report.size());
    (void)ignored;
    _exit(0);
  }
  close(fds[1]);
  std::string report;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) report.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 10) GTEST_SKIP() << "running as root and cannot drop privileges";
  // Writing: the reason is the folder (SQLite keeps -wal and -shm there), not "not an experiment log".
  EXPECT_NE(report.find(path + ": its folder " + dir + " cannot be written"), std::string::npos) << report;
  EXPECT_EQ(report.find("not an experiment log"), std::string::npos) << report;
  // Reading (compare) works all the same.
  EXPECT_NE(report.find("ro trials 2"), std::string::npos) << report;
}

TEST(LogTest, FoldersAndForeignDatabasesGetClearMessages) {
  const std::string dir = NewTempDir("msgs");
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(dir);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().message(), dir + ": is a folder; give the log's file path, e.g. " + dir +
                                        "/experiments.sqlite");
  log = ExperimentLog::Open(dir, {Db::kReadOnly});
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("is a folder"), std::string::npos) << log.status();
  const std::string other = dir + "/other.sqlite";
  RawExec(other, "CREATE TABLE photos (id INTEGER); PRAGMA application_id = 5;");
  // Read-only (compare) has nothing to refuse to write.
  log = ExperimentLog::Open(other, {Db::kReadOnly});
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("not an experiment log"), std::string::npos) << log.status();
  EXPECT_EQ(log.status().message().find("refusing to write"), std::string::npos) << log.status();
}

TEST(TrialApiTest, ParsesAndRendersItsCommandLine) {
  TrialArgs a;
  a.config_path = "/r/config.json";
  a.seed = 4;
  a.trial_dir = "/r";
  a.db_path = "/db.sqlite";
  a.trial_id = 9;
  a.attempt = 2;
  a.threads = 1;
  absl::StatusOr<TrialArgs> b = ParseTrialArgs(a.ToArgs());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->config_path, "/r/config.json");
  EXPECT_EQ(b->seed, 4);
  EXPECT_EQ(b->trial_id, 9);
  EXPECT_EQ(b->attempt, 2);
  std::vector<std::string> bad = a.ToArgs();
  bad.push_back("--bogus=1");
  EXPECT_NE(ParseTrialArgs(bad).status().message().find("--bogus"), std::string::npos);
  bad = a.ToArgs();
  bad.erase(bad.begin());
  EXPECT_NE(ParseTrialArgs(bad).status().message().find("--config is missing"), std::string::npos);
  bad = a.ToArgs();
  bad[1] = "--seed=four";
  EXPECT_NE(ParseTrialArgs(bad).status().message().find("not an integer"), std::string::npos);
}

TEST(TrialApiTest, LogsMetricsCocoAndCheckpointsForTheRunningAttemptOnly) {
  const std::string path = NewTempDir("log") + "/t.sqlite";
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  const int64_t sweep = MakeSweep(log->db(), "api", 1);
  absl::StatusOr<std::optional<Claim>> claim = ClaimNext(log->db(), sweep, Policy());
  ASSERT_TRUE(claim.ok() && claim->has_value());
  const int64_t id = (*claim)->trial_id;
  EXPECT_EQ((*claim)->attempt, 1);

  EXPECT_EQ(TrialLog::Open(path, id, 2).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(TrialLog::Open(path, 999, 1).status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<TrialLog> t = TrialLog::Open(path, id, 1);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE(t->SetTotalSteps(3).ok());
  ASSERT_TRUE(t->SetBuild({"opt", "1.13.1", "none"}).ok());
  ASSERT_TRUE(t->SetDataset("shapes", "abc123").ok());
  for (int step = 0; step < 3; ++step) {
    ASSERT_TRUE(t->LogMetric("loss", step, 0, 1.0 / (step + 1)).ok());
  }
  EXPECT_FALSE(t->LogMetric("loss", 3, 0, 1.0, "sideways").ok());
  CocoResult coco;
  coco.segm.emplace();
  for (int i = 0; i < 12; ++i) coco.segm->stats[i] = 0.1 * i;
  coco.segm->per_class = {{1, "circle", 0.25}, {2, "it's a \"square\"", 0.75}};
  ASSERT_TRUE(t->LogCoco(3, 0, coco).ok());
  EXPECT_FALSE(t->LogCoco(3, 0, CocoResult()).ok());
  // With per-image results: a side file beside the log (this trial has no trial_dir), referenced
  // by a relative path, that reads back equal.
  auto per_image = std::make_shared<mrcnn::eval::PerImageEval>();
  per_image->img_ids = {4, 9};
  per_image->cat_ids = {1};
  per_image->iou_thrs = {0.5};
  per_image->rec_thrs = {0, 0.5, 1};
  per_image->max_dets = {100};
  per_image->area_rng = {{0, 1e10}};
  per_image->area_rng_lbl = {"all"};
  per_image->cells = {{0, 1, {0.9, 0.4}, {1}, {1, 0}}};
  coco.segm->per_image = per_image;
  ASSERT_TRUE(t->LogCoco(4, 0, coco).ok());
  EXPECT_EQ(Text(log->db(), "SELECT path || ' ' || images || ' ' || detections FROM coco_per_image"),
            "per_image/trial_" + std::to_string(id) + "/attempt1_step4_segm.pie 2 2");
  absl::StatusOr<std::shared_ptr<const mrcnn::eval::PerImageEval>> back = mrcnn::eval::LoadPerImageEval(
      std::filesystem::path(path).parent_path().string() + "/per_image/trial_" + std::to_string(id) +
      "/attempt1_step4_segm.pie");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->cells[0].scores, per_image->cells[0].scores);
  EXPECT_EQ((*back)->img_ids, per_image->img_ids);
  coco.segm->per_image = nullptr;
  ASSERT_TRUE(t->LogCheckpoint(3, "last", "/r/last.ckpt").ok());

  Db& db = log->db();
  EXPECT_EQ(Int(db, "SELECT COUNT(*) FROM metrics WHERE key = 'loss'"), 3);
  EXPECT_EQ(Text(db, "SELECT segm_AP50 FROM coco_results WHERE step = 3"), "0.1");
  EXPECT_EQ(Text(db, "SELECT segm_ARl FROM runs WHERE trial_id = " + std::to_string(id)), "1.1");
  EXPECT_EQ(Text(db, "SELECT bbox_AP FROM runs"), "");  // no bbox logged: NULL, not 0
  EXPECT_EQ(Text(db, "SELECT final_loss FROM runs"), "0.333333");
  EXPECT_EQ(Text(db, "SELECT class_name FROM coco_class_ap WHERE class_id = 2"),
            "it's a \"square\"");
  EXPECT_EQ(Text(db, "SELECT best_step FROM metric_last WHERE key = 'loss'"), "2");
  EXPECT_EQ(Text(db, "SELECT last_value FROM metric_last WHERE key = 'segm_AP75'"), "0.2");
  EXPECT_EQ(Text(db, "SELECT path FROM checkpoints"), "/r/last.ckpt");
  EXPECT_EQ(Text(db, "SELECT dataset_hash || ' ' || compilation_mode FROM runs"), "abc123 opt");

  // Once the coordinator has finished the attempt, the trial can no longer write.
  ASSERT_TRUE(FinishAttempt(db, id, 1, kFinished, 0, "").ok());
  absl::Status late = t->LogMetric("loss", 4, 0, 0.1);
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(late.message().find("not the running attempt"), std::string::npos) << late;
  EXPECT_EQ(Int(db, "SELECT COUNT(*) FROM metrics WHERE key = 'loss'"), 3);
}

// Two processes append metrics to the same file at once; every row arrives.
TEST(ConcurrencyTest, TwoProcessesLogAtOnce) {
  const std::string path = NewTempDir("log") + "/c.sqlite";
  std::vector<int64_t> ids;
  {
    absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path);
    ASSERT_TRUE(log.ok());
    const int64_t sweep = MakeSweep(log->db(), "conc", 2);
    for (int i = 0; i < 2; ++i) {
      absl::StatusOr<std::optional<Claim>> c = ClaimNext(log->db(), sweep, Policy());
      ASSERT_TRUE(c.ok() && c->has_value());
      ids.push_back((*c)->trial_id);
    }
  }
  constexpr int kRows = 300;
  std::vector<pid_t> pids;
  for (int64_t id : ids) {
    const pid_t pid = fork();
    if (pid == 0) {
      absl::StatusOr<TrialLog> t = TrialLog::Open(path, id, 1);
      if (!t.ok()) _exit(2);
      for (int s = 0; s < kRows; ++s) {
        if (!t->LogMetrics(s, 0, {{"loss", 1.0 / (s + 1), ""}, {"acc", s * 0.001, ""}}).ok()) _exit(3);
      }
      _exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path);
  ASSERT_TRUE(log.ok());
  for (int64_t id : ids) {
    EXPECT_EQ(Int(log->db(), "SELECT COUNT(*) FROM metrics WHERE trial_id = " + std::to_string(id)),
              2 * kRows);
    EXPECT_EQ(Int(log->db(), "SELECT n FROM metric_summary WHERE key = 'loss' AND trial_id = " +
                                 std::to_string(id)),
              kRows);
  }
}

// Four processes claim from one 40-trial sweep as fast as they can: each trial is claimed once.
TEST(ConcurrencyTest, ClaimsAreAtomicUnderContention) {
  const std::string dir = NewTempDir("log");
  const std::string path = dir + "/claims.sqlite";
  {
    absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path);
    ASSERT_TRUE(log.ok());
    MakeSweep(log->db(), "claims", 40);
  }
  constexpr int kWorkers = 4;
  std::vector<pid_t> pids;
  for (int w = 0; w < kWorkers; ++w) {
    const pid_t pid = fork();
    if (pid == 0) {
      absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path);
      if (!log.ok()) _exit(2);
      std::ofstream out(dir + "/claimed_" + std::to_string(w));
      ClaimPolicy p = Policy();
      p.coordinator_pid = getpid();
      while (true) {
        absl::StatusOr<std::optional<Claim>> c = ClaimNext(log->db(), 1, p);
        if (!c.ok()) _exit(3);
        if (!c->has_value()) break;
        out << (*c)->trial_id << "\n";
        // Finished at once: a claim left RUNNING would be reaped as lost once this process exits.
        if (!FinishAttempt(log->db(), (*c)->trial_id, (*c)->attempt, kFinished, 0, "").ok()) _exit(4);
      }
      out.close();
      _exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  std::map<int64_t, int> seen;
  for (int w = 0; w < kWorkers; ++w) {
    std::ifstream in(dir + "/claimed_" + std::to_string(w));
    int64_t id;
    while (in >> id) ++seen[id];
  }
  EXPECT_EQ(seen.size(), 40u);
  for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << "trial " << id;
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(Int(log->db(), "SELECT COUNT(*) FROM attempts"), 40);
  EXPECT_EQ(Int(log->db(), "SELECT MAX(attempts) FROM trials"), 1);
}

}  // namespace
}  // namespace experiments

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  experiments_test::SetArgs(argc, argv);
  return RUN_ALL_TESTS();
}
