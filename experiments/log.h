// The experiment log: one SQLite file that records every sweep, trial, attempt, config parameter,
// metric, COCO result and checkpoint, so runs stay comparable forever.
//
//   absl::StatusOr<std::string> path = ResolveDbPath(FLAGS_db);   // --db or <workspace>/experiments.sqlite
//   absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(*path);
//   log->db().QueryAll("SELECT * FROM runs WHERE RPN_ANCHOR_STRIDE > 1");
//
// Opening checks that the file is ours (PRAGMA application_id) and not newer than this code (PRAGMA
// user_version), migrates older files in one BEGIN IMMEDIATE transaction, switches the file to WAL and
// (re)creates the comparison views. Tables and views are described in the README (## Experiments).
#ifndef EXPERIMENTS_LOG_H_
#define EXPERIMENTS_LOG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "experiments/sqlite.h"
#include "mrcnn/config/paths.h"
#include "nlohmann/json.hpp"

namespace experiments {

// "MRCX" in ASCII: marks a SQLite file as an experiment log.
inline constexpr int32_t kApplicationId = 0x4D524358;
// Version 1: sweeps, trials, attempts, params, metrics. Version 2: COCO results, per-class AP,
// checkpoints and the per-metric summary (best/last), back-filled from existing metric rows.
// Version 3: the scheduler (PAUSED / PRUNED trials, rungs, attempts that resume earlier ones).
// Version 4: coco_per_image, the per-image matching results' files of each COCO evaluation.
// Version 5: the Slurm launcher (attempts' launcher, job and array index; report ingestion offsets).
inline constexpr int kSchemaVersion = 5;

// The trial statuses, as stored.
inline constexpr char kQueued[] = "QUEUED";
inline constexpr char kRunning[] = "RUNNING";
inline constexpr char kFinished[] = "FINISHED";
inline constexpr char kFailed[] = "FAILED";
inline constexpr char kKilled[] = "KILLED";
inline constexpr char kPaused[] = "PAUSED";  // scheduler: stopped at a rung checkpoint
inline constexpr char kPruned[] = "PRUNED";  // scheduler: its rung closed without promoting it

// --db when given, else $BUILD_WORKSPACE_DIRECTORY/experiments.sqlite under `bazel run` (which changes
// the working directory), else ./experiments.sqlite.
// A relative --db is taken relative to the directory `bazel run` was started in.
std::string ResolveDbPath(const std::string& db_flag);

// A relative path the user typed, made relative to $BUILD_WORKING_DIRECTORY (where `bazel run` was
// started) when that is set; unchanged otherwise (mrcnn/config/paths.h).
using ::mrcnn::ResolveUserPath;

// Seconds since the Unix epoch, with sub-second precision.
double NowSeconds();

class ExperimentLog {
 public:
  struct Options {
    Db::Mode mode = Db::kReadWrite;
    // Migrate only up to this version (tests build old files with it); never above kSchemaVersion.
    int target_version = kSchemaVersion;
  };

  static absl::StatusOr<ExperimentLog> Open(const std::string& path, Options options);
  static absl::StatusOr<ExperimentLog> Open(const std::string& path) {
    return Open(path, Options());
  }

  Db& db() { return db_; }
  const std::string& path() const { return db_.path(); }
  absl::StatusOr<int> SchemaVersion();

 private:
  explicit ExperimentLog(Db db) : db_(std::move(db)) {}
  Db db_;
};

// Converts a JSON value to the value stored in params: integers stay integers, reals stay reals,
// booleans become 0/1, strings stay text, lists and objects become their JSON text.
SqlValue ParamValue(const nlohmann::json& v);

// Whether a metric is better when smaller: "min" for keys containing "loss", else "max".
std::string DefaultGoal(const std::string& key);

// Folds one metric point into metric_summary (count, last value and step, best value and step).
// Called inside the write transaction that inserts the metric row.
absl::Status UpdateMetricSummary(Db& db, int64_t trial_id, int attempt, const std::string& key,
                                 int64_t step, std::optional<int64_t> epoch, double value,
                                 const std::string& goal);

// Names of the columns the `runs` view gets from the trial and COCO tables (lower case), so the config
// keys (upper case) never collide with them.
std::vector<std::string> RunsViewFixedColumns();

}  // namespace experiments

#endif  // EXPERIMENTS_LOG_H_
